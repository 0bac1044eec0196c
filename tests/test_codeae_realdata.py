"""CODE-AE on real data (../shared/data), a small subset: GDSC cell lines + TCGA + PDTC expression,
two drugs, few epochs. The full benchmark is tests/run_codeae_realdata.py with
tests/configs/codeae_realdata.yaml."""

import copy
import json
import logging

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, requires_shared_data

pytestmark = requires_shared_data


@pytest.fixture(scope="module")
def subset():
    """The real-data config cut down to cisplatin (TCGA) and one PDTC drug, small networks."""
    import run_codeae_realdata as runner

    cfg = yaml.safe_load((ROOT / "tests/configs/codeae_realdata.yaml").read_text())
    cfg["tcga"] = {"cisplatin": "Cisplatin"}
    cfg["pdtc_drugs"] = ["AZD7762"]
    cfg["codeae"].update(encoder_hidden=[64, 32], latent=16, decoder_hidden=[32, 64], critic_hidden=[16, 8],
                         epochs_warmup=2, epochs=3, log_every=100)
    cfg["finetune"].update(classifier_hidden=[16, 8], epochs=8, patience=3, n_folds=3, log_every=100)
    log = logging.getLogger("codeae_realdata_test")
    return runner, cfg, runner.load_real_data(cfg, log), log


def test_real_inputs_are_aligned(subset):
    _, _, data, _ = subset
    genes = data["genes"]
    assert 1200 < len(genes) <= 1426  # ~1277 of the 1426 TCGA/PDTC genes are in the GDSC file
    assert list(data["source"].columns) == genes and list(data["target"].columns) == genes
    assert data["source"].shape[0] > 900 and data["target"].shape[0] == 40 + 39
    for frame in (data["source"], data["tcga_std"], data["pdtc_std"]):
        assert np.allclose(frame.mean().abs().max(), 0, atol=1e-4)  # z-scored within each source


def test_subset_benchmark_runs_end_to_end(subset, tmp_path):
    runner, cfg, data, log = subset
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = ["codeae_adv", "mlp"]
    table = runner.run_on_data(cfg, data, tmp_path, log)
    assert set(table["cohort"]) == {"gdsc_cv", "tcga", "pdtc"}
    assert set(table["method"]) == {"codeae_adv", "mlp"}
    assert set(table["drug"]) == {"Cisplatin", "AZD7762", "AZD7762 (AZD7762)"}
    assert np.isfinite(table["AUROC"]).all() and np.isfinite(table["AUPRC"]).all()
    tcga = table[table["cohort"] == "tcga"]
    assert (tcga["n"] == 40).all()  # every cisplatin patient has a clinical label
    # Cell-line CV is above chance even with these few epochs: the labels are learnable.
    assert table.loc[table["cohort"] == "gdsc_cv", "AUROC"].mean() > 0.6
    pre = json.loads((tmp_path / "pretrain.json").read_text())
    assert pre["domain_auroc_input"] > 0.9  # GDSC and patients are separable before alignment
    assert 0.0 <= pre["codeae_adv"]["domain_auroc_embedding"] <= 1.0
    summary = pd.read_csv(tmp_path / "rank_summary.tsv", sep="\t")
    assert set(summary["method"]) == {"codeae_adv", "mlp"}
    common = pd.read_csv(tmp_path / "rank_summary_common.tsv", sep="\t")
    assert set(common["method"]) == {"codeae_adv", "mlp"} and (common["n_drugs"] >= 1).all()


