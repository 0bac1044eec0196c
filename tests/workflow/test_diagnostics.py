"""Transfer diagnostics on the demo: every scDEAL model of the demo run carries them (card,
predictions, metrics, figure), and a planted orientation flip is caught without any cell label."""

import json

import anndata as ad
import pytest
import torch
from torch import nn

from drugshift.models.scdeal import load_scdeal
from drugshift.models.scdeal.diagnostics import VERDICTS
from drugshift.models.scdeal.model import diagnose_members
from drugshift.predict import transfer_diagnostics_of

pytestmark = pytest.mark.workflow


def _models(work):
    return sorted((work / "results/scdeal").glob("*/*/model"))


def test_every_demo_model_carries_diagnostics(demo_run):
    models = _models(demo_run)
    assert models
    for folder in models:
        dataset, drug = folder.parts[-3], folder.parts[-2]
        card = json.loads((folder / "model.json").read_text())
        d = card["diagnostics"]
        print(f"{dataset}/{drug}: verdict {d['verdict']}, bulk AUROC out of fold {d['bulk_auroc_out_of_fold']:.3f}, "
              f"transfer vs no transfer {d['transfer_vs_no_transfer']:.3f}, domain AUROC {d['domain_auroc']:.3f}")
        assert d["verdict"] in VERDICTS and set(card["thresholds"]) == {"paper", "bulk_f1", "bulk_rate"}
        predictions = ad.read_h5ad(folder.parent / "predictions.h5ad")
        assert transfer_diagnostics_of(predictions) == d
        assert (demo_run / f"results/figures/scdeal/{dataset}_{drug}_diagnostics.png").stat().st_size > 10_000
        metrics = folder.parent / "metrics.json"
        if metrics.exists():
            assert json.loads(metrics.read_text())["verdict"] == d["verdict"]


def _flip(predictor: nn.Module) -> None:
    """Swap the two outputs of ``P``'s last layer: every cell's P(sensitive) becomes 1 − p."""
    head = [m for m in predictor.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        head.weight.copy_(head.weight.flip(0))
        head.bias.copy_(head.bias.flip(0))


def test_a_planted_orientation_flip_is_caught(demo_run):
    """The demo's model with its transferred predictor turned round (the bulk model P₀ left as
    it was): the same cells, no label, and the verdict says orientation-flip."""
    folder = _models(demo_run)[0]
    cells = ad.read_h5ad(demo_run / "results/sc" / folder.parts[-3] / "processed.h5ad")
    model = load_scdeal(folder)
    before, _ = diagnose_members([model], cells, model.params)
    assert before["verdict"] != "orientation-flip" and before["transfer_vs_no_transfer"] > 0
    _flip(model.predictor)
    after, _ = diagnose_members([model], cells, model.params)
    assert after["transfer_vs_no_transfer"] == pytest.approx(-before["transfer_vs_no_transfer"], abs=1e-6)
    assert after["verdict"] == "orientation-flip", after
    assert any("reversed" in reason for reason in after["reasons"])
