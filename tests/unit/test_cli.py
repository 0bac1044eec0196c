"""`drugshift predict` / `drugshift inspect` and the Python API (drugshift.load_model,
drugshift.apply) on tiny models trained here."""

import json
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import drugshift
from drugshift.cli import main
from drugshift.models.codeae import DrugResponseModel
from drugshift.models.scdeal import ScDEAL, ScDEALParams
from drugshift.params import resolve_codeae_params

N_GENES = 20
GENES = [f"G{i:02d}" for i in range(N_GENES)]


@pytest.fixture(scope="module")
def scdeal_dir(tmp_path_factory):
    """A tiny scDEAL model trained on processed cells (AnnData with the scaler columns)."""
    rng = np.random.default_rng(0)
    yb = (rng.random(60) < 0.5).astype(int)
    signal = np.r_[np.ones(4), -np.ones(4), np.zeros(N_GENES - 8)]
    Xb = (0.5 + 0.2 * (yb[:, None] - 0.5) * signal + rng.normal(0, 0.1, (60, N_GENES))).astype(np.float32)
    yc = (rng.random(50) < 0.5).astype(int)
    Xc = (0.4 + 0.2 * (yc[:, None] - 0.5) * signal + rng.normal(0, 0.1, (50, N_GENES))).astype(np.float32)
    bulk = pd.DataFrame(Xb, index=[f"line{i}" for i in range(60)], columns=GENES)
    cells = ad.AnnData(Xc, obs=pd.DataFrame({"response": yc}, index=[f"c{i}" for i in range(50)]),
                       var=pd.DataFrame(index=GENES))
    for col, value in (("sc_min", 0.1), ("sc_max", 0.9), ("bulk_min", -1.0), ("bulk_max", 1.0)):
        cells.var[col] = value
    cells.uns["values"] = "counts"
    params = ScDEALParams(bulk_hidden=[16, 8], sc_hidden=[16, 8], bulk_bottleneck=4, predictor_hidden=[4],
                          batch_size=16, epochs_dae=2, epochs_predictor=2, epochs_joint=2, patience=5,
                          lr_decay_patience=None, log_every=1000, leiden_neighbors="gauss")
    model = ScDEAL(params, device="cpu").fit(bulk, yb, cells, drug="Demotinib", dataset="DEMO",
                                             clusters=np.zeros(cells.n_obs))
    folder = tmp_path_factory.mktemp("scdeal") / "model"
    model.save(folder)
    path = folder.parent / "cells.h5ad"
    cells.write_h5ad(path)
    return folder, path, cells


