"""Rule tidy_bulk_response: GDSC fitted dose-response CSVs -> one tidy response table."""

import pandas as pd

from drugshift import runlog
from drugshift.io.gdsc import read_gdsc_response

log = runlog.start(snakemake.log[0])
tables = [read_gdsc_response(path) for path in snakemake.input]
response = pd.concat(tables, ignore_index=True)
response.to_parquet(snakemake.output[0], index=False)
log.info("%d responses, %d cell lines, %d drugs from %s", len(response), response["cosmic_id"].nunique(),
         response["drug"].nunique(), ", ".join(snakemake.input))
