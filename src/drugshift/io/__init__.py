"""Input parsers: real-world file formats -> pandas / AnnData objects.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`drugshift.io.gdsc` — GDSC dose response, RMA-layout expression, cell-line details.
* :mod:`drugshift.io.depmap` — DepMap/CCLE expression, sample_info, PRISM AUC.
* :mod:`drugshift.io.geo` — GEO single-cell count matrices, cells × genes tables, metadata.
* :mod:`drugshift.io.tcga` — Xena matrices/phenotypes, clinical drug tables, RECIST labels.
* :mod:`drugshift.io.pdtc` — PDTC drug response, PDTC↔GDSC drug mapping, labels, expression.
* :mod:`drugshift.io.genesets` — GMT gene sets.
* :mod:`drugshift.io.sc_formats` — every single-cell layout (GEO counts, cells × genes, h5ad,
  10x mtx) and the loader of one ``sc.datasets`` entry (files per condition, labels, subsets).
* :mod:`drugshift.io.geo_series` — metadata quirks and label rules of the six scDEAL GEO series.
* :mod:`drugshift.io.orthologs` — MGI mouse → human one-to-one orthologs.
* :mod:`drugshift.io.xena` — Xena probe maps; :mod:`drugshift.io.gdc` — stacking GDC Biotab tables.
* :mod:`drugshift.io.values` — a single-cell matrix checked against its declared ``values``.
* :mod:`drugshift.io._table` — shared checks (separator, required columns, numeric and finite
  values, duplicated ids); every bad input raises :class:`drugshift.errors.InputError` naming the
  file. NaN and infinite values are rejected where they are read, naming the row and column
  labels of the file; bulk expression tables drop the few genes with a missing value instead,
  with a warning (:func:`drugshift.io._table.drop_genes_with_missing` says why).
"""

#: Expression and label tables by suffix (optionally followed by ``.gz``) and their separator
#: (``None``: parquet); the formats ``drugshift predict`` and ``predict.jobs`` read and write.
TABLE_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".parquet": None}
