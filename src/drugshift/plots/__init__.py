"""Figures, one module per part of the workflow, in one style (:mod:`drugshift.plots.style`).

Every function takes tidy inputs (tables, AnnData, dicts) and returns a
:class:`matplotlib.figure.Figure`; :func:`save_figure` writes it as a PNG with a PDF beside it.

* :mod:`~drugshift.plots.data` — bulk label waterfalls, single-cell QC.
* :mod:`~drugshift.plots.scdeal` — predictions on the cells, ablations, transfer diagnostics.
* :mod:`~drugshift.plots.interpret` — critical genes, enrichment.
* :mod:`~drugshift.plots.codeae` — the patients × drugs bicluster heat map.
* :mod:`~drugshift.plots.scdeal_paper` — the scDEAL paper's panels (Figs. 2–5).
* :mod:`~drugshift.plots.codeae_paper` — the CODE-AE paper's panels (Figs. 2a–c, 3–5) and the
  critical-difference diagram of the methods' ranks.
* :mod:`~drugshift.plots.confounder` — CODE-AE Fig. 2d–g, the sex-confounder experiment.

Which panel is drawn from which outputs, and which file it goes to: :mod:`drugshift.paper_figures`.
"""

from drugshift.plots.style import apply_style, note_figure, save_figure

apply_style()

from drugshift.plots.codeae import plot_bicluster  # noqa: E402
from drugshift.plots.data import plot_qc, plot_waterfall  # noqa: E402
from drugshift.plots.interpret import plot_critical_genes, plot_enrichment  # noqa: E402
from drugshift.plots.scdeal import plot_ablations, plot_prediction_umap, plot_transfer_diagnostics  # noqa: E402

__all__ = ["apply_style", "note_figure", "save_figure", "plot_bicluster", "plot_qc", "plot_waterfall", "plot_critical_genes",
           "plot_enrichment", "plot_ablations", "plot_prediction_umap", "plot_transfer_diagnostics"]
