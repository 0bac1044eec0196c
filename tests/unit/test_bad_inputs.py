"""One suite of bad inputs: each case builds a small input in ``tmp_path``, feeds it to
the first library function that sees it in the workflow (a reader, the tidy/preprocess step, the
config check, the download or extraction), and states what must come out: the exception type and
the words of its message (the file or dataset and the culprit: gene, cell, key, member), or, for
inputs accepted on purpose, the words of the logged warning that says why.

Every case fails before any training job. Malformed-file cases of the parsers that already existed
live in ``test_io.BAD_FILES`` (counted in the summary, not repeated here); config cases check a
copy of ``config/config.yaml`` with :func:`drugshift.params.check_config`, as ``snakemake -n`` does.
"""

from __future__ import annotations

import copy
import errno
import gzip
import io
import logging
import re
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
import yaml

from drugshift import download
from drugshift.download import Entry
from drugshift.errors import InputError, WriteError
from drugshift.io import depmap, gdsc, geo, pdtc, tcga
from drugshift.io.sc_formats import dataset_labels, read_h5ad, read_mtx_10x
from drugshift.io.values import check_declared_values
from drugshift.params import ConfigError, check_config
from drugshift.preprocess import QCParams, align_to_bulk, qc_and_normalise
from local_server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
CASES: list = []


def case(id: str, expect: type[BaseException] | None, *words: str):
    """Register a bad input: ``expect`` the exception type (None: accepted with a logged
    warning), ``words`` regular expressions its message must match."""
    def register(make):
        CASES.append(pytest.param(make, expect, words, id=id))
        return make
    return register


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


# ------------------------------------------------------------------ readers: NaN / inf at the boundary


@case("h5ad-nan", InputError, r"a\.h5ad: missing value .* at cell 'c1', gene 'g2'")
def _(env):
    X = np.array([[1, np.nan, 0], [2, 3, 4]], dtype=np.float32)
    ad.AnnData(X=X, obs=pd.DataFrame(index=["c1", "c0"]), var=pd.DataFrame(index=["g0", "g2", "g1"])) \
        .write_h5ad(env.tmp / "a.h5ad")
    read_h5ad(env.tmp / "a.h5ad")


@case("h5ad-sparse-inf", InputError, r"s\.h5ad: infinite value inf in X at cell 'c1', gene 'g0'")
def _(env):
    X = sp.csr_matrix(np.array([[0, 1], [np.inf, 0]], dtype=np.float32))
    ad.AnnData(X=X, obs=pd.DataFrame(index=["c0", "c1"]), var=pd.DataFrame(index=["g0", "g1"])) \
        .write_h5ad(env.tmp / "s.h5ad")
    read_h5ad(env.tmp / "s.h5ad")


@case("mtx-10x-nan", InputError, r"matrix\.mtx: missing value .* at cell 'BC2', gene 'GENE1'")
def _(env):
    folder = env.tmp / "10x"
    folder.mkdir()
    scipy.io.mmwrite(folder / "matrix.mtx", sp.coo_matrix(np.array([[1.0, np.nan], [0, 2]])))
    write(folder / "features.tsv", "E1\tGENE1\nE2\tGENE2\n")
    write(folder / "barcodes.tsv", "BC1\nBC2\n")
    read_mtx_10x(folder)


# bulk and cohort tables: genes with a few NAs are dropped with a warning (drop_genes_with_missing)


GDSC_HEADER = "GENE_SYMBOLS\tGENE_title\tDATA.906794\tDATA.687452\n"


def _gdsc_rows(n: int, hole: tuple[int, int] | None = None, value: str = "NA") -> str:
    rows = []
    for i in range(n):
        vals = [f"{5 + i * 0.01:.2f}", f"{6 + i * 0.01:.2f}"]
        if hole and hole[0] == i:
            vals[hole[1]] = value
        rows.append(f"G{i}\tt\t" + "\t".join(vals))
    return GDSC_HEADER + "\n".join(rows) + "\n"