def test_patient_labels_do_not_reach_training(subset, tmp_path):
    """Permuting the PDTC and TCGA labels changes the scores but not a single prediction."""
    runner, cfg, data, log = subset
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = ["mlp"]
    cfg["measure_domain_auroc"] = False
    runner.run_on_data(cfg, data, tmp_path / "a", log)
    shuffled = dict(data)
    rng = np.random.default_rng(0)
    shuffled["pdtc_labels"] = {k: pd.Series(rng.permutation(v.to_numpy()), index=v.index)
                               for k, v in data["pdtc_labels"].items()}
    shuffled["tcga"] = {k: (d, x, pd.Series(rng.permutation(y.to_numpy()), index=y.index))
                        for k, (d, x, y) in data["tcga"].items()}
    runner.run_on_data(cfg, shuffled, tmp_path / "b", log)
    a = pd.read_csv(tmp_path / "a/predictions.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "b/predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(a, b)
    ta = pd.read_csv(tmp_path / "a/benchmark.tsv", sep="\t")
    tb = pd.read_csv(tmp_path / "b/benchmark.tsv", sep="\t")
    cv = ta["cohort"] == "gdsc_cv"
    pd.testing.assert_frame_equal(ta[cv], tb[cv])
    assert not np.allclose(ta.loc[~cv, "AUROC"], tb.loc[~cv, "AUROC"])


def test_an_interrupted_run_resumes_to_the_same_table(subset, tmp_path, monkeypatch):
    """A run stopped after the first drug and restarted gives the uninterrupted run's table; the
    restart reads the pretrained encoder back and trains nothing for the finished drug."""
    import drugshift.models.codeae as codeae

    runner, cfg, data, log = subset
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = ["codeae_adv", "mlp"]
    cfg["measure_domain_auroc"] = False
    whole = runner.run_on_data(cfg, data, tmp_path / "whole", log)
    runner.run_on_data(cfg, data, tmp_path / "resumed", log, max_drugs=1)
    assert (tmp_path / "resumed/encoders/codeae_adv.pt").exists()
    first = pd.read_csv(tmp_path / "resumed/benchmark.tsv", sep="\t")
    assert first["drug"].str.startswith("AZD7762").all()

    def no_pretraining(*args, **kwargs):
        raise AssertionError("the saved encoder should have been read back")

    trained = []
    cross_validate = codeae.cross_validate_method

    def recording(method, *args, **kwargs):
        trained.append((method, args[-1]))
        return cross_validate(method, *args, **kwargs)

    monkeypatch.setattr(codeae, "pretrain_method", no_pretraining)
    monkeypatch.setattr(codeae, "cross_validate_method", recording)
    resumed = runner.run_on_data(cfg, data, tmp_path / "resumed", log)
    assert trained == [("codeae_adv", "codeae_adv Cisplatin"), ("mlp", "mlp Cisplatin")]
    key = ["method", "cohort", "drug", "fold"]
    pd.testing.assert_frame_equal(resumed.sort_values(key).reset_index(drop=True),
                                  whole.sort_values(key).reset_index(drop=True), check_exact=False, atol=1e-4)
    preds = pd.read_csv(tmp_path / "resumed/predictions.tsv", sep="\t")
    assert len(preds) == len(pd.read_csv(tmp_path / "whole/predictions.tsv", sep="\t"))


def test_a_resume_with_another_configuration_is_refused(subset, tmp_path):
    runner, cfg, data, log = subset
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = ["mlp"]
    cfg["measure_domain_auroc"] = False
    runner.run_on_data(cfg, data, tmp_path, log, max_drugs=1)
    cfg["finetune"]["epochs"] += 1
    with pytest.raises(SystemExit, match="another configuration"):
        runner.run_on_data(cfg, data, tmp_path, log)


def test_unfinished_pairs_are_run_again(tmp_path):
    import run_codeae_realdata as runner

    table = pd.DataFrame({"method": ["m"] * 4 + ["n"] * 2, "cohort": ["gdsc_cv", "gdsc_cv", "pdtc", "tcga", "gdsc_cv", "pdtc"],
                          "drug": ["A", "A", "A (a)", "A", "A", "A (a)"], "fold": [0, 1, 0, 0, 0, 0], "AUROC": 0.5})
    table.to_csv(tmp_path / "benchmark.tsv", sep="\t", index=False)
    pd.DataFrame({"method": ["m", "n"], "drug": ["A", "A"], "sens_prob": [0.1, 0.2]}).to_csv(
        tmp_path / "predictions.tsv", sep="\t", index=False)
    rows, preds, done = runner.finished_pairs(tmp_path / "benchmark.tsv", tmp_path / "predictions.tsv", n_folds=2)
    assert done == {("m", "A")}  # n has 1 of 2 folds: dropped, run again
    assert len(rows) == 4 and {r["method"] for r in rows} == {"m"}
    assert preds[0]["method"].tolist() == ["m"]
