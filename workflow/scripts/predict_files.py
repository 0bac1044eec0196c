"""Rule predict_file: one `predict.jobs` entry, a saved model applied to an input file as
`drugshift predict` does (drugshift.apply.predict_file): predictions, and a summary of the gene
overlap, the counts and, where labels are given, the metrics."""

from drugshift import apply, runlog
from drugshift.cards import write_json

log = runlog.start(snakemake.log[0])
job, inputs, output = snakemake.params.job, snakemake.input, snakemake.output
summary = apply.predict_file(inputs.model, inputs.data, output.predictions, values=job["values"],
                             min_overlap=job["min_overlap"], genes_in_rows=job["genes_in_rows"],
                             labels=inputs.get("labels"), label_column=job["label_column"], log=log)
write_json(summary, output.summary)