GDSC_RESPONSE = "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_NAME,LN_IC50,AUC\nGDSC2,906794,A,Erlotinib,2.1,0.9\n"

#: Files a reader must reject: (id, reader, file name, content, words of the InputError).
FILE_CASES = [
    ("geo-counts-nan", geo.read_geo_counts, "n.txt", "GENE\tc1\tc2\nA\t1\t2\nB\t1\tnan\n",
     r"n\.txt: line 3 \(gene 'B', cell 'c2'\): missing value 'nan'"),
    ("geo-counts-inf", geo.read_geo_counts, "i.csv", "GENE,c1,c2\nA,inf,2\n",
     r"i\.csv: line 2 \(gene 'A', cell 'c1'\): infinite value 'inf'"),
    ("geo-counts-nan-gz", geo.read_geo_counts, "z.txt.gz", "GENE\tAAAC-1\tAAAG-1\nMT-CO1\tNaN\t2\nA\t0\t3\n",
     r"z\.txt\.gz: .*gene 'MT-CO1', cell 'AAAC-1'.*missing value 'NaN'"),
    ("cell-table-na", geo.read_cell_table, "t.csv", "cell,G1,G2\nc1,0.5,-1.2\nc2,NA,0.3\n",
     r"t\.csv: missing value .* at cell 'c2', gene 'G1'"),
    ("cell-table-inf", geo.read_cell_table, "t.tsv", "cell\tG1\tG2\nc1\t0.5\tinf\n",
     r"t\.tsv: infinite value inf .* at cell 'c1', gene 'G2'"),
    ("gdsc-expression-many-na", gdsc.read_gdsc_expression, "e.txt",
     GDSC_HEADER + "".join(f"G{i}\tt\t5\t\n" for i in range(5)),
     r"e\.txt: missing value .* at gene 'G0', cell-line column 'DATA\.687452'"),
    ("gdsc-expression-inf", gdsc.read_gdsc_expression, "e.txt", _gdsc_rows(10, (7, 0), "inf"),
     r"e\.txt: infinite value inf .* at gene 'G7', cell-line column 'DATA\.906794'"),
    ("depmap-expression-inf", depmap.read_depmap_expression, "c.csv", ",A (1),B (2)\nACH-1,1,2\nACH-2,3,-inf\n",
     r"c\.csv: infinite value -inf .* at cell_line 'ACH-2', gene 'B \(2\)'"),
    ("xena-many-na", tcga.read_xena_matrix, "x.tsv", "sample\tS1\tS2\nG1\t1\t\nG2\t2\tNA\n",
     r"x\.tsv: missing value .* at gene 'G1', sample 'S2'"),
    ("gdsc-response-na-auc", gdsc.read_gdsc_response, "r.csv", GDSC_RESPONSE + "GDSC2,687452,B,Erlotinib,1.5,\n",
     r"r\.csv: missing value in column 'AUC' at data row 2 \(COSMIC_ID '687452', DRUG_NAME 'Erlotinib'\)"),
    ("gdsc-response-inf-ic50", gdsc.read_gdsc_response, "r.csv", GDSC_RESPONSE + "GDSC2,687452,B,Erlotinib,-inf,0.7\n",
     r"r\.csv: infinite value -inf in column 'LN_IC50' at data row 2 \(COSMIC_ID '687452'"),
    ("pdtc-response-na-auc", pdtc.read_pdtc_response, "d.txt", "Model\tDrug\tAUC\tiC50\nHCI001\tJQ1\tNA\t2\n",
     r"d\.txt: missing value in column 'AUC' at data row 1 \(Model 'HCI001', Drug 'JQ1'\)"),
    ("prism-inf-auc", depmap.read_prism_auc, "p.csv", "depmap_id,name,auc\nACH-1,JQ1,inf\n",
     r"p\.csv: infinite value inf in column 'auc' at data row 1 \(depmap_id 'ACH-1', name 'JQ1'\)"),
]
for _id, _reader, _name, _text, _words in FILE_CASES:
    case(_id, InputError, _words)(lambda env, r=_reader, n=_name, t=_text: r(write(env.tmp / n, t)))


