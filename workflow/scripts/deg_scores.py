"""Rule deg_scores: DEG gene scores of predicted vs ground-truth labels, Pearson r and an empirical null."""

import anndata as ad

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.interpret import deg_score_agreement

log = runlog.start(snakemake.log[0])
cells = ad.read_h5ad(snakemake.input[0])
deg = snakemake.params.deg
layer = "lognorm" if "lognorm" in cells.layers else None
stats, scores = deg_score_agreement(cells, cells.obs["sens_label"], cells.obs["response"], deg["n_genes"],
                                    deg["p_adj"], deg["n_null"], snakemake.params.seed, layer)
for group, s in stats.items():
    log.info("%s DEG score: r = %.3f, empirical p = %.4g (null mean %.3f, n = %d)", group, s["pearson_r"],
             s["p_empirical"], s["null_mean"], s["n_null"])
write_json({"layer": layer, **stats}, snakemake.output.stats)
scores.to_csv(snakemake.output.scores, sep="\t", index_label="cell", float_format="%.6g")
