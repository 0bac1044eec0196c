# Two commands do all set-up on a fresh machine with Python 3.11, make and pip:
#   make demo   - virtual environment with the pinned requirements, then the embedded demo end to end
#   make test   - the same environment, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo ablations test lint dry-run clean-results

$(VENV)/.installed: envs/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# torch first and pinned: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r envs/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

demo: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)
	@echo "Demo finished: scDEAL metrics in results/scdeal/summary.tsv (interpretation beside each model),"
	@echo "CODE-AE benchmark in results/codeae/benchmark.tsv, figures in results/figures/, logs in logs/."

ablations: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) scdeal_evaluation
	@echo "Ablations finished: results/scdeal/ablations.tsv, ablations_summary.tsv, results/figures/scdeal/ablations.png."

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

dry-run: $(VENV)/.installed
	$(BIN)/snakemake -n --quiet rules

clean-results:
	rm -rf results logs benchmarks/rules .snakemake