@case("gdsc-expression-one-na-dropped", None, r"e\.txt: 1 of 40 genes have missing values .*left out \('G3'\)")
def _(env):
    out = gdsc.read_gdsc_expression(write(env.tmp / "e.txt", _gdsc_rows(40, (3, 1))))
    assert out.shape == (2, 39) and "G3" not in out.columns


@case("pdtc-expression-one-na-dropped", None, r"p\.csv: 1 of 30 genes .* \('G5'\)")
def _(env):
    genes = [f"G{i}" for i in range(30)]
    rows = [",".join(["M1"] + ["0.1"] * 30), ",".join(["M2"] + ["0.2"] * 5 + [""] + ["0.3"] * 24)]
    out = pdtc.read_pdtc_expression(write(env.tmp / "p.csv", "," + ",".join(genes) + "\n" + "\n".join(rows) + "\n"))
    assert "G5" not in out.columns and out.shape == (2, 29)


# ------------------------------------------------------------------ declared values vs the data


def _counts(seed=0, n_cells=30, n_genes=80) -> np.ndarray:
    x = np.random.default_rng(seed).poisson(3.0, (n_cells, n_genes)).astype(np.float32)
    x[0, 0] = 8412  # a highly expressed gene: raw counts have maxima in the hundreds or more
    return x


def _lognorm() -> np.ndarray:
    x = _counts()
    return np.log1p(x / x.sum(1, keepdims=True) * 1e4).astype(np.float32)


@case("counts-declared-normalised", InputError, r"GSEX: declared values: normalised, but .*non-negative integers "
      r"\(max 8,412, all integers, no negatives\).*declare values: counts")
def _(env):
    check_declared_values(sp.csr_matrix(_counts()), "normalised", "GSEX")


@case("log-declared-counts", InputError, r"GSEX: declared values: counts, but the data look log-transformed "
      r"\(max 9\.\d+.*non-integer.*logged a second time")
def _(env):
    check_declared_values(_lognorm(), "counts", "GSEX")


@case("log-declared-tpm", InputError, r"GSEX: declared values: tpm, but the data look log-transformed")
def _(env):
    check_declared_values(_lognorm(), "tpm", "GSEX")


@case("zscores-declared-counts", InputError, r"GSEX: declared values: counts, but the data hold negative values.*"
      r"z-scores.*declare values: normalised")
def _(env):
    x = _lognorm()
    check_declared_values((x - x.mean(0)) / (x.std(0) + 1), "counts", "GSEX")


@case("estimated-counts-declared-counts", None, r"GSEX: declared values: counts, but the data are not integers "
      r"\(max 8,412.*QC and normalisation proceed")
def _(env):
    check_declared_values(_counts() * 1.0 + np.float32(0.25) * (_counts() > 0), "counts", "GSEX")


@case("unlogged-tpm-declared-normalised", None, r"GSEX: declared values: normalised, but the maximum is beyond "
      r"log scale.*declare values: tpm or fpkm")
def _(env):
    x = _counts()
    check_declared_values(x / x.sum(1, keepdims=True) * 1e6, "normalised", "GSEX")


@case("counts-declared-normalised-at-qc", InputError, r"GSEDEMO1: declared values: normalised.*raw counts")
def _(env):
    cells = ad.AnnData(X=sp.csr_matrix(_counts()), uns={"values": "normalised"})
    qc_and_normalise(cells, QCParams(normalised=True), name="GSEDEMO1")


@case("nan-in-counts-at-qc", InputError, r"GSEDEMO1: missing value .* at cell '4', gene '2'; 1 non-finite")
def _(env):
    x = _counts()
    x[4, 2] = np.nan  # before: the cell was dropped silently and counted as high-mito
    qc_and_normalise(ad.AnnData(X=x, uns={"values": "counts"}), QCParams(), name="GSEDEMO1")


@case("few-genes-after-orthologs", ValueError,
      r"GSEM: QC removed every cell \(30 in\).*only 80 genes in all.*orthologs")
