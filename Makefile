# Two commands do all set-up on a fresh machine with Python 3.11, make and pip:
#   make demo   - virtual environment with the pinned requirements, then the embedded demo end to end
#   make test   - the same environment, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo ablations report test lint dry-run clean-results envs bench

# The environment is built WITH dependency resolution, held to the exact pins of
# envs/requirements.txt, so a dependency without a pin, or a range that excludes its pin, fails
# here (and with it `make demo` / `make test`) instead of being hidden by `pip install --no-deps`;
# an import that pyproject.toml does not declare fails tests/test_packaging.py.
$(VENV)/.installed: envs/requirements.txt pyproject.toml envs/sync_environment.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# torch first and pinned: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0 -c envs/requirements.txt
	$(BIN)/python -m pip install --quiet -r envs/requirements.txt
	@# drugshift and its extras, dependencies resolved against the pins: a range that excludes a pin fails,
	$(BIN)/python -m pip install --quiet -e ".[workflow,test]" -c envs/requirements.txt
	@# anything installed without a pin (a dependency missing from requirements.txt) fails,
	$(BIN)/python envs/sync_environment.py --check-installed
	@# and so does any broken requirement.
	$(BIN)/python -m pip check
	touch $@

# Rewrite envs/environment.yaml (the rules' conda environment) from envs/requirements.txt.
envs:
	$(PYTHON) envs/sync_environment.py

demo: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)
	@echo "Demo finished: scDEAL metrics in results/scdeal/summary.tsv (interpretation beside each model),"
	@echo "CODE-AE benchmark in results/codeae/benchmark.tsv, figures in results/figures/ (the papers' panels in"
	@echo "results/figures/paper/, what this config cannot draw in MISSING.tsv there), logs in logs/; make report for the HTML report."

# The demo (made first, if it is not up to date), then every paper panel and table in one HTML file.
report: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html
	@echo "Report: results/report.html (open it in a browser); paper panels in results/figures/paper/,"
	@echo "the panels this config cannot draw, with the reason, in results/figures/paper/MISSING.tsv."

# The demo with its scDEAL evaluation in rule all (config/evaluation.yaml): the ablation tables and
# the paper panels drawn from them (scDEAL Fig. 2b, 2c, the subsampling box plots).
ablations: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/evaluation.yaml
	@echo "Ablations finished: results/scdeal/ablations.tsv, ablations_summary.tsv, results/figures/scdeal/ablations.png,"
	@echo "and scDEAL Fig. 2b, 2c and the subsampling panel in results/figures/paper/."

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# On-demand benchmarks (never in CI; hours on 2 cores, run on an idle machine): drugshift next to the
# published scDEAL code, scaling with cells / genes / drugs, a profile, then benchmarks/README.md.
bench: $(VENV)/.installed
	nice $(BIN)/python benchmarks/bench_reference.py --dataset all --mode all
	nice $(BIN)/python benchmarks/bench_scaling.py
	nice $(BIN)/python benchmarks/bench_drugs.py
	nice $(BIN)/python benchmarks/bench_drugs.py --genes 300
	nice $(BIN)/python benchmarks/profile_scdeal.py
	nice $(BIN)/python benchmarks/profile_scdeal.py --cells 30000 --epochs 2
	nice $(BIN)/python benchmarks/summarise.py

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

dry-run: $(VENV)/.installed
	$(BIN)/snakemake -n --quiet rules

clean-results:
	rm -rf results logs benchmarks/rules .snakemake