@pytest.fixture(scope="module")
def codeae_dir(tmp_path_factory):
    """A tiny CODE-AE drug model (the MLP baseline: no pretraining needed) on z-scored cell lines."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, N_GENES)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=90) > 0).astype(int)
    frame = pd.DataFrame(X, index=[f"S{i}" for i in range(90)], columns=GENES)
    config = {"seed": 42, "codeae": {
        "params": dict(encoder_hidden=[16, 8], latent=4, decoder_hidden=[8, 16], critic_hidden=[4, 4], lr=1e-3,
                       batch_size=32, warmup_epochs=1, pretrain_epochs=1, log_every=100),
        "finetune": dict(classifier_hidden=[4], lr=1e-2, batch_size=32, max_epochs=3, patience=2, n_folds=3,
                         log_every=100),
        "baselines": dict(hidden=[16, 8], latent=4, max_epochs=1, warmup_epochs=1, log_every=100)}}
    model = DrugResponseModel("mlp", "Demotinib", resolve_codeae_params(config, "mlp"), genes=GENES,
                              standardisation={"patients": (np.full(N_GENES, 2.0), np.full(N_GENES, 3.0))})
    model.fit(frame, y, device="cpu")
    folder = tmp_path_factory.mktemp("codeae") / "model"
    model.save(folder)
    path = folder.parent / "samples.csv"
    frame.to_csv(path)
    labels = folder.parent / "labels.csv"
    pd.DataFrame({"label": y}, index=frame.index).to_csv(labels)
    return folder, path, frame, labels


def read(path):
    return pd.read_csv(path, index_col=0, float_precision="round_trip")


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"drugshift {drugshift.__version__}"


def test_module_help_runs_in_a_subprocess():
    res = subprocess.run([sys.executable, "-m", "drugshift.cli", "predict", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "transductive" in res.stdout and "example:" in res.stdout


def test_load_model_picks_the_class_by_kind(scdeal_dir, codeae_dir):
    assert isinstance(drugshift.load_model(scdeal_dir[0]), ScDEAL)
    assert isinstance(drugshift.load_model(codeae_dir[0]), DrugResponseModel)


def test_scdeal_predict_equals_the_models_own_predictions(scdeal_dir, tmp_path):
    folder, path, cells = scdeal_dir
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(out)]) == 0
    own = ScDEAL.load(folder).predict(cells)
    got = read(out)
    np.testing.assert_array_equal(got["sens_prob"].to_numpy(), own)
    assert list(got.index) == list(cells.obs_names) and "sens_prob_sd" not in got


def test_scdeal_h5ad_output_and_csv_input_agree(scdeal_dir, tmp_path):
    folder, path, cells = scdeal_dir
    csv = tmp_path / "cells.csv"
    cells.to_df().to_csv(csv)
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(tmp_path / "a.h5ad")]) == 0
    assert main(["predict", "--model", str(folder), "--input", str(csv), "--output", str(tmp_path / "b.csv")]) == 0
    a = ad.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(a.obs["sens_prob"].to_numpy(), read(tmp_path / "b.csv")["sens_prob"].to_numpy())
    assert set(a.obs["sens_label"]) <= {0, 1} and "response" in a.obs


def test_scdeal_shuffled_genes_and_log_values(scdeal_dir, tmp_path):
    folder, path, cells = scdeal_dir
    frame = cells.to_df()
    shuffled = frame[list(np.random.default_rng(0).permutation(GENES))]
    shuffled.to_csv(tmp_path / "shuffled.csv")
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "shuffled.csv"),
                 "--output", str(tmp_path / "s.csv")]) == 0
    np.testing.assert_array_equal(read(tmp_path / "s.csv")["sens_prob"].to_numpy(),
                                  ScDEAL.load(folder).predict(cells))
    # --values log applies the card's cell scaler (min 0.1, max 0.9): unscaled log values give the same result
    (frame * 0.8 + 0.1).to_csv(tmp_path / "log.csv")
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "log.csv"), "--values", "log",
                 "--output", str(tmp_path / "l.csv")]) == 0
    np.testing.assert_allclose(read(tmp_path / "l.csv")["sens_prob"], ScDEAL.load(folder).predict(cells), atol=1e-5)


def test_codeae_predict_equals_the_models_own_predictions(codeae_dir, tmp_path):
    folder, path, frame, _ = codeae_dir
    out = tmp_path / "pred.parquet"
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(out)]) == 0
    got = pd.read_parquet(out).set_index("sample")
    own = DrugResponseModel.load(folder).predict(frame)
    pd.testing.assert_frame_equal(got[["sens_prob", "sens_prob_sd", "sens_label"]],
                                  own[["sens_prob", "sens_prob_sd", "sens_label"]], check_names=False,
                                  check_dtype=False)


def test_codeae_shuffled_genes_h5ad_and_domain(codeae_dir, tmp_path):
    folder, path, frame, _ = codeae_dir
    shuffled = frame[GENES[::-1]]
    shuffled.to_csv(tmp_path / "shuffled.tsv", sep="\t")
    adata = ad.AnnData(frame.to_numpy(), obs=pd.DataFrame(index=frame.index), var=pd.DataFrame(index=GENES))
    adata.write_h5ad(tmp_path / "samples.h5ad")
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(tmp_path / "a.csv")]) == 0
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "shuffled.tsv"),
                 "--output", str(tmp_path / "b.csv")]) == 0
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "samples.h5ad"),
                 "--output", str(tmp_path / "c.h5ad")]) == 0
    a = read(tmp_path / "a.csv")
    pd.testing.assert_frame_equal(a, read(tmp_path / "b.csv"))
    c = ad.read_h5ad(tmp_path / "c.h5ad").obs
    np.testing.assert_array_equal(c["sens_prob"].to_numpy(), a["sens_prob"].to_numpy())
    np.testing.assert_array_equal(c["sens_prob_sd"].to_numpy(), a["sens_prob_sd"].to_numpy())
    # --domain applies the stored mean (2) and SD (3) of that training domain
    (frame * 3.0 + 2.0).to_csv(tmp_path / "raw.csv")
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "raw.csv"), "--domain", "patients",
                 "--output", str(tmp_path / "d.csv")]) == 0
    np.testing.assert_allclose(read(tmp_path / "d.csv")["sens_prob"], a["sens_prob"], atol=1e-5)


def test_labels_write_metrics(codeae_dir, tmp_path):
    folder, path, frame, labels = codeae_dir
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(out),
                 "--labels", str(labels), "--label-column", "label"]) == 0
    metrics = json.loads((tmp_path / "pred.metrics.json").read_text())
    assert metrics["n"] == len(frame) and 0 <= metrics["auroc"] <= 1 and metrics["n_unlabelled"] == 0


def test_low_overlap_exits_2_with_one_line(codeae_dir, tmp_path, capsys):
    folder, path, frame, _ = codeae_dir
    small = tmp_path / "few_genes.csv"
    frame[GENES[:6]].to_csv(small)  # 30 % of the model's genes
    assert main(["predict", "--model", str(folder), "--input", str(small), "--output", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(folder) in err and str(small) in err and "6 of the model's 20 genes (30.0%)" in err
    assert not (tmp_path / "x.csv").exists()
    # a lower threshold accepts it; missing genes become 0 (the z-scored mean)
    assert main(["predict", "--model", str(folder), "--input", str(small), "--min-overlap", "0.3",
                 "--output", str(tmp_path / "x.csv")]) == 0
    filled = frame.copy()
    filled[GENES[6:]] = 0.0
    np.testing.assert_array_equal(read(tmp_path / "x.csv")["sens_prob"].to_numpy(),
                                  DrugResponseModel.load(folder).predict(filled)["sens_prob"].to_numpy())


def test_user_errors_exit_2(codeae_dir, tmp_path, capsys):
    folder, path, _, _ = codeae_dir
    assert main(["predict", "--model", str(tmp_path / "nope"), "--input", str(path),
                 "--output", str(tmp_path / "x.csv")]) == 2
    assert "no such model folder" in capsys.readouterr().err
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "missing.csv"),
                 "--output", str(tmp_path / "x.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
    with pytest.raises(ValueError):
        main(["--debug", "predict", "--model", str(tmp_path / "nope"), "--input", str(path),
              "--output", str(tmp_path / "x.csv")])


def test_inspect_prints_drug_and_genes(scdeal_dir, codeae_dir, capsys):
    for folder in (scdeal_dir[0], codeae_dir[0]):
        assert main(["inspect", str(folder)]) == 0
        out = capsys.readouterr().out
        assert "drug: Demotinib" in out and "genes: 20 (first: G00, G01" in out and "format: drugshift-model" in out
    assert main(["inspect", str(codeae_dir[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "codeae-drug"


def test_counts_like_input_declared_normalised_is_warned(scdeal_dir, tmp_path, capsys):
    folder, _, cells = scdeal_dir
    counts = tmp_path / "counts.csv"
    (cells.to_df() * 100).round().to_csv(counts)
    assert main(["predict", "--model", str(folder), "--input", str(counts), "--output", str(tmp_path / "x.csv")]) == 0
    assert "is --values counts, tpm or log meant?" in capsys.readouterr().err
    assert main(["predict", "--model", str(folder), "--input", str(counts), "--values", "counts",
                 "--output", str(tmp_path / "y.csv")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_scdeal_reads_a_10x_mtx_folder(scdeal_dir, tmp_path):
    import scipy.io
    import scipy.sparse as sp

    folder, path, cells = scdeal_dir
    mtx = tmp_path / "mtx"
    mtx.mkdir()
    scipy.io.mmwrite(mtx / "matrix.mtx", sp.coo_matrix(np.asarray(cells.X).T))
    pd.DataFrame({"id": [f"ENSG{i}" for i in range(N_GENES)], "symbol": GENES}).to_csv(
        mtx / "features.tsv", sep="\t", header=False, index=False)
    pd.Series(cells.obs_names).to_csv(mtx / "barcodes.tsv", sep="\t", header=False, index=False)
    assert main(["predict", "--model", str(folder), "--input", str(mtx), "--output", str(tmp_path / "m.csv")]) == 0
    np.testing.assert_allclose(read(tmp_path / "m.csv")["sens_prob"], ScDEAL.load(folder).predict(cells), atol=1e-6)


def test_retrain_on_the_training_cells_reproduces_the_saved_model(scdeal_dir):
    """The folder keeps the bulk training data and the random state at the start of the
    transfer, so refitting steps 3-4 on the same cells gives the same model, weight for weight."""
    import torch

    folder, _, cells = scdeal_dir
    saved = ScDEAL.load(folder)
    again = saved.retrain(cells, clusters=np.zeros(cells.n_obs))
    np.testing.assert_array_equal(again.predict(cells), saved.predict(cells))
    for part in ("sc_dae", "predictor", "bulk_dae"):
        for a, b in zip(getattr(again.module, part).state_dict().values(),
                        getattr(saved.module, part).state_dict().values()):
            assert torch.equal(a, b)


def test_predict_retrain_on_new_cells(scdeal_dir, tmp_path, capsys):
    """--retrain refits the transfer on another dataset's counts; the bulk model is reused as it was."""
    import torch

    folder, _, cells = scdeal_dir
    rng = np.random.default_rng(5)
    counts = pd.DataFrame(rng.poisson(20 * (cells.X + 0.3)), index=[f"n{i}" for i in range(cells.n_obs)],
                          columns=GENES).iloc[:, 2:]  # another dataset, two genes short
    counts.to_csv(tmp_path / "new.csv")
    out, kept = tmp_path / "new_pred.h5ad", tmp_path / "retrained"
    assert main(["predict", "--model", str(folder), "--retrain", "--input", str(tmp_path / "new.csv"),
                 "--values", "counts", "--output", str(out), "--save-model", str(kept)]) == 0
    err = capsys.readouterr().err
    assert "retraining the transfer" in err and "18 of the model's 20 genes" in err and "joint" in err
    pred = ad.read_h5ad(out)
    assert list(pred.obs_names) == list(counts.index) and pred.obs["sens_prob"].between(0, 1).all()
    retrained, saved = ScDEAL.load(kept), ScDEAL.load(folder)
    for part in ("source_encoder", "source_predictor"):
        for a, b in zip(getattr(retrained.module, part).state_dict().values(),
                        getattr(saved.module, part).state_dict().values()):
            assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(retrained.module.sc_dae.state_dict().values(),
                                                      saved.module.sc_dae.state_dict().values()))
    card = json.loads((kept / "model.json").read_text())
    assert card["retrained_from"]["cells"] == "DEMO" and card["training_data"]["n_cells"] == cells.n_obs
    assert main(["inspect", str(kept)]) == 0
    assert "retrained from:" in capsys.readouterr().out