def _(env):
    qc_and_normalise(ad.AnnData(X=_counts(), uns={"values": "counts"}), QCParams(min_genes=200), name="GSEM")


@case("cells-by-genes-read-as-geo-counts", ValueError, r"only 0 genes shared.*20 of the cell ids are bulk gene "
      r"symbols: the matrix looks transposed.*cells_by_genes is cells x genes")
def _(env):
    genes = [f"G{i}" for i in range(20)]
    bulk = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 20)), columns=genes)
    cells = ad.AnnData(X=np.ones((20, 4), dtype=np.float32), obs=pd.DataFrame(index=genes),
                       var=pd.DataFrame(index=["c1", "c2", "c3", "c4"]))
    align_to_bulk(cells, bulk)


# ------------------------------------------------------------------ ground truth where it is built


def _conditions(values: list[str]) -> ad.AnnData:
    return ad.AnnData(X=np.zeros((len(values), 1), dtype=np.float32),
                      obs=pd.DataFrame({"condition": values}, index=[f"c{i}" for i in range(len(values))]))


@case("label-values-match-no-cell", InputError, r"sensitive \['dmso'\] matched no cell.*column 'condition' has "
      r"DMSO \(3\), resistant \(2\).*did you mean 'DMSO'")
def _(env):
    dataset_labels(_conditions(["DMSO"] * 3 + ["resistant"] * 2),
                   {"column": "condition", "sensitive": ["dmso"], "resistant": ["resistant"]})


@case("label-one-class", InputError, r"resistant \['holiday'\] matched no cell, so the ground truth has one class; "
      r"column 'condition' has parental \(4\)")
def _(env):
    dataset_labels(_conditions(["parental"] * 4),
                   {"column": "condition", "sensitive": ["parental"], "resistant": ["holiday"]})


@case("label-pattern-matches-nothing", InputError,
      r"cell_name_pattern '\^x_\(\\\\w\+\)' \(in cell ids\) has <missing> \(3\)")
def _(env):
    dataset_labels(_conditions(["a", "b", "c"]), {"cell_name_pattern": r"^x_(\w+)", "sensitive": ["a"],
                                                  "resistant": ["b"]})


# ------------------------------------------------------------------ config, as snakemake -n checks it


BASE_CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _config(edit) -> None:
    config = copy.deepcopy(BASE_CONFIG)
    edit(config)
    check_config(config)


@case("config-pseudotime-unknown-dataset", ConfigError, r"interpret\.pseudotime\.GSEDEMO3: no such dataset in "
      r"sc\.datasets \(configured: GSEDEMO1, GSEDEMO2\)")
def _(env):
    _config(lambda c: c["interpret"]["pseudotime"].update(GSEDEMO3={"column": "condition", "root": "DMSO"}))


@case("config-scdeal-datasets-unknown-dataset", ConfigError, r"scdeal\.datasets\.GSEDEMO_1: no such dataset")
def _(env):
    _config(lambda c: c["scdeal"].update(datasets={"GSEDEMO_1": {"lr": "fast"}}))


def _rename_dataset(new: str):
    def edit(c):
        c["sc"]["datasets"][new] = c["sc"]["datasets"].pop("GSEDEMO1")
        c["interpret"]["pseudotime"] = {}
    return edit


for _name, _id in [("../escape", "dotdot"), ("a/b", "slash"), ("GSE 1", "space"), (".hidden", "leading-dot"),
                   ("", "empty")]:
    case(f"config-dataset-name-{_id}", ConfigError, rf"sc\.datasets\.{re.escape(_name)}: a dataset name may hold "
         r"only letters, digits, '_' and '-'.*pattern \[A-Za-z0-9\]")(
        lambda env, _n=_name: _config(_rename_dataset(_n)))


@case("config-cohort-name-slash", ConfigError, r"patients\.tcga/x: a cohort name may hold only")
def _(env):
    _config(lambda c: c["patients"].update({"tcga/x": c["patients"].pop("tcga")}))


@case("config-drug-name-no-letters", ConfigError, r"codeae\.drugs\[3\]: a drug name must be printable text with at "
      r"least one letter or digit.*got '\.\./'")
