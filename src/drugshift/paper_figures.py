"""The papers' figure panels: which file holds each, and which ones a configuration can draw.

Every panel of the scDEAL and CODE-AE papers that drugshift regenerates has one entry in
:data:`PANELS`: its paper and panel, what it shows, the file it is written to under
``results/figures/paper/`` (a PNG with a PDF beside it) and what it needs. :func:`plan_panels`
turns what a configuration has (:class:`FigureInputs`) into the files to draw and, for every
panel it cannot draw, the reason — the workflow writes those to ``MISSING.tsv``.

This module is torch-free: the workflow plans the panels when it builds the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["FIGURE_DIR", "PANELS", "FigureInputs", "Panel", "PanelFile", "panel_pattern", "plan_panels",
           "missing_table", "panel_table"]

FIGURE_DIR = "results/figures/paper"


@dataclass(frozen=True)
class Panel:
    """One paper panel (or a figure beyond the papers).

    Attributes:
        key: the panel's identifier, e.g. ``scdeal_fig3c``.
        paper: ``scDEAL``, ``CODE-AE`` or ``drugshift`` (beyond the papers).
        figure, panel: the paper's figure number and panel letters (``"3"``, ``"3c"``).
        shows: one line on what the panel shows.
        stem: the file name without suffix; ``{dataset}``, ``{group}`` and ``{cohort}`` are
            filled per dataset, DEG group and cohort.
        scope: ``global``, ``dataset`` (one file per single-cell dataset), ``cohort`` (one per
            patient cohort) or ``dataset_group`` (per dataset and sensitive/resistant group).
    """

    key: str
    paper: str
    figure: str
    panel: str
    shows: str
    stem: str
    scope: str = "global"


PANELS: tuple[Panel, ...] = (
    Panel("scdeal_fig2a", "scDEAL", "2", "2a", "the seven metrics per dataset", "scdeal_fig2a_metrics"),
    Panel("scdeal_fig2b", "scDEAL", "2", "2b", "F1 with GDSC only / CCLE only / both bulk sources (mean ± sd over seeds)",
          "scdeal_fig2b_bulk_sources"),
    Panel("scdeal_fig2c", "scDEAL", "2", "2c", "AE vs DAE vs DAE + cell-cluster regulariser (mean ± sd over seeds)",
          "scdeal_fig2c_autoencoders"),
    Panel("scdeal_fig2d", "scDEAL", "2", "2d", "with vs without transfer", "scdeal_fig2d_transfer"),
    Panel("scdeal_fig2_subsampling", "scDEAL", "2", "2 (robustness)", "80 % subsampling robustness (box plots)",
          "scdeal_fig2_subsampling"),
    Panel("scdeal_fig3a", "scDEAL", "3", "3a", "UMAP by sample, ground truth, predicted label and probability",
          "scdeal_fig3a_{dataset}_umap", "dataset"),
    Panel("scdeal_fig3b", "scDEAL", "3", "3b", "UMAP by the sensitive and resistant DEG scores",
          "scdeal_fig3b_{dataset}_deg_scores", "dataset"),
    Panel("scdeal_fig3c", "scDEAL", "3", "3c", "predicted- vs ground-truth-label DEG scores, regression and one-tailed "
          "Pearson test", "scdeal_fig3c_{dataset}_{group}_scores", "dataset_group"),
    Panel("scdeal_fig3d", "scDEAL", "3", "3d", "empirical null of random gene sets with the observed r",
          "scdeal_fig3d_{dataset}_{group}_null", "dataset_group"),
    Panel("scdeal_fig4a", "scDEAL", "4", "4a", "ground truth vs predicted label on the UMAP",
          "scdeal_fig4a_{dataset}_truth_vs_predicted", "dataset"),
    Panel("scdeal_fig4b", "scDEAL", "4", "4b", "integrated gradients of the top 50 critical genes per group",
          "scdeal_fig4b_{dataset}_ig_heatmap", "dataset"),
    Panel("scdeal_fig4c", "scDEAL", "4", "4c", "dot plot of the top 10 critical genes per group",
          "scdeal_fig4c_{dataset}_dotplot", "dataset"),
    Panel("scdeal_fig5ab", "scDEAL", "5", "5a–b", "UMAP by diffusion pseudotime and by predicted probability",
          "scdeal_fig5ab_{dataset}_pseudotime", "dataset"),
    Panel("scdeal_fig5cd", "scDEAL", "5", "5c–d", "diffusion map by one sensitive and one resistant critical gene",
          "scdeal_fig5cd_{dataset}_diffmap_genes", "dataset"),
    Panel("scdeal_fig5ef", "scDEAL", "5", "5e–f", "correlations of pseudotime, probabilities and scores",
          "scdeal_fig5ef_{dataset}_correlations", "dataset"),
    Panel("codeae_fig2a", "CODE-AE", "2", "2a", "t-SNE of the original expression, by domain and tissue",
          "codeae_fig2a_original_tsne"),
    Panel("codeae_fig2b", "CODE-AE", "2", "2b", "t-SNE of a plain autoencoder's embedding, by domain and tissue",
          "codeae_fig2b_ae_tsne"),
    Panel("codeae_fig2c", "CODE-AE", "2", "2c", "t-SNE of the CODE-AE-ADV embedding, by domain and tissue",
          "codeae_fig2c_codeae_adv_tsne"),
    Panel("codeae_fig2dg", "CODE-AE", "2", "2d–g", "tumour-type classification across sexes (sex as confounder)",
          "codeae_fig2d-g_sex_confounder"),
    Panel("codeae_fig3a", "CODE-AE", "3", "3a", "per-drug AUROC per method on tumour models",
          "codeae_fig3a_{cohort}_auroc", "cohort"),
    Panel("codeae_fig3b", "CODE-AE", "3", "3b", "per-drug AUPRC per method on tumour models",
          "codeae_fig3b_{cohort}_auprc", "cohort"),
    Panel("codeae_fig4a", "CODE-AE", "4", "4a", "patients' AUROC per drug and method, error bars over folds",
          "codeae_fig4a_{cohort}_auroc", "cohort"),
    Panel("codeae_fig4b", "CODE-AE", "4", "4b", "patients' AUPRC per drug and method, error bars over folds",
          "codeae_fig4b_{cohort}_auprc", "cohort"),
    Panel("codeae_fig5a", "CODE-AE", "5", "5a", "patient-cluster × drug z-scores (below 0 shown as 0)",
          "codeae_fig5a_cluster_drug_zscores"),
    Panel("codeae_fig5b", "CODE-AE", "5", "5b", "one tumour type's patients over the clusters",
          "codeae_fig5b_tumour_type_clusters"),
    Panel("codeae_fig5c", "CODE-AE", "5", "5c", "primary tumours within one cluster", "codeae_fig5c_cluster_tumours"),
    Panel("drugshift_cd", "drugshift", "-", "CD", "critical-difference diagram of the methods' mean AUROC ranks",
          "drugshift_cd_{cohort}_auroc", "cohort"),
)
_BY_KEY = {p.key: p for p in PANELS}
DEG_GROUPS = ("sensitive", "resistant")


@dataclass(frozen=True)
class FigureInputs:
    """What a configuration provides to the figures (built by the workflow from its config).

    Attributes:
        datasets: single-cell dataset → its drug's file name.
        labelled: the datasets with ground truth.
        pseudotime: the datasets with a pseudotime root.
        evaluation_settings: the ablation settings run (empty when the evaluation is off).
        seeds, subsamples: the evaluation's replicates.
        codeae_methods: the CODE-AE benchmark's methods (empty when the arm is off).
        cohorts: patient cohort → ``{"format": ..., "labelled": bool, "phenotype": bool}``.
        bicluster_cohort: the cohort of the patient × drug biclustering (``None``: none).
        sex_confounder: whether the sex-confounder experiment is configured.
    """

    datasets: Mapping[str, str] = field(default_factory=dict)
    labelled: Sequence[str] = ()
    pseudotime: Sequence[str] = ()
    evaluation_settings: Sequence[str] = ()
    seeds: int = 0
    subsamples: int = 0
    codeae_methods: Sequence[str] = ()
    cohorts: Mapping[str, Mapping] = field(default_factory=dict)
    bicluster_cohort: str | None = None
    sex_confounder: bool = False


@dataclass(frozen=True)
class PanelFile:
    """One panel to draw (``path`` set) or one that cannot be drawn (``reason`` set)."""

    panel: Panel
    path: str | None = None
    reason: str | None = None
    dataset: str = ""
    cohort: str = ""
    group: str = ""


def panel_pattern(key: str, **wildcards: str) -> str:
    """The panel's PNG path, its placeholders filled from ``wildcards`` (or left as Snakemake
    wildcards when not given): ``panel_pattern("scdeal_fig3a")`` →
    ``results/figures/paper/scdeal_fig3a_{dataset}_umap.png``."""
    stem = _BY_KEY[key].stem
    for name, value in wildcards.items():
        stem = stem.replace("{" + name + "}", value)
    return f"{FIGURE_DIR}/{stem}.png"


def _reasons(inputs: FigureInputs) -> dict[str, object]:
    """Per panel key: ``None`` when the configuration supports it everywhere, a reason string
    when nowhere, or a callable ``(dataset/cohort) -> reason | None`` for per-item panels."""
    evaluated = set(inputs.evaluation_settings)
    no_eval = ("the scDEAL evaluation is off (scdeal.evaluation.enabled: false; `make ablations` adds "
               "config/evaluation.yaml, which turns it on)")
    labelled = set(inputs.labelled)
    not_labelled = "the dataset has no ground truth (labelled: false)"
    methods = set(inputs.codeae_methods)
    no_codeae = "the CODE-AE arm is off or has no patient cohort"
    has_patients = bool(methods) and bool(inputs.cohorts)

    def evaluation_needs(*settings):
        if not evaluated:
            return no_eval
        lacking = [s for s in settings if s not in evaluated]
        return f"scdeal.evaluation.settings lacks {', '.join(lacking)}" if lacking else None

    def needs_labels(dataset):
        return None if dataset in labelled else not_labelled

    def needs_pseudotime(dataset):
        return None if dataset in inputs.pseudotime else "no pseudotime root for this dataset (interpret.pseudotime)"

    def cohort_of(*formats):
        def reason(cohort):
            entry = inputs.cohorts[cohort]
            if not methods:
                return no_codeae
            if entry.get("format") not in formats:
                return f"cohort format {entry.get('format')}; this panel is for {' or '.join(formats)} cohorts"
            return None if entry.get("labelled") else "the cohort has no response labels"
        return reason

    def ranked(cohort):
        if len(methods) < 2:
            return "fewer than two CODE-AE methods configured"
        if cohort != "gdsc_cv" and not inputs.cohorts.get(cohort, {}).get("labelled"):
            return "the cohort has no response labels"
        return None

    bicluster = inputs.bicluster_cohort
    no_bicluster = None if (methods and bicluster in inputs.cohorts) else "no bicluster cohort (codeae.bicluster.cohort)"
    bicluster_samples = no_bicluster or (
        None if inputs.cohorts[bicluster].get("phenotype") else
        f"the bicluster cohort {bicluster} has no `phenotype` (tumour types)")
    return {
        "scdeal_fig2a": None if labelled else "no single-cell dataset has ground truth",
        "scdeal_fig2b": evaluation_needs("gdsc_only", "ccle_only", "scdeal"),
        "scdeal_fig2c": evaluation_needs("ae", "dae", "scdeal"),
        "scdeal_fig2d": None if labelled else "no single-cell dataset has ground truth",
        "scdeal_fig2_subsampling": (no_eval if not evaluated else
                                    None if inputs.subsamples else "scdeal.evaluation.subsamples is 0"),
        "scdeal_fig3a": None,
        "scdeal_fig3b": needs_labels,
        "scdeal_fig3c": needs_labels,
        "scdeal_fig3d": needs_labels,
        "scdeal_fig4a": needs_labels,
        "scdeal_fig4b": None,
        "scdeal_fig4c": None,
        "scdeal_fig5ab": needs_pseudotime,
        "scdeal_fig5cd": needs_pseudotime,
        "scdeal_fig5ef": needs_pseudotime,
        "codeae_fig2a": None if has_patients else no_codeae,
        "codeae_fig2b": (no_codeae if not has_patients else
                         None if "ae" in methods else "the plain autoencoder (method ae) is not in codeae.methods"),
        "codeae_fig2c": (no_codeae if not has_patients else
                         None if "codeae_adv" in methods else "codeae_adv is not in codeae.methods"),
        "codeae_fig2dg": (None if inputs.sex_confounder else
                          "the sex-confounder experiment is off (codeae.sex_confounder.enabled: false)"),
        "codeae_fig3a": cohort_of("pdtc"),
        "codeae_fig3b": cohort_of("pdtc"),
        "codeae_fig4a": cohort_of("xena", "table"),  # patients; pdtc cohorts are tumour models (Fig. 3)
        "codeae_fig4b": cohort_of("xena", "table"),
        "codeae_fig5a": no_bicluster,
        "codeae_fig5b": bicluster_samples,
        "codeae_fig5c": bicluster_samples,
        "drugshift_cd": ranked,
    }


def plan_panels(inputs: FigureInputs) -> list[PanelFile]:
    """Every panel of :data:`PANELS` for this configuration, one :class:`PanelFile` per file
    (per dataset, DEG group or cohort where the panel is drawn for each): with ``path`` when
    it can be drawn, with ``reason`` when it cannot."""
    reasons = _reasons(inputs)
    # Per-cohort panels are drawn for the cohorts of their kind: tumour models (pdtc) in Fig. 3,
    # patients (xena, table) in Fig. 4, every cohort and the cell-line CV in the CD diagram.
    kinds = {"codeae_fig3": ("pdtc",), "codeae_fig4": ("xena", "table")}
    out = []
    for panel in PANELS:
        rule = reasons[panel.key]
        if panel.scope == "global":
            items = [{}]
        elif panel.scope == "cohort":
            formats = kinds.get(panel.key[:-1])
            cohorts = ([c for c, e in inputs.cohorts.items() if e.get("format") in formats] if formats else
                       (["gdsc_cv"] if inputs.codeae_methods else []) + list(inputs.cohorts))
            items = [{"cohort": c} for c in cohorts] or [{"cohort": ""}]
        elif panel.scope == "dataset":
            items = [{"dataset": d} for d in inputs.datasets] or [{"dataset": ""}]
        else:
            items = [{"dataset": d, "group": g} for d in inputs.datasets for g in DEG_GROUPS] or [{"dataset": ""}]
        for item in items:
            key = item.get("dataset") or item.get("cohort")
            if panel.scope != "global" and not key:
                kind = " or ".join(kinds.get(panel.key[:-1], ()))
                reason = (f"no {kind + ' ' if kind else ''}cohort configured" if panel.scope == "cohort"
                          else "no single-cell dataset configured")
            elif callable(rule):
                reason = rule(key)
            else:
                reason = rule
            out.append(PanelFile(panel, None if reason else panel_pattern(panel.key, **item), reason, **item))
    return out


def missing_table(plan: Sequence[PanelFile]) -> pd.DataFrame:
    """The panels that cannot be drawn, with the reason (``MISSING.tsv``)."""
    rows = [{"paper": f.panel.paper, "panel": f.panel.panel, "dataset": f.dataset or f.cohort,
             "shows": f.panel.shows, "reason": f.reason} for f in plan if f.reason]
    return pd.DataFrame(rows, columns=["paper", "panel", "dataset", "shows", "reason"])


def panel_table(plan: Sequence[PanelFile]) -> pd.DataFrame:
    """The panels that are drawn and their files (``PANELS.tsv``)."""
    rows = [{"paper": f.panel.paper, "panel": f.panel.panel, "dataset": f.dataset or f.cohort,
             "group": f.group, "shows": f.panel.shows, "file": f.path} for f in plan if f.path]
    return pd.DataFrame(rows, columns=["paper", "panel", "dataset", "group", "shows", "file"])


def attach_cell_tables(cells, umap: pd.DataFrame | None = None, pseudotime: pd.DataFrame | None = None,
                       deg_scores: pd.DataFrame | None = None):
    """The predictions' AnnData with what the scDEAL panels draw, joined by cell id (in place):
    ``.obsm['X_umap']`` from ``umap`` (columns UMAP1, UMAP2; rule cell_umap), ``.obsm['X_diffmap']``
    and ``.obs['pseudotime']`` from ``pseudotime`` (columns pseudotime, DC1, DC2; rule
    pseudotime), ``.obs['sensitive_score']`` / ``['resistant_score']`` from ``deg_scores`` (the
    scores of the predicted-label DEGs; rule deg_scores; a group without DEGs has none).

    Raises:
        ValueError: a table misses cells of ``cells``.
    """
    def rows(table, columns, what):
        table = table.set_index("cell") if "cell" in table.columns else table
        lacking = cells.obs_names.difference(table.index.astype(str))
        if len(lacking):
            raise ValueError(f"{what} lacks {len(lacking)} of the {cells.n_obs} cells, e.g. {lacking[0]!r}")
        return table.loc[cells.obs_names, columns].to_numpy(dtype=float)

    if umap is not None:
        cells.obsm["X_umap"] = rows(umap, ["UMAP1", "UMAP2"], "the UMAP table")
    if pseudotime is not None:
        cells.obs["pseudotime"] = rows(pseudotime, ["pseudotime"], "the pseudotime table")[:, 0]
        cells.obsm["X_diffmap"] = rows(pseudotime, ["DC1", "DC2"], "the pseudotime table")
    if deg_scores is not None:  # a group without DEGs has no score column
        for group in DEG_GROUPS:
            if f"{group}_predicted_degs" in deg_scores.columns:
                cells.obs[f"{group}_score"] = rows(deg_scores, [f"{group}_predicted_degs"], "the DEG-score table")[:, 0]
    return cells


def top_critical_gene(critical: pd.DataFrame, group: str) -> str:
    """The highest-ranked critical gene of ``group`` in a critical-gene table
    (:func:`drugshift.interpret.critical_genes`); when none passes the thresholds, the group's
    highest-scoring gene.

    Raises:
        ValueError: the table has no gene of ``group``.
    """
    rows = critical[critical["group"] == group]
    if rows.empty:
        raise ValueError(f"the critical-gene table has no {group} gene")
    passing = rows[rows["critical"].astype(bool)]
    rows = passing if len(passing) else rows
    return str(rows.sort_values("score", ascending=False, kind="mergesort")["gene"].iloc[0])
