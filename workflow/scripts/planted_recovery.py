"""Rule planted_recovery: on simulated data, how well critical genes and their enrichment recover
the drug's planted response genes and program (truth.json)."""

import json

import pandas as pd

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.enrich import term_ranks
from drugshift.interpret import planted_recovery

log = runlog.start(snakemake.log[0])
truth = json.loads(open(snakemake.input.truth).read())
drug = truth["datasets"][snakemake.wildcards.dataset]["drug"]
planted = truth["drugs"][drug]
critical = pd.read_csv(snakemake.input.critical, sep="\t")
result = {"drug": drug, "program": planted["program"],
          "critical_genes": planted_recovery(critical, planted["response_genes"], snakemake.params.k),
          "enrichment": term_ranks(pd.read_csv(snakemake.input.enrichment, sep="\t"), planted["program"])}
log.info("%s", result)
write_json(result, snakemake.output[0])
