import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from drugshift.cards import file_sha256, provenance, write_json
from drugshift.evaluate import metrics_table
from drugshift.predict import annotate_predictions, transfer_metrics


def _cells(n=40):
    obs = pd.DataFrame({"response": [1.0] * (n // 2) + [0.0] * (n // 2 - 2) + [np.nan, np.nan]},
                       index=[f"c{i}" for i in range(n)])
    return ad.AnnData(np.zeros((n, 3), np.float32), obs=obs)


def test_annotate_and_transfer_metrics():
    cells = _cells()
    truth = cells.obs["response"].fillna(0).to_numpy()
    perfect = np.where(truth == 1, 0.9, 0.1)
    inverted = 1 - perfect
    out = annotate_predictions(cells, perfect, inverted, np.ones((cells.n_obs, 2)))
    assert out.obs["sens_label"].tolist() == (perfect >= 0.5).astype(int).tolist()
    assert out.obsm["X_scdeal"].shape == (40, 2)
    assert "sens_prob" not in cells.obs  # the input is left untouched
    m = transfer_metrics(out)
    assert m["transfer"]["n"] == 38  # unlabelled cells are left out
    assert m["transfer"]["f1"] == pytest.approx(1.0) and m["transfer"]["auroc"] == pytest.approx(1.0)
    assert m["no_transfer"]["auroc"] == pytest.approx(0.0)
    assert m["gain"]["f1"] == pytest.approx(1.0)


def test_a_probability_of_one_half_is_sensitive():
    out = annotate_predictions(_cells(), np.full(40, 0.5), np.full(40, 0.4999), np.zeros((40, 1)))
    assert (out.obs["sens_label"] == 1).all() and (out.obs["sens_label_no_transfer"] == 0).all()


def test_transfer_metrics_needs_ground_truth():
    cells = _cells()
    out = annotate_predictions(cells, np.full(40, 0.7), np.full(40, 0.7), np.zeros((40, 1)))
    out.obs["response"] = np.nan
    with pytest.raises(ValueError, match="no cell has a ground-truth label"):
        transfer_metrics(out)


def test_cards_write_stable_json_with_provenance(tmp_path):
    data = tmp_path / "x.txt"
    data.write_text("hello")
    card = {"b": np.float32(0.5), "a": float("nan"), "arr": np.arange(3), "src": provenance({"x": data})}
    write_json(card, tmp_path / "card.json")
    text = (tmp_path / "card.json").read_text()
    loaded = json.loads(text)  # strict JSON: NaN became null
    assert loaded["a"] is None and loaded["arr"] == [0, 1, 2] and loaded["b"] == 0.5
    assert list(loaded) == sorted(loaded)
    assert loaded["src"]["x"]["sha256"] == file_sha256(data)
    assert loaded["src"]["x"]["bytes"] == 5


def test_metrics_table(tmp_path):
    row = {"f1": 0.5, "auroc": 0.6, "ap": 0.7, "precision": 0.8, "recall": 0.9, "ami": 0.1, "ari": 0.2}
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"transfer": row, "no_transfer": row}))
    table = metrics_table({("D1", "drug"): path})
    assert table["setting"].tolist() == ["transfer", "no_transfer"]
    assert list(table.columns[:4]) == ["dataset", "drug", "setting", "f1"]
