"""Patient / tumour-model cohorts as config entries: checks, formats, values, labels."""

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from drugshift.cohorts import Cohort, cohort_labels, read_drug_names, read_expression, to_log_scale


def read_cohort(cohort, drugs):
    expression = read_expression(cohort)
    return expression, cohort_labels(cohort, drugs, expression.index)
from drugshift.params import ConfigError


@pytest.mark.parametrize(("name", "entry", "message"), [
    ("gdsc_cv", {"format": "table", "expression": "x.csv", "values": "log"}, "patients.gdsc_cv: the name"),
    ("c", {"format": "gct", "expression": "x.csv", "values": "log"}, "patients.c.format: expected one of"),
    ("c", {"format": "table", "expression": "x.csv", "values": "log", "probemap": "p"}, "patients.c.probemap: not a key"),
    ("c", {"format": "table", "expression": "x.csv"}, "patients.c.values: required"),
    ("c", {"format": "table", "expression": "x.csv", "values": "fpkm"}, "patients.c.values: expected one of"),
    ("c", {"format": "pdtc", "expression": "x.csv", "values": "log", "labels": {"A": "a.csv"}},
     "patients.c.labels: a drug → file mapping is for format table"),
    ("c", {"format": "table", "expression": "x.csv", "values": "log", "labels": "y.csv"},
     "patients.c.labels: format table takes one label file with `drug`"),
    ("c", {"format": "table", "expression": "x.csv", "values": "log", "labels": {"A": "a.csv"}, "drug": "A"},
     "patients.c.drug: not with"),
])
def test_a_bad_cohort_entry_is_named_by_its_path(name, entry, message):
    with pytest.raises(ConfigError, match=message):
        Cohort.from_config(name, entry)


def test_to_log_scale():
    counts = pd.DataFrame({"a": [1.0, 0.0], "b": [3.0, 4.0]}, index=["s1", "s2"])
    cpm = to_log_scale(counts, "counts")
    assert cpm.loc["s1", "a"] == pytest.approx(np.log2(0.25e6 + 1))
    assert cpm.loc["s2", "b"] == pytest.approx(np.log2(1e6 + 1))
    assert to_log_scale(counts, "tpm").loc["s1", "b"] == pytest.approx(2.0)
    assert to_log_scale(counts - 2, "log").equals(counts - 2)
    with pytest.raises(ValueError, match="cannot be negative"):
        to_log_scale(counts - 2, "tpm")


def test_a_table_cohort_stacks_its_files_and_reads_one_label_file_per_drug(tmp_path):
    pd.DataFrame({"g1": [1.0, 2.0], "g2": [3.0, 4.0], "g3": [0.0, 0.0]}, index=["p1", "p2"]).to_csv(tmp_path / "a.csv")
    pd.DataFrame({"g2": [5.0, 6.0], "g1": [7.0, 8.0]}, index=["p2", "p3"]).to_csv(tmp_path / "b.csv", sep="\t")
    pd.DataFrame({"0": [1, 0]}, index=["p1", "p3"]).to_csv(tmp_path / "drug_a.csv")
    pd.DataFrame({"0": [0, 1, 1]}, index=["p2", "p3", "p9"]).to_csv(tmp_path / "drug_b.csv")
    cohort = Cohort.from_config("mine", {
        "format": "table", "expression": [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], "values": "normalised",
        "labels": {"Drug A": str(tmp_path / "drug_a.csv"), "Drug B": str(tmp_path / "drug_b.csv")}})
    assert cohort.label_files() == {"labels": [str(tmp_path / "drug_a.csv"), str(tmp_path / "drug_b.csv")]}
    assert cohort.expression_files() == {"expression": [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]}
    expression, labels = read_cohort(cohort, ["Drug B", "Drug A", "Drug C"])
    assert list(expression.columns) == ["g1", "g2"]  # shared genes, first file's order
    assert list(expression.index) == ["p1", "p2", "p3"]  # p2 kept once (first file)
    assert expression.loc["p2", "g1"] == 2.0
    assert labels.to_dict("records") == [
        {"sample": "p2", "drug": "Drug B", "label": 0}, {"sample": "p3", "drug": "Drug B", "label": 1},
        {"sample": "p1", "drug": "Drug A", "label": 1}, {"sample": "p3", "drug": "Drug A", "label": 0}]
    unlabelled = Cohort.from_config("u", {"format": "table", "expression": str(tmp_path / "a.csv"), "values": "log"})
    assert read_cohort(unlabelled, ["Drug A"])[1].empty and unlabelled.label_files() == {}


