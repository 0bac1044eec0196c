"""Patient and tumour-model cohorts of the CODE-AE arm: one ``patients.<name>`` config entry each.

A cohort is expression (samples × genes) and, optionally, drug-response labels used **only** to
score zero-shot predictions. Formats:

``xena``
    UCSC Xena genes × samples matrix (TCGA ``tcga_RSEM_gene_tpm``); ``labels``: GDC Biotab
    clinical drug table(s), RECIST best response (complete/partial response = 1, stable/progressive
    disease = 0), a patient with several records of a drug counting as a responder if any
    responded, matched to samples by the 12-character patient barcode; optional ``probemap``
    (Xena probe map: Ensembl ids → gene symbols).
``pdtc``
    PDTC models × genes table; ``labels``: ``DrugResponsesAUCModels.txt`` (AUC below the drug's
    median across models = 1).
``table``
    Any samples × genes CSV/TSV (first column the sample id); ``labels``: one two-column label
    file (id, 0/1; 1 = responder / sensitive) with ``drug``, or ``{drug: file}`` for several
    drugs, matched to samples by id.

``drugs`` maps GDSC drug names to the cohort's names (inline, or a TSV with columns
``gdsc_drug``, ``cohort_drug``, or a PDTC mapping CSV with ``gdsc_name``, ``drug_name``); a drug
not listed keeps its GDSC name (lower-cased for ``xena`` clinical tables). ``score_drugs``
restricts the drugs scored in the cohort (default: every drug it has labels for).

``phenotype`` (any format, optional) annotates the samples for figures and the sex-confounder
experiment: a Xena phenotype file (``sample``, ``sample_type``, ``_primary_disease``, optionally
``_gender``) or any table whose first column is the sample id with some of the columns
``tumour_type``, ``sample_type``, ``sex``; :func:`read_samples` gives the tidy form.

``values`` says what the expression is: ``counts`` (→ log2(CPM + 1)), ``tpm`` (→ log2(TPM + 1)),
``log`` (log-scale already, e.g. Xena's log2(TPM + 0.001)) or ``normalised`` (e.g. z-scores);
the last two are used as they are. CODE-AE's feature step then z-scores each gene within each
cohort (``codeae.features.standardise``).

This module is torch-free: the workflow checks every entry when it builds the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drugshift.params import ConfigError

__all__ = ["FORMATS", "RESERVED_NAMES", "SAMPLE_COLUMNS", "VALUES", "Cohort", "cohort_labels", "expression_entry",
           "match_samples", "read_drug_names", "read_expression", "read_samples", "tcga_study", "to_log_scale",
           "TCGA_STUDIES"]

FORMATS = ("xena", "pdtc", "table")
VALUES = ("counts", "tpm", "log", "normalised")
#: Names a cohort cannot take: the cell-line domain and the cell-line CV rows of the benchmark.
RESERVED_NAMES = ("cell_lines", "gdsc_cv")
_KEYS = {
    "xena": {"format", "expression", "values", "labels", "drugs", "score_drugs", "probemap", "phenotype"},
    "pdtc": {"format", "expression", "values", "labels", "drugs", "score_drugs", "phenotype"},
    "table": {"format", "expression", "values", "labels", "drug", "score_drugs", "phenotype"},
}


def expression_entry(entry: Mapping) -> dict:
    """The keys of a ``patients.<name>`` entry that :func:`read_expression` reads (format,
    expression, values, probe map): the parameters of the workflow's expression rule, so that
    adding, removing or editing a cohort's labels rescores it without rereading its expression
    or retraining a model."""
    return {k: v for k, v in entry.items() if k in ("format", "expression", "values", "probemap")}


def _paths(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Cohort:
    """One checked ``patients.<name>`` entry (see the module docstring).

    Attributes:
        name: the cohort's name (results/patients/<name>/…).
        format, values: see :data:`FORMATS`, :data:`VALUES`.
        expression: expression file(s); several files are stacked (genes shared by all, a sample
            listed twice kept once).
        labels: label file(s) (``xena``, ``pdtc``, ``table`` with ``drug``), ``{drug: file}``
            (``table``) or ``None`` (predicted, not scored).
        drug: the GDSC drug of a single ``table`` label file.
        drugs: GDSC name → cohort name, or the file holding that mapping.
        score_drugs: the GDSC drugs scored in this cohort (``None``: every drug it has labels for).
        probemap: ``xena``: the probe map of Ensembl ids to gene symbols.
        phenotype: the per-sample annotation file (tumour type, sample type, sex), if any.
    """

    name: str
    format: str
    values: str
    expression: tuple[str, ...]
    labels: tuple[str, ...] | dict[str, str] | None = None
    drug: str | None = None
    drugs: dict[str, str] | str | None = None
    score_drugs: tuple[str, ...] | None = None
    probemap: str | None = None
    phenotype: str | None = None

    @classmethod
    def from_config(cls, name: str, entry: Mapping) -> Cohort:
        """Check a config entry; every problem names its path (``patients.<name>.<key>``).

        Raises:
            ConfigError: a reserved name, unknown format or values, a key the format does not
                take, or labels that do not fit the format.
        """
        where = f"patients.{name}"
        if name in RESERVED_NAMES:
            raise ConfigError(f"{where}: the name {name!r} is reserved; choose another")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        fmt = entry.get("format")
        if fmt not in FORMATS:
            raise ConfigError(f"{where}.format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        unknown = sorted(set(entry) - _KEYS[fmt])
        if unknown:
            raise ConfigError("; ".join(f"{where}.{k}: not a key of format {fmt}" for k in unknown)
                              + f" (keys: {', '.join(sorted(_KEYS[fmt]))})")
        for key in ("expression", "values"):
            if key not in entry:
                raise ConfigError(f"{where}.{key}: required")
        if entry["values"] not in VALUES:
            raise ConfigError(f"{where}.values: expected one of {', '.join(VALUES)}, got {entry['values']!r}")
        labels = entry.get("labels")
        if isinstance(labels, Mapping):
            if fmt != "table":
                raise ConfigError(f"{where}.labels: a drug → file mapping is for format table; {fmt} takes a file")
            if "drug" in entry:
                raise ConfigError(f"{where}.drug: not with a drug → file mapping of labels")
            labels = {str(k): str(v) for k, v in labels.items()}
        elif labels is not None:
            labels = _paths(labels)
            if fmt == "pdtc" and len(labels) != 1:
                raise ConfigError(f"{where}.labels: format pdtc takes one DrugResponsesAUCModels file")
            if fmt == "table" and (len(labels) != 1 or "drug" not in entry):
                raise ConfigError(f"{where}.labels: format table takes one label file with `drug`, "
                                  "or a drug → file mapping")
        drugs = entry.get("drugs")
        if isinstance(drugs, Mapping):
            drugs = {str(k): str(v) for k, v in drugs.items()}
        score = entry.get("score_drugs")
        if score is not None and (not isinstance(score, (list, tuple)) or not all(isinstance(d, str) for d in score)):
            raise ConfigError(f"{where}.score_drugs: expected a list of GDSC drug names, got {score!r}")
        return cls(name, fmt, entry["values"], _paths(entry["expression"]), labels, entry.get("drug"), drugs,
                   None if score is None else tuple(score), entry.get("probemap"), entry.get("phenotype"))

    def expression_files(self) -> dict[str, str | list[str]]:
        """The files the expression is read from, by role (for the workflow's DAG)."""
        out: dict[str, str | list[str]] = {"expression": list(self.expression)}
        if self.probemap:
            out["probemap"] = self.probemap
        return out

    def label_files(self) -> dict[str, str | list[str]]:
        """The files the labels are read from, by role (none without labels)."""
        out: dict[str, str | list[str]] = {}
        if isinstance(self.labels, dict):
            out["labels"] = list(self.labels.values())
        elif self.labels:
            out["labels"] = list(self.labels)
        if isinstance(self.drugs, str) and self.labels:
            out["drugs"] = self.drugs
        return out

    def drug_names(self) -> dict[str, str]:
        """GDSC drug name → the cohort's name, for the drugs whose names differ."""
        if isinstance(self.drugs, str):
            return read_drug_names(self.drugs)
        return dict(self.drugs or {})


SAMPLE_COLUMNS = ("tumour_type", "sample_type", "sex")

#: TCGA's 33 studies: the primary disease as UCSC Xena names it → the study code (the
#: vocabulary of GDSC's "Cancer Type (matching TCGA label)").
TCGA_STUDIES = {
    "acute myeloid leukemia": "LAML", "adrenocortical cancer": "ACC", "bladder urothelial carcinoma": "BLCA",
    "brain lower grade glioma": "LGG", "breast invasive carcinoma": "BRCA",
    "cervical & endocervical cancer": "CESC", "cholangiocarcinoma": "CHOL", "colon adenocarcinoma": "COAD",
    "diffuse large B-cell lymphoma": "DLBC", "esophageal carcinoma": "ESCA", "glioblastoma multiforme": "GBM",
    "head & neck squamous cell carcinoma": "HNSC", "kidney chromophobe": "KICH",
    "kidney clear cell carcinoma": "KIRC", "kidney papillary cell carcinoma": "KIRP",
    "liver hepatocellular carcinoma": "LIHC", "lung adenocarcinoma": "LUAD", "lung squamous cell carcinoma": "LUSC",
    "mesothelioma": "MESO", "ovarian serous cystadenocarcinoma": "OV", "pancreatic adenocarcinoma": "PAAD",
    "pheochromocytoma & paraganglioma": "PCPG", "prostate adenocarcinoma": "PRAD", "rectum adenocarcinoma": "READ",
    "sarcoma": "SARC", "skin cutaneous melanoma": "SKCM", "stomach adenocarcinoma": "STAD",
    "testicular germ cell tumor": "TGCT", "thymoma": "THYM", "thyroid carcinoma": "THCA",
    "uterine carcinosarcoma": "UCS", "uterine corpus endometrioid carcinoma": "UCEC", "uveal melanoma": "UVM",
}


def tcga_study(tumour_type: pd.Series) -> pd.Series:
    """Tumour types as TCGA study codes (:data:`TCGA_STUDIES`); values that are not a Xena
    primary-disease name (already a code, or another vocabulary) are kept as they are."""
    return tumour_type.map(lambda t: TCGA_STUDIES.get(t, t) if isinstance(t, str) else t)


def read_samples(path: str | Path) -> pd.DataFrame:
    """A cohort's per-sample annotation in tidy form: index ``sample``, str columns
    ``tumour_type``, ``sample_type`` and ``sex`` (``Female``/``Male``), missing where the file
    does not say.

    Reads a Xena phenotype file (:func:`drugshift.io.tcga.read_xena_phenotype`) when it has
    ``_primary_disease``/``primary_disease``, otherwise a table whose first column is the sample
    id and that has at least one of the columns of :data:`SAMPLE_COLUMNS`.

    Raises:
        InputError: none of the annotation columns, duplicated samples, or an unreadable file.
    """
    from drugshift.errors import InputError
    from drugshift.io._table import detect_sep, read_table
    from drugshift.io.tcga import read_xena_phenotype

    path = Path(path)
    header = read_table(path, sep=detect_sep(path), dtype=str, index_col=0, allow_empty=True)
    if {"_primary_disease", "primary_disease"} & set(header.columns):
        table = read_xena_phenotype(path).rename(columns={"primary_disease": "tumour_type"})
    else:
        present = [c for c in SAMPLE_COLUMNS if c in header.columns]
        if not present:
            raise InputError(path, f"a sample annotation needs one of the columns {', '.join(SAMPLE_COLUMNS)} "
                             f"(or a Xena phenotype layout); found {', '.join(map(str, header.columns))}")
        table = header[present].copy()
        table.index = pd.Index(table.index.astype(str).str.strip(), name="sample")
        if table.index.duplicated().any():
            raise InputError(path, f"duplicated sample id(s): {', '.join(table.index[table.index.duplicated()][:5])}")
        if "sex" in table:
            sex = table["sex"].str.strip().str.capitalize()
            table["sex"] = sex.where(sex.isin(["Female", "Male"]))
    for column in SAMPLE_COLUMNS:
        if column not in table:
            table[column] = pd.NA
    return table[list(SAMPLE_COLUMNS)]


def match_samples(samples: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """The annotation of each id in ``ids`` (rows of :func:`read_samples`), in that order.

    An id the table does not list is matched by its TCGA patient barcode (its first 12
    characters, e.g. ``TCGA-CG-5724``) to the patient's samples, preferring a primary tumour:
    cohorts given per patient (the shared TCGA tables) meet Xena phenotypes given per sample.
    Ids matched by neither get missing values.
    """
    table = samples[~samples.index.duplicated()]
    ids = pd.Index([str(i) for i in ids])
    out = table.reindex(ids)
    unmatched = out.isna().all(axis=1) & ~ids.isin(table.index)
    if unmatched.any():
        primary = table["sample_type"].fillna("").str.lower().eq("primary tumor")
        by_patient = (table.assign(_primary=primary, _patient=table.index.str[:12])
                      .sort_values("_primary", ascending=False, kind="mergesort")
                      .drop_duplicates("_patient").set_index("_patient")[list(table.columns)])
        out.loc[unmatched] = by_patient.reindex(ids[unmatched].str[:12]).to_numpy()
    out.index.name = "sample"
    return out


def read_drug_names(path: str | Path) -> dict[str, str]:
    """A GDSC → cohort drug-name mapping: a TSV/CSV with columns ``gdsc_drug`` and
    ``cohort_drug``, or a PDTC mapping CSV (``gdsc_name``, ``drug_name``)."""
    from drugshift.errors import InputError
    from drugshift.io._table import check_not_missing, check_unique, detect_sep, read_columns, read_table
    from drugshift.io.pdtc import read_drug_mapping

    path = Path(path)
    sep = detect_sep(path)
    header = read_columns(path, (), sep=sep)
    if "gdsc_name" in header and "drug_name" in header:
        table = read_drug_mapping(path).rename(columns={"pdtc_drug": "cohort_drug"})
    else:
        table = read_table(path, ["gdsc_drug", "cohort_drug"], sep=sep, optional=[], dtype=str)
        check_not_missing(table, ["gdsc_drug", "cohort_drug"], path)
        table = table.apply(lambda c: c.str.strip())
    check_unique(table["gdsc_drug"], path, "GDSC drug name")
    if table.empty:
        raise InputError(path, "no drug names")
    return dict(zip(table["gdsc_drug"], table["cohort_drug"]))


def to_log_scale(expression: pd.DataFrame, values: str) -> pd.DataFrame:
    """Expression on a log scale: ``counts`` → log2(CPM + 1), ``tpm`` → log2(TPM + 1); ``log``
    and ``normalised`` unchanged. Samples are rows.

    Raises:
        ValueError: unknown ``values``, or negative counts / TPM.
    """
    if values not in VALUES:
        raise ValueError(f"values must be one of {VALUES}, got {values!r}")
    if values in ("log", "normalised"):
        return expression
    x = expression.to_numpy(dtype=np.float64)
    if np.nanmin(x) < 0:
        raise ValueError(f"values: {values} cannot be negative; is the expression already on a log scale (values: log)?")
    if values == "counts":
        total = x.sum(axis=1, keepdims=True)
        x = x / np.where(total > 0, total, 1.0) * 1e6
    return pd.DataFrame(np.log2(x + 1.0).astype(np.float32), index=expression.index, columns=expression.columns)


def _read_expression_file(cohort: Cohort, path: str) -> pd.DataFrame:
    from drugshift.io.pdtc import read_pdtc_expression
    from drugshift.io.tcga import read_sample_table, read_xena_matrix

    if cohort.format == "pdtc":
        return read_pdtc_expression(path)
    if cohort.format == "table":
        return read_sample_table(path)
    frame = read_xena_matrix(path)
    if cohort.probemap:
        from drugshift.io._table import average_duplicate_columns
        from drugshift.io.xena import read_xena_probemap

        symbols = read_xena_probemap(cohort.probemap)
        keep = frame.columns.isin(symbols.index)
        frame = frame.loc[:, keep]
        frame.columns = pd.Index(symbols.loc[frame.columns].to_numpy(), name="gene")
        frame = average_duplicate_columns(frame)
    return frame


def read_expression(cohort: Cohort) -> pd.DataFrame:
    """The cohort's expression: float32 samples × genes on a log (or the given normalised)
    scale, index name ``sample``. Several files are stacked on the genes they share; a sample
    listed twice is kept once (first file)."""
    frames = [_read_expression_file(cohort, p) for p in cohort.expression]
    shared = frames[0].columns
    for f in frames[1:]:
        shared = shared[shared.isin(f.columns)]
    expression = pd.concat([f[shared] for f in frames]) if len(frames) > 1 else frames[0]
    expression = expression[~expression.index.duplicated(keep="first")]
    expression = to_log_scale(expression, cohort.values)
    expression.index.name, expression.columns.name = "sample", "gene"
    return expression


def cohort_labels(cohort: Cohort, drugs: Sequence[str], samples: Sequence[str]) -> pd.DataFrame:
    """Ground-truth labels of ``drugs`` (GDSC names) for ``samples`` (the cohort's expression
    samples), for scoring zero-shot predictions only: columns ``sample``, ``drug``, ``label``
    (int, 1 = responder / sensitive), in the order of ``drugs`` then ``samples``; empty for a
    cohort without labels."""
    samples = pd.Index(samples)
    if cohort.score_drugs is not None:
        drugs = [d for d in drugs if d in cohort.score_drugs]
    per_drug: dict[str, pd.Series] = {}
    names = cohort.drug_names()
    if cohort.labels is None:
        pass
    elif cohort.format == "xena":
        from drugshift.io.tcga import read_clinical_drug, recist_label

        clinical = pd.concat([read_clinical_drug(p) for p in cohort.labels], ignore_index=True)
        clinical["label"] = recist_label(clinical["best_response"])
        key = samples.str.slice(0, 12)
        for drug in drugs:
            rows = clinical[(clinical["drug"] == names.get(drug, drug).lower()) & clinical["label"].notna()]
            per_drug[drug] = pd.Series(key.map(rows.groupby("patient")["label"].max()), index=samples)
    elif cohort.format == "pdtc":
        from drugshift.io.pdtc import pdtc_labels, read_pdtc_response

        response = pdtc_labels(read_pdtc_response(cohort.labels[0]))
        for drug in drugs:
            rows = response[(response["drug"] == names.get(drug, drug)) & response["label"].notna()]
            per_drug[drug] = pd.Series(samples.map(rows.drop_duplicates("model").set_index("model")["label"]),
                                       index=samples)
    else:
        from drugshift.io.tcga import read_labels

        files = cohort.labels if isinstance(cohort.labels, dict) else {cohort.drug: cohort.labels[0]}
        for drug in drugs:
            if drug in files:
                per_drug[drug] = read_labels(files[drug]).reindex(samples)
    parts = [pd.DataFrame({"sample": s.index, "drug": drug, "label": s.to_numpy()}).dropna(subset=["label"])
             for drug, s in per_drug.items()]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"sample": [], "drug": [], "label": []})
    out["sample"] = out["sample"].astype(str)
    out["drug"] = out["drug"].astype(str)
    out["label"] = out["label"].astype(np.int64)
    return out