def test_retrain_flags_are_checked(scdeal_dir, codeae_dir, tmp_path, capsys):
    folder, path, _ = scdeal_dir
    assert main(["predict", "--model", str(folder), "--input", str(path), "--output", str(tmp_path / "a.csv"),
                 "--save-model", str(tmp_path / "m")]) == 2
    assert "--save-model needs --retrain" in capsys.readouterr().err
    cfolder, cpath, _, _ = codeae_dir
    assert main(["predict", "--model", str(cfolder), "--input", str(cpath), "--output", str(tmp_path / "b.csv"),
                 "--retrain"]) == 2
    assert "scDEAL models only" in capsys.readouterr().err


def test_sparse_counts_equal_dense_counts(scdeal_dir):
    import scipy.sparse as sp

    folder, _, cells = scdeal_dir
    model = drugshift.load_model(folder)
    counts = np.round(np.asarray(cells.X) * 50)
    counts[counts < 15] = 0  # mostly zeros, as single-cell counts are
    dense = ad.AnnData(counts.astype(np.float32), obs=cells.obs[[]], var=cells.var[[]])
    sparse = ad.AnnData(sp.csr_matrix(counts.astype(np.float32)), obs=cells.obs[[]], var=cells.var[[]])
    a = drugshift.predict_samples(model, dense, values="counts").predictions
    b = drugshift.predict_samples(model, sparse, values="counts").predictions
    pd.testing.assert_frame_equal(a, b)


