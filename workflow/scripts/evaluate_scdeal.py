"""Rule evaluate_scdeal: metrics against the cells' ground truth, with and without transfer."""

import anndata as ad

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.predict import transfer_metrics

log = runlog.start(snakemake.log[0])
metrics = transfer_metrics(ad.read_h5ad(snakemake.input[0]))
write_json(metrics, snakemake.output[0])
for kind in ("transfer", "no_transfer"):
    m = metrics[kind]
    log.info("%s: F1 %.3f AUROC %.3f AP %.3f precision %.3f recall %.3f AMI %.3f ARI %.3f", kind,
             m["f1"], m["auroc"], m["ap"], m["precision"], m["recall"], m["ami"], m["ari"])