def _(env):
    _config(lambda c: c["codeae"]["drugs"].append("../"))


@case("config-drug-targets-unknown-drug", ConfigError, r"codeae\.drug_targets\.Demotinb: no such configured drug "
      r"\(configured: Demotinib, Simuplatin, Mocktaxel-2\)")
def _(env):
    _config(lambda c: c["codeae"]["drug_targets"].update(Demotinb=["PRG1G01"]))


@case("config-epochs-not-integer", ConfigError, r"scdeal\.params\.epochs_dae: expected an integer, got 2\.5")
def _(env):
    _config(lambda c: c["scdeal"]["params"].update(epochs_dae=2.5))


@case("config-unknown-scdeal-key", ConfigError,
      r"scdeal\.params\.epochs_dea: unknown scDEAL parameter \(known: .*epochs_dae")
def _(env):
    _config(lambda c: c["scdeal"]["params"].update(epochs_dea=3))


@case("config-negative-lr", ConfigError, r"scdeal\.params: invalid scDEAL parameters: lr must be > 0 \(got -0\.001\)")
def _(env):
    _config(lambda c: c["scdeal"]["params"].update(lr=-0.001))


@case("config-reserved-seed", ConfigError, r"scdeal\.params\.seed: not set here; it is set by the top-level `seed`")
def _(env):
    _config(lambda c: c["scdeal"]["params"].update(seed=1))


@case("config-bad-dataset-override-value", ConfigError, r"scdeal\.datasets\.GSEDEMO2.*dropout")
def _(env):
    _config(lambda c: c["scdeal"].update(datasets={"GSEDEMO2": {"dropout": 1.5}}))


# ------------------------------------------------------------------ downloads


PAYLOAD = b"gene\tc1\tc2\nA\t1\t0\n" * 20
HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>\n"


def _fetch(env, body: bytes, key="geo/GSE1/x.txt.gz", **entry):
    env.server.files["/" + key] = body
    return download.fetch(Entry(key=key, **entry), env.tmp / "raw" / key, mirror=env.server.url, backoff=0)


@case("download-html-page-no-sha256", InputError, r"geo/GSE1/x\.txt\.gz \(from http://127\.0\.0\.1:\d+/geo/GSE1/"
      r"x\.txt\.gz\): the server sent an HTML page .*starts '<!DOCTYPE html>")
def _(env):
    try:
        _fetch(env, HTML)
    finally:
        assert not list((env.tmp / "raw" / "geo/GSE1").iterdir())  # neither the file nor a .part


@case("download-html-page-with-bom-and-space", InputError, r"x\.csv .*HTML page")
def _(env):
    _fetch(env, b"\xef\xbb\xbf\n  <html><body>404</body></html>", key="gdsc/x.csv")


@case("download-html-content-type", InputError, r"k: the server sent an HTML page \(Content-Type text/html; "
      r"charset=utf-8; it starts '<p>Moved")
def _(env):
    tmp = write(env.tmp / "page.part", "<p>Moved to another place</p>")
    download._reject_html(tmp, env.tmp / "x.tsv", "text/html; charset=utf-8", "k")


@case("download-sha256-mismatch", InputError, r"geo/GSE1/x\.txt\.gz .*sha256 mismatch: expected 0{64}")
def _(env):
    _fetch(env, PAYLOAD, sha256="0" * 64)


@case("download-size-mismatch", InputError, rf"size mismatch: expected 5 bytes, got {len(PAYLOAD)} bytes")
def _(env):
    _fetch(env, PAYLOAD, size=5)


@case("download-disk-full", WriteError, r"raw/geo/GSE1/x\.txt\.gz: cannot write: no space left on the device")
def _(env):
    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")
    env.monkeypatch.setattr(download, "open", lambda *a, **k: Full(), raising=False)
    try:
        _fetch(env, PAYLOAD)
    finally:
        env.monkeypatch.undo()
        assert not list((env.tmp / "raw" / "geo/GSE1").iterdir())


