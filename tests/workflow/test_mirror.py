"""Download + parse rules run for real against a local mirror (http.server on 127.0.0.1) serving files
built from ../shared/data in the upstream layouts: checksums, a corrupted file, a flaky server;
and the offline dry run of config/paper.yaml."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SHARED_DATA, requires_shared_data, snakemake
from conftest import copy_workflow as _copy_workflow
from local_server import LocalServer

pytestmark = pytest.mark.workflow
PC9 = ["geo/GSE147405/GSM4494348_Day11_control.txt.gz", "geo/GSE147405/GSM4494349_Day11_Erlotinib.txt.gz"]
GDSC1 = "gdsc/GDSC1_fitted_dose_response_24Jul22.csv"
GDSC2 = "gdsc/GDSC2_fitted_dose_response_24Jul22.csv"
RMA = "gdsc/Cell_line_RMA_proc_basalExp.txt.zip"
HALLMARK = "genesets/h.all.v7.0.symbols.gmt"
RAW_TAR = "geo/GSE110894/GSE110894_RAW.tar"


def _head_lines(path: Path, n: int) -> bytes:
    with gzip.open(path, "rb") as fh:
        return b"".join(fh.readline() for _ in range(n))


def _geo_subset(path: Path, n_genes: int, n_cells: int) -> bytes:
    """The first genes x cells of a GEO genes x cells matrix, in the same layout (gzip, tab)."""
    lines = _head_lines(path, n_genes + 1).split(b"\n")
    text = b"\n".join(b"\t".join(line.split(b"\t")[: n_cells + 1]) for line in lines if line) + b"\n"
    return gzip.compress(text, mtime=0)


def _build_mirror(root: Path) -> dict[str, bytes]:
    """Upstream-layout files built from the shared copies, cut to small subsets to keep the test
    fast (the full files are parsed in test_io_realdata / test_io_formats); key -> served bytes."""
    d = SHARED_DATA
    files = {key: _geo_subset(d / "geo/GSE147405" / Path(key).name, 3000, 400) for key in PC9}
    files[GDSC1] = _head_lines(d / "gdsc/GDSC1_fitted_dose_response.csv.gz", 3001)
    files[GDSC2] = _head_lines(d / "gdsc/GDSC2_fitted_dose_response.csv.gz", 3001)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Cell_line_RMA_proc_basalExp.txt", _head_lines(d / "gdsc/Cell_line_expression_zscore.txt.gz", 301))
    files[RMA] = buf.getvalue()
    files[HALLMARK] = (d / "genesets/h.all.v7.0.symbols.gmt").read_bytes()
    # a GEO _RAW.tar of per-plate genes x cells tables (the GSE110894 layout), from the PC9 subsets
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, key in (("GSM0000001_P1.counts.txt.gz", PC9[0]), ("GSM0000002_P2.counts.txt.gz", PC9[1])):
            info = tarfile.TarInfo(name)
            info.size = len(files[key])
            tf.addfile(info, io.BytesIO(files[key]))
    files[RAW_TAR] = buf.getvalue()
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return files


def _snakemake(args, cwd, timeout=300):
    return snakemake(args, cwd, timeout, check=False)


@pytest.fixture(scope="module")
def mirror_run(tmp_path_factory):
    if not (SHARED_DATA / PC9[0]).exists():
        pytest.skip("../shared/data/geo/GSE147405 is absent")
    base = tmp_path_factory.mktemp("mirror")
    files = _build_mirror(base / "mirror")
    corrupted = bytearray(files[GDSC2])
    corrupted[100] ^= 0xFF  # the mirror's copy differs from what the manifest pins
    (base / "mirror" / GDSC2).write_bytes(bytes(corrupted))
    server = LocalServer(root=base / "mirror")
    server.fail["/" + PC9[0]] = 2  # answers 500 twice, then the file
    work = _copy_workflow(base / "wf")
    manifest = {"files": {key: {"url": None, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "note": "built from ../shared/data"} for key, data in files.items()}}
    manifest["files"][RAW_TAR]["extract"] = True
    manifest["files"][HALLMARK].update(sha256=None, size=None)  # unknown upstream digest: measured and logged
    (work / "test_manifest.yaml").write_text(yaml.safe_dump(manifest))
    config = {
        "download": {"manifest": "test_manifest.yaml", "mirror": server.url, "retries": 3, "backoff": 0, "timeout": 30},
        "bulk": {"response": [f"results/raw/{GDSC1}"], "expression": {"gdsc": f"results/raw/{RMA}"}},
        "sc": {"datasets": {"PC9": {
            "files": {"control": f"results/raw/{PC9[0]}", "erlotinib": f"results/raw/{PC9[1]}"},
            "format": "geo_counts", "drug": "Erlotinib",
            "label": {"column": "condition", "sensitive": ["control"], "resistant": ["erlotinib"]}},
            "PLATES": {"path": f"results/raw/{RAW_TAR}.d", "format": "geo_counts", "drug": "Erlotinib",
                       "label": {"cell_name_pattern": "^(P[0-9])_", "sensitive": ["P1"], "resistant": ["P2"]}}}},
    }
    (work / "mirror.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/sc/PC9/raw.h5ad", "results/sc/PLATES/raw.h5ad", "results/bulk/response.parquet", f"results/raw/{RMA}",
               f"results/raw/{HALLMARK}", f"results/raw/{GDSC2}"]
    # One run; --keep-going lets every other job finish after the corrupted file fails.
    run = _snakemake([*targets, "--cores", "2", "--keep-going", "--configfile", "mirror.yaml"], work)
    yield work, files, server, run
    server.close()


@requires_shared_data
def test_download_and_parse_through_the_mirror(mirror_run):
    work, files, server, run = mirror_run
    assert run.returncode != 0  # the corrupted file
    assert "Exiting because a job execution failed" in run.stderr, run.stderr[-5000:]
    for key, data in files.items():
        if key == GDSC2:
            continue
        got = work / "results/raw" / key
        assert got.read_bytes() == data, key
        assert (work / "results/raw" / f"{key}.sha256").read_text().split()[0] == hashlib.sha256(data).hexdigest()
    cells = ad.read_h5ad(work / "results/sc/PC9/raw.h5ad")
    assert cells.n_obs == 800 and 3000 <= cells.n_vars <= 6000
    assert cells.obs["response"].value_counts().to_dict() == {0.0: 400, 1.0: 400}
    assert cells.obs_names[0] == "control:CGGACATTTTTC" and cells.X.sum() > 0
    plates = ad.read_h5ad(work / "results/sc/PLATES/raw.h5ad")  # downloaded, extracted, read file by file
    extracted = sorted(p.name for p in (work / f"results/raw/{RAW_TAR}.d").iterdir() if not p.name.startswith("."))
    assert extracted == ["GSM0000001_P1.counts.txt.gz", "GSM0000002_P2.counts.txt.gz"]
    assert plates.obs_names[0] == "P1_CGGACATTTTTC" and plates.n_obs == 800
    assert plates.obs["response"].value_counts().to_dict() == {0.0: 400, 1.0: 400}
    assert plates.X.sum() == cells.X.sum()
    response = pd.read_parquet(work / "results/bulk/response.parquet")
    assert 0 < len(response) <= 3000 and set(response["dataset"]) == {"GDSC1"}
    log = (work / "logs/download/genesets/h.all.v7.0.symbols.gmt.log").read_text()
    assert hashlib.sha256(files[HALLMARK]).hexdigest() in log and "pin it" in log


@requires_shared_data
def test_flaky_mirror_is_retried(mirror_run):
    work, _, server, _ = mirror_run
    assert server.requests["/" + PC9[0]] == 3  # two HTTP 500 answers, then the file
    log = (work / f"logs/download/{PC9[0]}.log").read_text()
    assert log.count("HTTP 500") == 2 and "retrying" in log


@requires_shared_data
def test_corrupted_file_fails_clearly_and_leaves_nothing(mirror_run):
    work, files, _, run = mirror_run
    assert run.returncode != 0
    log = (work / f"logs/download/{GDSC2}.log").read_text()
    expected = hashlib.sha256(files[GDSC2]).hexdigest()
    assert GDSC2 in log and "sha256 mismatch" in log and f"expected {expected}" in log and "got " in log
    folder = work / "results/raw/gdsc"
    assert not (folder / Path(GDSC2).name).exists()
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporary file left behind"


_OFFLINE = """
import socket, sys
def _refuse(*args, **kwargs):
    raise OSError("network access during the dry run")
_connect = socket.socket.connect
def _connect_local_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse()
    return _connect(self, address)
socket.socket.connect = _connect_local_only
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[1:]
main()
"""


def test_paper_dry_run_offline_lists_every_dataset_and_cohort(tmp_path):
    work = _copy_workflow(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _OFFLINE, "-n", "--configfile", "config/paper.yaml"], cwd=work,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    datasets = list(paper["sc"]["datasets"])
    assert {"GSE110894", "GSE117872_HN120", "GSE117872_HN137", "GSE149383", "GSE140440", "GSE112274"} == set(datasets)
    for ds in datasets:
        assert f"results/sc/{ds}/raw.h5ad" in out and f"results/scdeal/{ds}/" in out, ds
    for cohort in ("tcga", "pdtc"):
        assert f"results/patients/{cohort}/expression.parquet" in out, cohort
    for rule in ("download", "extract_archive", "tidy_bulk_response", "tidy_bulk_expression",
                 "tidy_cohort", "cohort_labels", "train_scdeal"):
        assert f"rule {rule}:" in out or f"localrule {rule}:" in out, rule
    assert "GSEDEMO" not in out  # the demo config is replaced, not merged
