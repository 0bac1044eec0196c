"""The papers' panel catalogue: drugshift.paper_figures (which panels a config draws, and why not
the others), the cell tables the scDEAL panels read, and cohorts' sample annotations."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from drugshift.cohorts import match_samples, read_samples
from drugshift.errors import InputError
from drugshift.paper_figures import (PANELS, FigureInputs, attach_cell_tables, missing_table, panel_pattern,
                                     panel_table, plan_panels, top_critical_gene)

FULL = FigureInputs(
    datasets={"A": "drug-a", "B": "drug-b"}, labelled=["A", "B"], pseudotime=["A", "B"],
    evaluation_settings=["scdeal", "no_transfer", "ae", "dae", "gdsc_only", "ccle_only"], seeds=3, subsamples=3,
    codeae_methods=["codeae_adv", "ae", "mlp"],
    cohorts={"tcga": {"format": "xena", "labelled": True, "phenotype": True},
             "pdtc": {"format": "pdtc", "labelled": True, "phenotype": False}},
    bicluster_cohort="tcga", sex_confounder=True)


def by_reason(plan):
    return {(f.panel.key, f.dataset or f.cohort, f.group): f.reason for f in plan}


def test_a_complete_config_draws_every_panel_once():
    plan = plan_panels(FULL)
    assert all(f.path for f in plan), missing_table(plan)
    paths = [f.path for f in plan]
    assert len(paths) == len(set(paths))
    # Every catalogue entry appears; per-item panels once per dataset (x group) or cohort.
    keys = {f.panel.key for f in plan}
    assert keys == {p.key for p in PANELS}
    assert sum(f.panel.key == "scdeal_fig3c" for f in plan) == 2 * 2
    # Cell-line CV is ranked (CD diagram) but is not a patient or tumour-model cohort.
    assert {f.cohort for f in plan if f.panel.key == "drugshift_cd"} == {"gdsc_cv", "tcga", "pdtc"}
    assert {f.cohort for f in plan if f.panel.key == "codeae_fig3a"} == {"pdtc"}
    assert {f.cohort for f in plan if f.panel.key == "codeae_fig4b"} == {"tcga"}
    assert panel_pattern("scdeal_fig3c", dataset="A", group="sensitive") == \
        "results/figures/paper/scdeal_fig3c_A_sensitive_scores.png"
    assert [f.path for f in plan if f.panel.key == "codeae_fig3a" and f.cohort == "pdtc"] == \
        ["results/figures/paper/codeae_fig3a_pdtc_auroc.png"]


def test_each_missing_panel_says_why():
    inputs = FigureInputs(datasets={"A": "x", "U": "y"}, labelled=["A"], pseudotime=["A"],
                          codeae_methods=["codeae_adv", "mlp"],
                          cohorts={"tcga": {"format": "xena", "labelled": True, "phenotype": False},
                                   "mine": {"format": "table", "labelled": False, "phenotype": False}},
                          bicluster_cohort="tcga")
    plan = plan_panels(inputs)
    reasons = by_reason(plan)
    assert "evaluation is off" in reasons[("scdeal_fig2b", "", "")]
    assert "evaluation is off" in reasons[("scdeal_fig2_subsampling", "", "")]
    assert reasons[("scdeal_fig2d", "", "")] is None  # drawn from the workflow's own models
    assert reasons[("scdeal_fig3a", "U", "")] is None
    assert "no ground truth" in reasons[("scdeal_fig3b", "U", "")]
    assert "no ground truth" in reasons[("scdeal_fig3c", "U", "sensitive")]
    assert "pseudotime" in reasons[("scdeal_fig5ab", "U", "")]
    assert "method ae" in reasons[("codeae_fig2b", "", "")]
    assert "sex-confounder" in reasons[("codeae_fig2dg", "", "")]
    assert "no pdtc cohort" in reasons[("codeae_fig3a", "", "")]
    assert ("codeae_fig3a", "tcga", "") not in reasons  # a patient cohort is not a tumour-model panel
    assert "no response labels" in reasons[("codeae_fig4a", "mine", "")]
    assert "phenotype" in reasons[("codeae_fig5b", "", "")]
    missing, drawn = missing_table(plan), panel_table(plan)
    assert len(missing) + len(drawn) == len(plan)
    assert missing["reason"].str.len().gt(0).all()
    assert set(drawn.columns) == {"paper", "panel", "dataset", "group", "shows", "file"}


def test_without_the_codeae_arm_its_panels_are_missing():
    plan = plan_panels(FigureInputs(datasets={"A": "x"}, labelled=["A"]))
    for f in plan:
        if f.panel.paper == "CODE-AE":
            assert f.path is None and f.reason
    assert any(f.panel.key == "drugshift_cd" and f.reason == "no cohort configured" for f in plan)


def test_cell_tables_join_by_cell_id_and_name_what_is_missing():
    cells = ad.AnnData(np.zeros((3, 2)), obs=pd.DataFrame(index=["c1", "c2", "c3"]))
    umap = pd.DataFrame({"cell": ["c3", "c1", "c2"], "UMAP1": [3.0, 1.0, 2.0], "UMAP2": [0.0, 0.0, 0.0]})
    pt = pd.DataFrame({"cell": ["c1", "c2", "c3"], "pseudotime": [0.1, 0.2, 0.3], "DC1": [1, 2, 3], "DC2": [0, 0, 1]})
    scores = pd.DataFrame({"cell": ["c1", "c2", "c3"], "sensitive_predicted_degs": [1, 0, 0.5],
                           "resistant_predicted_degs": [0, 1, 0.5]})
    attach_cell_tables(cells, umap=umap, pseudotime=pt, deg_scores=scores)
    assert cells.obsm["X_umap"][:, 0].tolist() == [1.0, 2.0, 3.0]
    assert cells.obsm["X_diffmap"].shape == (3, 2)
    assert cells.obs["resistant_score"].tolist() == [0, 1, 0.5]
    with pytest.raises(ValueError, match="UMAP table lacks 1 of the 3 cells"):
        attach_cell_tables(cells, umap=umap.iloc[:2])
    # A group without DEGs has no score column: the other group's score is still joined.
    fresh = ad.AnnData(np.zeros((3, 2)), obs=pd.DataFrame(index=["c1", "c2", "c3"]))
    attach_cell_tables(fresh, deg_scores=scores.drop(columns="sensitive_predicted_degs"))
    assert "resistant_score" in fresh.obs and "sensitive_score" not in fresh.obs


def test_a_panel_without_data_says_why():
    from drugshift.plots import note_figure

    fig = note_figure("sensitive DEG scores", "No sensitive DEG score: 0 DEGs of the predicted labels.")
    ax = fig.axes[0]
    assert ax.get_title() == "sensitive DEG scores" and not ax.axison
    assert "0 DEGs of the predicted labels" in ax.texts[0].get_text()


def test_top_critical_gene_prefers_passing_genes_then_the_best_score():
    table = pd.DataFrame({"gene": ["a", "b", "c", "d"], "group": ["sensitive"] * 2 + ["resistant"] * 2,
                          "score": [5.0, 9.0, 1.0, 2.0], "critical": [True, False, False, False]})
    assert top_critical_gene(table, "sensitive") == "a"
    assert top_critical_gene(table, "resistant") == "d"
    with pytest.raises(ValueError, match="no other gene"):
        top_critical_gene(table.assign(group="sensitive"), "other")


def test_sample_annotations_from_xena_or_a_plain_table(tmp_path):
    xena = tmp_path / "pheno.tsv"
    xena.write_text("sample\tsample_type\t_primary_disease\t_gender\n"
                    "P1\tPrimary Tumor\tlung adenocarcinoma\tFEMALE\nP2\tPrimary Tumor\tmelanoma\tmale\n"
                    "P3\tPrimary Tumor\tmelanoma\t\n")
    table = read_samples(xena)
    assert table.loc["P1", "tumour_type"] == "lung adenocarcinoma"
    assert table["sex"].tolist()[:2] == ["Female", "Male"] and pd.isna(table.loc["P3", "sex"])
    plain = tmp_path / "samples.csv"
    plain.write_text("id,sex,extra\nA,F,1\nB,female,2\n")
    table = read_samples(plain)
    assert list(table.columns) == ["tumour_type", "sample_type", "sex"]
    assert table["sex"].tolist()[1] == "Female" and pd.isna(table.loc["A", "sex"])  # only Female/Male kept
    bad = tmp_path / "bad.csv"
    bad.write_text("id,colour\nA,red\n")
    with pytest.raises(InputError, match="tumour_type"):
        read_samples(bad)


def test_samples_match_by_id_or_by_tcga_patient_barcode():
    table = pd.DataFrame({"tumour_type": ["glioma (metastasis)", "glioma", "melanoma"],
                          "sample_type": ["Metastatic", "Primary Tumor", "Primary Tumor"], "sex": ["Male", None, None]},
                         index=pd.Index(["TCGA-AA-0001-06", "TCGA-AA-0001-01", "P3"], name="sample"))
    matched = match_samples(table, ["P3", "TCGA-AA-0001", "TCGA-ZZ-9999", "TCGA-AA-0001-06"])
    assert matched["tumour_type"].tolist()[:2] == ["melanoma", "glioma"]  # the patient's primary tumour
    assert matched.iloc[2].isna().all()
    assert matched.loc["TCGA-AA-0001-06", "tumour_type"] == "glioma (metastasis)"  # an exact id wins


def test_tumour_types_become_tcga_study_codes():
    from drugshift.cohorts import TCGA_STUDIES, tcga_study

    assert len(TCGA_STUDIES) == 33 and len(set(TCGA_STUDIES.values())) == 33
    codes = tcga_study(pd.Series(["lung adenocarcinoma", "LUAD", "Lung Cancer", None]))
    assert codes.tolist()[:3] == ["LUAD", "LUAD", "Lung Cancer"] and pd.isna(codes.iloc[3])
