"""drugshift: transfer cancer drug response from bulk cell-line screens to single cells and patients."""

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "predict_samples", "retrain_samples"]

_API = {"load_model", "predict_samples", "retrain_samples"}


def __getattr__(name: str):
    # The prediction API loads torch and scikit-learn; importing it lazily keeps `import
    # drugshift.<module>` (every workflow rule, the DAG build) as fast as that module alone.
    if name in _API:
        from drugshift import apply

        return getattr(apply, name)
    raise AttributeError(f"module 'drugshift' has no attribute {name!r}")
