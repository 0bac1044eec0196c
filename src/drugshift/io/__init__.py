"""Input parsers: real-world file formats -> pandas / AnnData objects.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`drugshift.io.gdsc` — GDSC dose response, RMA-layout expression, cell-line details.
* :mod:`drugshift.io.depmap` — DepMap/CCLE expression, sample_info, PRISM AUC.
* :mod:`drugshift.io.geo` — GEO single-cell count matrices, cells × genes tables, metadata.
* :mod:`drugshift.io.tcga` — Xena matrices/phenotypes, clinical drug tables, RECIST labels.
* :mod:`drugshift.io.pdtc` — PDTC drug response, PDTC↔GDSC drug mapping, labels, expression.
* :mod:`drugshift.io.genesets` — GMT gene sets.
* :mod:`drugshift.io._table` — shared checks (separator, required columns, numeric values,
  duplicated ids); every bad input raises :class:`drugshift.errors.InputError` naming the file.
"""
