"""drugshift: transfer cancer drug response from bulk cell-line screens to single cells and patients."""

__version__ = "0.1.0"
