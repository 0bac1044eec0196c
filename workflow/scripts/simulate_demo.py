"""Rule simulate_demo: write the demo world's raw files."""

from pathlib import Path

from drugshift import runlog
from drugshift.simulate import DemoSpec, simulate_demo

log = runlog.start(snakemake.log[0])
outdir = Path(snakemake.output[0]).parents[1]  # results/raw/demo/<source>/<file>
truth = simulate_demo(outdir, DemoSpec.from_dict(snakemake.params.spec))
log.info("demo world written to %s: %d drugs, %d single-cell datasets", outdir, len(truth["drugs"]), len(truth["datasets"]))
missing = [p for p in snakemake.output if not Path(p).exists()]
if missing:
    raise FileNotFoundError(f"the simulator did not write {missing}; check simulate.datasets in the config")