def test_transposed_table_gets_a_hint(codeae_dir, tmp_path, capsys):
    folder, _, frame, _ = codeae_dir
    frame.T.to_csv(tmp_path / "genes_by_samples.csv")
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "genes_by_samples.csv"),
                 "--output", str(tmp_path / "x.csv")]) == 2
    assert "--genes-in-rows" in capsys.readouterr().err
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "genes_by_samples.csv"),
                 "--genes-in-rows", "--output", str(tmp_path / "y.csv")]) == 0


def test_console_script_is_installed():
    """`pip install` (make demo / make test) puts a `drugshift` command beside the interpreter."""
    from pathlib import Path

    script = Path(sys.executable).with_name("drugshift")
    assert script.is_file(), f"no console script {script}: is the package installed (pip install -e .)?"
    done = subprocess.run([str(script), "predict", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--retrain" in done.stdout and "example:" in done.stdout


@pytest.mark.parametrize("command", ["predict", "inspect", "check-config"])
def test_every_option_is_documented(command):
    """docs/<command>.md names every option of the command's parser."""
    import argparse
    from pathlib import Path

    from drugshift.cli import _parser

    page = (Path(__file__).parents[2] / "docs" / f"{command}.md").read_text()
    sub = next(a for a in _parser()._actions if a.dest == "command").choices[command]
    options = [s for a in sub._actions for s in a.option_strings
               if s.startswith("--") and s != "--help" and a.help != argparse.SUPPRESS]
    assert options, command
    missing = [o for o in options if f"`{o}" not in page]
    assert not missing, f"docs/{command}.md does not document {missing}"


def test_check_config_names_the_line_of_a_yaml_error_and_the_key_of_a_bad_value(tmp_path, capsys):
    from pathlib import Path

    root = Path(__file__).parents[2]
    assert main(["check-config", str(root / "config/config.yaml"), "--workflow", str(root)]) == 0
    assert "valid (2 single-cell dataset(s)" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 42\nsc:\n  datasets:\n    A: {drug: x\n")
    assert main(["check-config", str(broken), "--workflow", str(root)]) == 2
    assert f"{broken}: line 5, column 1: not valid YAML" in capsys.readouterr().err
    import yaml

    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["scdeal"]["params"]["lr"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    assert main(["check-config", str(bad), "--workflow", str(root)]) == 2
    assert "scdeal.params" in capsys.readouterr().err


def test_a_retrained_card_keeps_the_bulk_side(scdeal_dir):
    folder, _, cells = scdeal_dir
    saved = ScDEAL.load(folder)
    card = saved.retrain(cells, dataset="NEW", clusters=np.zeros(cells.n_obs)).card()
    assert card["training_data"]["cell_lines"] == saved.training_data["cell_lines"]
    assert card["training_data"]["sha256"]["bulk"] == saved.training_data["sha256"]["bulk"]
    np.testing.assert_array_equal(card["preprocessing"]["bulk_scaler"]["min"], saved.preprocessing["bulk_scaler"]["min"])
    assert card["retrained_from"]["cells"] == "DEMO" and card["training_data"]["cells"] == "NEW"