def test_xena_labels_follow_recist_per_patient(demo_world):
    """The demo's TCGA cohort: a patient counts as a responder if any record of the drug responded;
    samples are matched to patients by the 12-character barcode."""
    from drugshift.io.tcga import read_clinical_drug, recist_label

    folder, truth = demo_world
    cohort = Cohort.from_config("tcga", {"format": "xena", "expression": str(folder / "tcga/tcga_RSEM_gene_tpm.tsv.gz"),
                                         "values": "log", "labels": str(folder / "tcga/clinical_drug.txt")})
    drugs = list(truth["drugs"])
    expression, labels = read_cohort(cohort, drugs)
    clinical = read_clinical_drug(folder / "tcga/clinical_drug.txt")
    clinical["label"] = recist_label(clinical["best_response"])
    for drug in drugs:
        expected = clinical[clinical["drug"] == drug.lower()].dropna(subset=["label"]).groupby("patient")["label"].max()
        got = labels[labels["drug"] == drug].set_index("sample")["label"]
        assert len(got) == len(expected) > 0
        assert (got.rename(index=lambda s: s[:12]).sort_index() == expected.sort_index().astype(int)).all()
    assert set(labels["sample"]) <= set(expression.index)


def test_pdtc_labels_use_the_cohorts_drug_names(demo_world, tmp_path):
    folder, _ = demo_world
    entry = {"format": "pdtc", "expression": str(folder / "pdtc/ExpressionModels.csv"), "values": "log",
             "labels": str(folder / "pdtc/DrugResponsesAUCModels.txt")}
    response = pd.read_csv(folder / "pdtc/DrugResponsesAUCModels.txt", sep="\t")
    pdtc_name = response["Drug"].iloc[0]
    (tmp_path / "names.tsv").write_text(f"gdsc_drug\tcohort_drug\nGDSC name\t{pdtc_name}\n")
    renamed = Cohort.from_config("pdtc", {**entry, "drugs": str(tmp_path / "names.tsv")})
    _, by_map = read_cohort(renamed, ["GDSC name"])
    _, direct = read_cohort(Cohort.from_config("pdtc", entry), [pdtc_name])
    assert len(by_map) == len(direct) > 0
    assert by_map["label"].tolist() == direct["label"].tolist()
    auc = response[response["Drug"] == pdtc_name].set_index("Model")["AUC"]
    assert by_map.set_index("sample")["label"].to_dict() == (auc < auc.median()).astype(int).to_dict()


def test_drug_names_read_either_layout(tmp_path):
    names = read_drug_names(ROOT / "resources/pdtc_drug_names.tsv")
    assert len(names) == 20 and names["Rucaparib"] == "AG-014699" and names["PLX-4720"] == "PLX4720"
    (tmp_path / "map.csv").write_text(",gdsc_name,drug_name,ptdc_count\nruc,Rucaparib,AG-014699,22\n")
    assert read_drug_names(tmp_path / "map.csv") == {"Rucaparib": "AG-014699"}


def test_labels_are_empty_for_a_cohort_without_them():
    cohort = Cohort.from_config("c", {"format": "table", "expression": "x.csv", "values": "log"})
    labels = cohort_labels(cohort, ["A"], ["s1", "s2"])
    assert labels.empty and list(labels.columns) == ["sample", "drug", "label"]


def test_score_drugs_restricts_the_labelled_drugs(tmp_path):
    pd.DataFrame({"0": [1, 0]}, index=["p1", "p2"]).to_csv(tmp_path / "y.csv")
    files = {"A": str(tmp_path / "y.csv"), "B": str(tmp_path / "y.csv")}
    entry = {"format": "table", "expression": "x.csv", "values": "log", "labels": files}
    every = cohort_labels(Cohort.from_config("c", entry), ["A", "B"], ["p1", "p2"])
    only_b = cohort_labels(Cohort.from_config("c", {**entry, "score_drugs": ["B"]}), ["A", "B"], ["p1", "p2"])
    assert set(every["drug"]) == {"A", "B"} and set(only_b["drug"]) == {"B"}
    with pytest.raises(ConfigError, match="patients.c.score_drugs: expected a list"):
        Cohort.from_config("c", {**entry, "score_drugs": "B"})
