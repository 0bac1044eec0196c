"""Rule tidy_pdtc: PDTC expression and ex-vivo AUCs -> tidy tables with median-split labels."""

from drugshift import runlog
from drugshift.io.pdtc import pdtc_labels, read_pdtc_expression, read_pdtc_response

log = runlog.start(snakemake.log[0])
expression = read_pdtc_expression(snakemake.input.expression)
response = pdtc_labels(read_pdtc_response(snakemake.input.response))
expression.to_parquet(snakemake.output.expression)
response.to_parquet(snakemake.output.response, index=False)
log.info("PDTC: %d models x %d genes; %d responses for %d drugs", *expression.shape, len(response),
         response["drug"].nunique())
