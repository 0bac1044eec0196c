"""Per-series quirks of the six scDEAL benchmark datasets (GEO), as ``.obs`` annotations.

Each annotator takes the cells × genes AnnData read from the series' expression file and the
series' cell-metadata file, joins the metadata by cell id (never by position: the reference code
assigns GSE140440 and GSE149383 annotations by row order) and adds two columns:

* ``condition`` — the condition as the authors wrote it;
* ``sensitivity`` — ``sensitive`` or ``resistant`` by the rule of the papers (METHODS.md; scDEAL's
  ``utils.specific_process``), so a config labels the cells with
  ``label: {column: sensitivity, sensitive: [sensitive], resistant: [resistant]}``.

===========  =============================================  ===========================================
series       metadata                                       resistant when
===========  =============================================  ===========================================
GSE110894    ``GSE110894_CellInfo.xlsx``: Plate#, Well      ``Sample name`` contains "resistant" (I-BET
             position, Sample name (header on row 4;        resistant, withdrawn); DMSO and 400 nM are
             cells are ``<plate>_<well>``)                  sensitive
GSE117872    ``GSE117872_good_Data_cellinfo.txt``: cell     ``cluster`` contains "Resistant" (Sensitive
             id column ``groups``, ``origin``, ``cluster``  and Holiday are sensitive)
GSE149383    header-less ``cell,sample`` table              sample contains "res"
GSE140440    header-less ``cell<TAB>condition`` table       condition contains "Res"
GSE112274    none: ``<line>_<condition>_…`` cell names      second ``_`` field lacks "parental"
===========  =============================================  ===========================================
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import _read_csv, check_unique, detect_sep, preview

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


# ------------------------------------------------------------------ xlsx without openpyxl


def _col_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def read_xlsx(path: str | Path, sheet: int = 0) -> list[list[str | None]]:
    """Rows of one worksheet of an ``.xlsx`` file as text (``None`` for empty cells).

    A small reader of the Office Open XML layout (shared strings, inline strings, numbers), so
    no Excel library is needed for GEO's metadata sheets. Numbers are returned as written in the
    file (e.g. ``"400"``); dates and formulas are not interpreted.
    Raises InputError for a file that is not an xlsx workbook or lacks the sheet.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            shared: list[str] = []
            if "xl/sharedStrings.xml" in names:
                root = ET.fromstring(zf.read("xl/sharedStrings.xml"))
                for si in root.findall("m:si", _NS):
                    shared.append("".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")))
            sheet_path = _sheet_path(zf, names, sheet, path)
            root = ET.fromstring(zf.read(sheet_path))
    except (zipfile.BadZipFile, OSError, KeyError, ET.ParseError) as exc:
        raise InputError(path, f"cannot read as an xlsx workbook: {exc}") from exc
    rows: list[list[str | None]] = []
    for row in root.iter(f"{{{_NS['m']}}}row"):
        r = int(row.get("r", len(rows) + 1)) - 1
        while len(rows) < r:
            rows.append([])
        values: list[str | None] = []
        for j, c in enumerate(row.findall("m:c", _NS)):
            col = _col_index(c.get("r")) if c.get("r") else j
            kind = c.get("t")
            if kind == "inlineStr":
                text = "".join(t.text or "" for t in c.iter(f"{{{_NS['m']}}}t"))
            else:
                v = c.find("m:v", _NS)
                text = None if v is None else v.text
                if kind == "s" and text is not None:
                    text = shared[int(text)]
            while len(values) < col:
                values.append(None)
            values.append(text)
        rows.append(values)
    return rows


def _sheet_path(zf: zipfile.ZipFile, names: set[str], sheet: int, path: Path) -> str:
    try:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        sheets = wb.findall("m:sheets/m:sheet", _NS)
        rid = sheets[sheet].get(_REL_NS)
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        target = target.lstrip("/")
        return target if target.startswith("xl/") else f"xl/{target}"
    except (KeyError, IndexError, StopIteration):
        fallback = f"xl/worksheets/sheet{sheet + 1}.xml"
        if fallback in names:
            return fallback
        raise InputError(path, f"no worksheet number {sheet + 1}") from None


def xlsx_table(path: str | Path, header_row: int = 0) -> pd.DataFrame:
    """A worksheet as a DataFrame of text, the column names taken from row ``header_row`` (0-based);
    completely empty rows are dropped."""
    rows = read_xlsx(path)
    if len(rows) <= header_row:
        raise InputError(path, f"the sheet has {len(rows)} row(s); expected a header on row {header_row + 1}")
    header = [str(h).strip() if h is not None else f"column_{j}" for j, h in enumerate(rows[header_row])]
    body = [r + [None] * (len(header) - len(r)) for r in rows[header_row + 1:]]
    df = pd.DataFrame([r[: len(header)] for r in body], columns=header, dtype=object)
    return df.dropna(how="all").reset_index(drop=True)


# ------------------------------------------------------------------ helpers


def _headerless_pairs(path: str | Path, what: str) -> pd.Series:
    """A header-less two-column table (cell id, value) as a Series indexed by cell id."""
    path = Path(path)
    sep = detect_sep(path)
    df = _read_csv(path, sep, header=None, dtype=str)
    if df.shape[1] < 2:
        raise InputError(path, f"expected two columns (cell id, {what}); found {df.shape[1]}")
    ids = df.iloc[:, 0].str.strip()
    check_unique(ids, path, "cell id")
    return pd.Series(df.iloc[:, 1].str.strip().to_numpy(), index=pd.Index(ids.to_numpy()), name=what)


def _join(adata: ad.AnnData, values: pd.Series, path, what: str) -> pd.Series:
    missing = pd.Index(adata.obs_names).difference(values.index, sort=False)
    if len(missing):
        raise InputError(path, f"{len(missing)} of {adata.n_obs} cells have no {what} row: {preview(missing)}")
    return values.loc[adata.obs_names]


def _contains(values: pd.Series, needle: str, case: bool) -> np.ndarray:
    return values.astype(str).str.contains(needle, case=case, regex=False).to_numpy()


def _finish(adata: ad.AnnData, condition, resistant: np.ndarray) -> ad.AnnData:
    adata.obs["condition"] = pd.Series(np.asarray(condition, dtype=object), index=adata.obs.index).astype(str)
    adata.obs["sensitivity"] = np.where(resistant, "resistant", "sensitive")
    return adata


# ------------------------------------------------------------------ the series


def annotate_gse110894(adata: ad.AnnData, cellinfo: str | Path) -> ad.AnnData:
    """GSE110894 (mouse MLL-AF9 leukaemia, I-BET-762): join ``GSE110894_CellInfo.xlsx``.

    The sheet's header is on row 4; ``Plate#`` and ``Sample name`` are written once per block
    (forward-filled here); a cell id is ``<Plate#>_<well>`` with ``<well>`` the part of ``Well
    position`` before any ``=``. All sheet columns go to ``.obs``; ``condition`` = Sample name.
    """
    info = xlsx_table(cellinfo, header_row=3)
    needed = ["Plate#", "Well position", "Sample name"]
    missing = [c for c in needed if c not in info.columns]
    if missing:
        raise InputError(cellinfo, f"missing column(s) {missing} in the header on row 4; found {list(info.columns)}")
    info = info.ffill()
    wells = info["Well position"].astype(str).str.split("=").str[0].str.strip()
    info.index = pd.Index(info["Plate#"].astype(str).str.strip() + "_" + wells)
    check_unique(info.index, cellinfo, "cell id (Plate#_well)")
    joined = info.loc[_join(adata, pd.Series(info.index, index=info.index), cellinfo, "CellInfo").index]
    for col in info.columns:
        adata.obs[col] = joined[col].astype(str).to_numpy()
    return _finish(adata, joined["Sample name"], _contains(joined["Sample name"], "resistant", case=False))


def annotate_gse117872(adata: ad.AnnData, cellinfo: str | Path) -> ad.AnnData:
    """GSE117872 (HN120 / HN137 oral squamous carcinoma, cisplatin): join the cell-info table by
    its ``groups`` column; all its columns (``origin``, ``cluster``, …) go to ``.obs``;
    ``condition`` = cluster; Holiday cells count as sensitive (as in scDEAL)."""
    path = Path(cellinfo)
    sep = detect_sep(path)
    table = _read_csv(path, sep, dtype=str)
    for col in ("groups", "cluster"):
        if col not in table.columns:
            raise InputError(path, f"missing column {col!r}; columns found: {list(table.columns)}")
    table.index = pd.Index(table["groups"].str.strip())
    check_unique(table.index, path, "cell id (groups)")
    table = table.loc[_join(adata, pd.Series(table.index, index=table.index), path, "cellinfo").index]
    for col in table.columns.drop("groups"):
        adata.obs[col] = table[col].to_numpy()
    return _finish(adata, table["cluster"], _contains(table["cluster"], "Resistant", case=False))


def annotate_gse149383(adata: ad.AnnData, meta: str | Path) -> ad.AnnData:
    """GSE149383 (PC9, erlotinib): header-less cell -> sample table; resistant where the sample
    contains "res" (case-sensitive, as scDEAL)."""
    sample = _join(adata, _headerless_pairs(meta, "sample"), meta, "sample")
    adata.obs["sample"] = sample.to_numpy()
    return _finish(adata, sample, _contains(sample, "res", case=True))


def annotate_gse140440(adata: ad.AnnData, annotation: str | Path) -> ad.AnnData:
    """GSE140440 (DU145/PC3, docetaxel): header-less cell -> condition table; resistant where the
    condition contains "Res" (case-sensitive, as scDEAL)."""
    cond = _join(adata, _headerless_pairs(annotation, "condition"), annotation, "annotation")
    return _finish(adata, cond, _contains(cond, "Res", case=True))


def annotate_gse112274(adata: ad.AnnData, metadata: str | Path | None = None) -> ad.AnnData:
    """GSE112274 (PC9, gefitinib; FPKM): the condition is the second ``_`` field of the cell name;
    sensitive where it contains "parental"."""
    parts = pd.Index(adata.obs_names).str.split("_")
    short = [n for n, p in zip(adata.obs_names, parts) if len(p) < 2]
    if short:
        raise InputError(None, f"GSE112274 cell names need '<line>_<condition>_...'; got {preview(short)}")
    cond = pd.Series([p[1] for p in parts], index=adata.obs.index)
    return _finish(adata, cond, ~_contains(cond, "parental", case=True))


SERIES: dict[str, Callable[..., ad.AnnData]] = {
    "GSE110894": annotate_gse110894,
    "GSE117872": annotate_gse117872,
    "GSE149383": annotate_gse149383,
    "GSE140440": annotate_gse140440,
    "GSE112274": annotate_gse112274,
}
NEEDS_METADATA = {"GSE110894", "GSE117872", "GSE149383", "GSE140440"}


def annotate(series: str, adata: ad.AnnData, metadata: str | Path | None) -> ad.AnnData:
    """Apply the annotator of ``series`` (a key of :data:`SERIES`)."""
    if series not in SERIES:
        raise ValueError(f"unknown series {series!r}; known: {sorted(SERIES)}")
    if series in NEEDS_METADATA and metadata is None:
        raise ValueError(f"series {series} needs its cell metadata file (config key metadata)")
    return SERIES[series](adata, metadata)
