"""One style for every drugshift figure: font sizes, a colour-blind-safe palette, saving.

Every plotting function in :mod:`drugshift.plots` returns a :class:`matplotlib.figure.Figure`
drawn with these settings; the workflow's rules save it with :func:`save_figure` (a PNG and a PDF
beside it, byte-identical between runs).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workflows run on servers and cluster nodes
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["PALETTE", "SENSITIVE", "RESISTANT", "UNLABELLED", "DIVERGING", "SEQUENTIAL", "RC",
           "apply_style", "save_figure", "colour_cycle", "require_columns", "note_figure"]

# Okabe & Ito (2008), the colour-blind-safe qualitative palette (black first omitted).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
SENSITIVE, RESISTANT, UNLABELLED = "#D55E00", "#0072B2", "#CCCCCC"
# Colour maps: probabilities and z-scores diverge around a midpoint; magnitudes are sequential.
DIVERGING, SEQUENTIAL = "RdBu_r", "viridis"

# One font-size scale: 9 pt body, 10 pt titles, 8 pt ticks and legends.
RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "image.cmap": SEQUENTIAL,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # TrueType in PDFs: text stays editable and searchable
}


def apply_style() -> None:
    """Set the drugshift style on matplotlib's global settings (done on import of drugshift.plots)."""
    matplotlib.rcParams.update(RC)


def colour_cycle(n: int) -> list[str]:
    """``n`` colours of the palette, repeating it when ``n`` is larger."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def save_figure(fig, path: str | Path, dpi: int = 150) -> None:
    """Write ``fig`` as ``path`` (PNG) and a PDF beside it, then close it.

    The PDF carries no creation date and the PNG no software tag, so that the same inputs give the
    same bytes on every run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)


def require_columns(table, columns, what: str) -> None:
    """The one input check of the figure functions: ``table`` (a DataFrame) has every column of
    ``columns``, else a ValueError naming ``what``, the missing columns and those it has."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(map(repr, missing))}; it has {list(table.columns)}")


def note_figure(title: str, message: str):
    """A panel that says why its data cannot be drawn (e.g. no DEG of one group): the title and
    the reason, centred, so that a panel file is never silently empty or missing."""
    import textwrap

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, textwrap.fill(message, 70), ha="center", va="center", transform=ax.transAxes)
    return fig