@case("download-read-only", WriteError, r"raw/geo/GSE1/x\.txt\.gz: cannot write: the file system is read-only")
def _(env):
    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")
    env.monkeypatch.setattr(download.tempfile, "mkstemp", refuse)
    _fetch(env, PAYLOAD)


# ------------------------------------------------------------------ archives


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _targz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@case("zip-file-and-folder-clash", InputError, r"a\.zip: archive member 'a' is a file but member 'a/b' needs it to be "
      r"a folder")
def _(env):
    download.extract(_zip(env.tmp / "a.zip", {"a": b"1", "a/b": b"2"}), env.tmp / "out")


@case("tar-file-and-folder-clash", InputError, r"t\.tar\.gz: archive member 'd/x' is a file but member 'd/x/y\.txt'")
def _(env):
    download.extract(_targz(env.tmp / "t.tar.gz", {"d/x": b"1", "d/x/y.txt": b"2"}), env.tmp / "out")


@case("tar-gz-truncated", InputError,
      r"t\.tar\.gz: cannot extract: the archive is truncated or corrupt.*download it again")
def _(env):
    big = np.random.default_rng(0).bytes(200_000)
    arch = _targz(env.tmp / "t.tar.gz", {"one.bin": big, "two.bin": big})
    arch.write_bytes(arch.read_bytes()[: arch.stat().st_size // 2])
    try:
        download.extract(arch, env.tmp / "out")
    finally:
        assert not (env.tmp / "out").exists()


@case("zip-truncated", InputError, r"z\.zip: not a readable zip archive \(truncated or corrupt")
def _(env):
    arch = _zip(env.tmp / "z.zip", {"x.csv": b"a,b\n" * 1000})
    arch.write_bytes(arch.read_bytes()[:-30])
    download.extract(arch, env.tmp / "out")


@case("zip-corrupt-member", InputError, r"c\.zip: cannot extract: the archive is truncated or corrupt \(BadZipFile: "
      r"Bad CRC-32")
def _(env):
    arch = _zip(env.tmp / "c.zip", {"x.csv": b"a,b\n1,2\n"})
    data = arch.read_bytes()
    pos = data.index(b"a,b\n1,2")
    arch.write_bytes(data[:pos] + b"a;b" + data[pos + 3:])
    download.extract(arch, env.tmp / "out")


@case("archive-not-an-archive", InputError, r"r\.tar: not a tar or zip archive")
def _(env):
    download.extract(write(env.tmp / "r.tar", "just text\n"), env.tmp / "out")


@case("extract-disk-full", WriteError, r"out/.*x\.csv: cannot write: no space left on the device")
def _(env):
    def full(src, dst, length=0):
        raise OSError(errno.ENOSPC, "No space left on device")
    env.monkeypatch.setattr(download.shutil, "copyfileobj", full)
    download.extract(_zip(env.tmp / "a.zip", {"x.csv": b"1"}), env.tmp / "out")


# ------------------------------------------------------------------ the suite


@pytest.fixture(scope="module")
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.mark.parametrize("make, expect, words", CASES)
def test_bad_input(make, expect, words, tmp_path, server, monkeypatch, caplog):
    env = SimpleNamespace(tmp=tmp_path, server=server, monkeypatch=monkeypatch)
    if expect is None:  # accepted on purpose: the reason must be in the log
        with caplog.at_level(logging.WARNING, logger="drugshift"):
            make(env)
        text = caplog.text
    else:
        with pytest.raises(expect) as info:
            make(env)
        text = str(info.value)
    for word in words:
        assert re.search(word, text, re.S), f"{word!r} not in:\n{text}"
    assert "Traceback" not in text


def test_suite_size(capsys):
    """The suite says how many bad inputs it tries (this table and the parsers' malformed files)."""
    import test_io

    with capsys.disabled():
        print(f"\nbad inputs: {len(CASES)} cases in test_bad_inputs.py + {len(test_io.BAD_FILES)} malformed files "
              f"in test_io.py = {len(CASES) + len(test_io.BAD_FILES)}")
    assert len(CASES) >= 40
