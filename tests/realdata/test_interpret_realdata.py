"""Interpretation on real data: PC9 cells (GSE147405: untreated = sensitive, 11 days of erlotinib =
resistant), GDSC expression and GDSC2 erlotinib labels, through the library chain — scDEAL,
integrated gradients, critical genes, enrichment against GO BP 2021 and MSigDB Hallmark.

The test uses a subsample and short training. The full-size run for the report:
``.venv/bin/python tests/test_interpret_realdata.py --full results_dir`` (minutes).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

if __name__ != "__main__":
    from conftest import SHARED_DATA, requires_shared_data

    pytestmark = [pytest.mark.realdata, requires_shared_data]
else:  # run as a script from the repository root
    SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

GEO = "geo/GSE147405/{}.txt.gz"
CONDITIONS = {"control": "GSM4494348_Day11_control", "erlotinib": "GSM4494349_Day11_Erlotinib"}
LIBRARIES = {"GO_BP_2021": "genesets/GO_Biological_Process_2021.gmt", "Hallmark": "genesets/h.all.v7.0.symbols.gmt"}
# Drop-seq PC9 cells detect few genes (median ~70 in the erlotinib sample): the scDEAL default of
# 200 genes per cell would keep almost no resistant cell.
MIN_GENES = 50
#: METHODS.md, suggested settings of the other PC9/erlotinib series (GSE149383), shorter training.
PARAMS = dict(bulk_hidden=[512, 256], sc_hidden=[512, 256], bulk_bottleneck=64, predictor_hidden=[256, 128],
              dropout=0.3, sampling="upsampling", noise_p=0.2, predictor_noise_p=0.5, lr=1e-3, batch_size=200,
              epochs_dae=100, epochs_predictor=100, epochs_joint=100, patience=20, mmd_weight=1.0, reg_weight=0.1,
              leiden_neighbors="gauss", log_every=1000)


def pc9_chain(data: Path, n_cells: int | None = None, params: dict | None = None, ig_steps: int = 50,
              seed: int = 42) -> dict:
    """read_geo_counts → QC/normalise → align to GDSC genes → ScDEAL.fit → IG → critical genes →
    enrichment. ``n_cells``: cells drawn per condition (None: all)."""
    import anndata as ad
    import torch

    from drugshift import interpret as I
    from drugshift.enrich import enrich_critical_genes
    from drugshift.evaluate import classification_metrics
    from drugshift.io import gdsc, geo
    from drugshift.labels import binarise_drug
    from drugshift.models.scdeal import ScDEAL
    from drugshift.preprocess import QCParams, align_to_bulk, integrate_bulk, labelled_bulk, qc_and_normalise

    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    parts = {}
    for cond, stem in CONDITIONS.items():
        cells = geo.read_geo_counts(data / GEO.format(stem))
        if n_cells is not None and cells.n_obs > n_cells:
            cells = cells[np.sort(rng.choice(cells.n_obs, n_cells, replace=False))].copy()
        cells.obs_names = [f"{cond}_{c}" for c in cells.obs_names]
        parts[cond] = cells
    cells = ad.concat(parts, join="outer", label="condition", fill_value=0)
    cells.obs["response"] = (cells.obs["condition"] == "control").astype(float).to_numpy()
    cells = qc_and_normalise(cells, QCParams(min_genes=MIN_GENES))
    bulk = integrate_bulk({"gdsc": gdsc.read_gdsc_expression(data / "gdsc/Cell_line_expression_zscore.txt.gz")})
    response = gdsc.read_gdsc_response(data / "gdsc/GDSC2_fitted_dose_response.csv.gz")
    labels = binarise_drug(response, "Erlotinib", "waterfall", ["GDSC2"])
    cells, bulk = align_to_bulk(cells, bulk)
    Xb, y = labelled_bulk(bulk, labels)
    model = ScDEAL({**PARAMS, **(params or {}), "seed": seed}, device="cpu").fit(Xb, y, cells)
    prob = model.predict(cells)
    metrics = classification_metrics(cells.obs["response"].astype(int).to_numpy(), prob)
    t_fit = time.time() - t0
    out = {"n_cells": int(cells.n_obs), "n_genes": int(cells.n_vars), "n_cell_lines": int(len(y)),
           "n_sensitive_lines": int(y.sum()), "metrics": metrics, "seconds_to_model": t_fit}
    tables = {}
    for what, network, X, p in (("cells", I.cell_path(model), cells.X, prob),
                                ("bulk", I.bulk_path(model), Xb.to_numpy(np.float32), model.predict_bulk(Xb.to_numpy(np.float32)))):
        attr = I.integrated_gradients(network, X, n_steps=ig_steps)
        err = I.completeness_error(network, X, attr)
        out[f"completeness_{what}"] = {"max": float(err["sensitive"].max()), "mean": float(err["sensitive"].mean())}
        tables[what] = I.critical_genes(I.attribution_anndata(attr, pd.DataFrame(index=range(X.shape[0])),
                                                              cells.var_names, p))
        out[f"n_critical_{what}"] = tables[what].groupby("group")["critical"].sum().astype(int).to_dict()
    out["overlap"] = I.critical_gene_overlap(tables["cells"], tables["bulk"]).drop(columns="shared_genes").to_dict("records")
    enrichment = enrich_critical_genes(tables["cells"], {k: data / v for k, v in LIBRARIES.items()}, cells.var_names)
    out["top_terms"] = {
        f"{g}/{lib}": t.head(5)[["term", "overlap", "set_size", "n_query", "p", "p_adj"]].to_dict("records")
        for (g, lib), t in enrichment.groupby(["group", "library"], sort=False)}
    out["seconds_total"] = time.time() - t0
    out["critical"], out["enrichment"] = tables["cells"], enrichment
    return out


@pytest.fixture(scope="module")
def small_run():
    return pc9_chain(SHARED_DATA, n_cells=250, ig_steps=24,
                     params=dict(bulk_hidden=[64, 32], sc_hidden=[64, 32], bulk_bottleneck=32, predictor_hidden=[16, 8],
                                 epochs_dae=10, epochs_predictor=10, epochs_joint=10))


def test_pc9_chain_gives_critical_genes_and_enrichment(small_run):
    r = small_run
    print(json.dumps({k: v for k, v in r.items() if k not in ("critical", "enrichment")}, indent=1, default=str))
    assert r["n_cells"] > 300 and r["n_genes"] > 1000 and r["n_cell_lines"] > 500  # ~1,900 shared genes
    for what in ("cells", "bulk"):
        assert r[f"completeness_{what}"]["mean"] < 0.02, r[f"completeness_{what}"]
    critical = r["critical"]
    assert len(critical) == 2 * r["n_genes"]
    n_crit = critical["critical"].sum()
    assert n_crit > 0
    crit = critical[critical["critical"]]
    assert (crit["p_adj"] < 0.05).all() and (crit["logFC"] > 0.1).all()
    enrichment = r["enrichment"]
    assert set(enrichment["library"]) == set(LIBRARIES)
    for lib, t in enrichment.groupby("library"):
        assert t["p"].between(0, 1).all() and (t["p_adj"] >= t["p"] - 1e-12).all()
        assert (t["set_size"] >= 5).all()
    assert enrichment.groupby(["group", "library"]).size().min() > 10  # Hallmark has 50 sets, GO BP thousands


def main(argv: list[str]) -> None:
    outdir = Path(argv[argv.index("--full") + 1]) if "--full" in argv else Path("/tmp/pc9_interpret")
    outdir.mkdir(parents=True, exist_ok=True)
    # All cells; 40 epochs per stage and 24 IG steps keep it to ~10 CPU minutes.
    r = pc9_chain(SHARED_DATA, ig_steps=24, params=dict(epochs_dae=40, epochs_predictor=40, epochs_joint=40,
                                                        patience=10))
    r.pop("critical").to_csv(outdir / "critical_genes.tsv", sep="\t", index=False, float_format="%.6g")
    r.pop("enrichment").to_csv(outdir / "enrichment.tsv", sep="\t", index=False, float_format="%.6g")
    (outdir / "summary.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv)
