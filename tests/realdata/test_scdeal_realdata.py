"""scDEAL on real cells (../shared/data; skipped when absent), small enough for CI.

GDSC2 waterfall labels teach Erlotinib → PC9 cells of GSE147405 (untreated day 11 = sensitive,
surviving 11 days of erlotinib = resistant) and PLX-4720 → A375 cells. The full-size run is
``config/scdeal_realdata.yaml`` (see its header); here a stratified subsample of PC9 and
short training check that the real data flows through every setting and that the facts the
evaluation rests on hold.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
from conftest import ROOT, requires_shared_data
from conftest import SHARED_DATA as DATA
from sklearn.metrics import roc_auc_score

from drugshift.ablations import linear_baseline, run_setting, zscore_genes
from drugshift.io import gdsc, geo
from drugshift.labels import binarise_drug
from drugshift.params import resolve_scdeal_params
from drugshift.preprocess import QCParams, align_to_bulk, integrate_bulk, labelled_bulk, qc_and_normalise

pytestmark = [pytest.mark.realdata, requires_shared_data]

SHORT = dict(bulk_hidden=[64, 32], sc_hidden=[64, 32], bulk_bottleneck=16, predictor_hidden=[16, 8], dropout=0.1,
             noise_p=0.2, lr=1e-3, batch_size=128, epochs_dae=15, epochs_predictor=15, epochs_joint=15, patience=5,
             sampling="upsampling", leiden_neighbors="gauss", log_every=1000)
#: The real-data experiment config (full size).
CONFIG = ROOT / "config/scdeal_realdata.yaml"


@pytest.fixture(scope="module")
def gdsc_bulk():
    response = gdsc.read_gdsc_response(DATA / "gdsc/GDSC2_fitted_dose_response.csv.gz")
    expression = integrate_bulk({"gdsc": gdsc.read_gdsc_expression(DATA / "gdsc/Cell_line_expression_zscore.txt.gz")})
    return response, expression


def aligned(cells, drug, gdsc_bulk, normalised):
    response, expression = gdsc_bulk
    cells = qc_and_normalise(cells, QCParams.from_dict({"normalised": normalised}))
    cells, bulk = align_to_bulk(cells, expression)
    X, y = labelled_bulk(bulk, binarise_drug(response, drug, "waterfall", ["GDSC2"]))
    return cells, X.to_numpy(np.float32), y, expression.loc[X.index, cells.var_names].to_numpy()


@pytest.fixture(scope="module")
def a375(gdsc_bulk):
    cells = geo.read_cell_table(DATA / "sc/A375_PLX4720_zscore.csv.gz", meta_columns=["response"])
    return aligned(cells, "PLX-4720", gdsc_bulk, normalised=True)


@pytest.fixture(scope="module")
def pc9(gdsc_bulk):
    parts = []
    for name, label in (("GSM4494348_Day11_control", 1), ("GSM4494349_Day11_Erlotinib", 0)):
        part = geo.read_geo_counts(DATA / f"geo/GSE147405/{name}.txt.gz")
        # 10 % of each condition's cells (stratified) keeps CI fast; QC then drops low-quality
        # cells as on the full data.
        part = part[np.random.default_rng(0).permutation(part.n_obs)[: part.n_obs // 10]].copy()
        part.obs["response"] = label
        parts.append(part)
    cells = ad.concat(parts, join="outer", fill_value=0, index_unique="-")
    return aligned(cells, "Erlotinib", gdsc_bulk, normalised=False)


def test_a375_linear_baseline_transfers(a375):
    cells, _, y, bulk_z = a375
    truth = cells.obs["response"].astype(int).to_numpy()
    assert cells.n_obs == 108 and truth.sum() == 62
    prob = linear_baseline(bulk_z, y, np.asarray(cells.layers["lognorm"]))
    # The calibration: a linear model on the bulk labels ranks A375 cells well (≈ 0.9–0.97).
    assert roc_auc_score(truth, prob) > 0.85


def test_pc9_bulk_signature_is_unrelated_to_the_cells_difference(pc9):
    """The fact the PC9 target rests on: the bulk-label direction is uncorrelated with the cells'
    sensitive-minus-resistant mean difference."""
    from sklearn.linear_model import LogisticRegression

    cells, _, y, bulk_z = pc9
    truth = cells.obs["response"].astype(int).to_numpy()
    assert 100 < cells.n_obs < 1500 and 0 < truth.mean() < 1
    z = zscore_genes(np.asarray(cells.layers["lognorm"]))
    coef = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(zscore_genes(bulk_z), y).coef_[0]
    difference = z[truth == 1].mean(axis=0) - z[truth == 0].mean(axis=0)
    assert abs(np.corrcoef(coef, difference)[0, 1]) < 0.2


@pytest.mark.parametrize("setting", ["scdeal", "reference", "linear"])
def test_settings_run_on_real_cells(pc9, setting):
    cells, X, y, _ = pc9
    config = {"seed": 42, "sc": {"datasets": {"PC9": {}}}, "scdeal": {"mode": "corrected", "params": SHORT}}
    params = resolve_scdeal_params(config, "PC9", setting, "seed0")
    run = run_setting(setting, X, y, np.asarray(cells.X), np.asarray(cells.layers["lognorm"]), cells.obs["response"],
                      params)
    assert run["transfer"]["n"] == cells.n_obs and np.isfinite(run["transfer"]["f1"])
    if setting != "linear":
        assert np.isfinite(run["no_transfer"]["auroc"])
        assert run["bulk"]["source_test"]["auroc"] > 0.55  # the bulk model learnt the bulk labels


def test_a375_ensemble_keeps_the_orientation_in_every_member(a375):
    """The full-size A375 settings of config/scdeal_realdata.yaml (consistency anchor γ = 1) as an
    ensemble of three (its five members cost too much here): no member ranks the cells the
    wrong way round, the label-free diagnostics see no flip, and the ensemble ranks the cells
    well. No cell label enters training; they only score the models."""
    import yaml

    from drugshift.models.scdeal import ScDEALEnsemble

    cells, X, y, _ = a375
    config = yaml.safe_load(CONFIG.read_text())
    params = resolve_scdeal_params(config, "A375").replace(log_every=1000, ensemble=3)
    assert params.consistency_weight == 1.0
    model = ScDEALEnsemble(params, device="cpu").fit(X, y, np.asarray(cells.X))
    truth = cells.obs["response"].astype(int).to_numpy()
    members = model.predict_members(np.asarray(cells.X))
    auroc = [roc_auc_score(truth, members[:, i]) for i in range(members.shape[1])]
    ensemble = roc_auc_score(truth, members.mean(axis=1))
    print(f"A375 ensemble of 3: members' AUROC {np.round(auroc, 3).tolist()}, ensemble {ensemble:.3f}, "
          f"no transfer {roc_auc_score(truth, model.predict_no_transfer(np.asarray(cells.X))):.3f}; "
          f"diagnostics {model.diagnostics}")
    assert min(auroc) > 0.5 and model.diagnostics["transfer_vs_no_transfer"] > 0
    assert ensemble > 0.8
