"""Rule evaluate_scdeal: metrics against the ground truth, with and without transfer; the final model card."""

import json

import anndata as ad

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.predict import transfer_metrics

log = runlog.start(snakemake.log[0])
metrics = transfer_metrics(ad.read_h5ad(snakemake.input.predictions))
write_json(metrics, snakemake.output.metrics)
card = json.loads(open(snakemake.input.training).read())
card["transfer_metrics"] = metrics
write_json(card, snakemake.output.card)
for kind in ("transfer", "no_transfer"):
    m = metrics[kind]
    log.info("%s: F1 %.3f AUROC %.3f AP %.3f precision %.3f recall %.3f AMI %.3f ARI %.3f", kind,
             m["f1"], m["auroc"], m["ap"], m["precision"], m["recall"], m["ami"], m["ari"])
