"""drugshift: transfer cancer drug response from bulk cell-line screens to single cells and patients."""

__version__ = "0.1.0"

from drugshift.apply import load_model, predict_samples  # noqa: E402  (after __version__, which they read)

__all__ = ["__version__", "load_model", "predict_samples"]
