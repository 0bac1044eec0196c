"""Bulk expression from one or several sources (GDSC arrays, CCLE/DepMap RNA-seq) as one table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from drugshift.io.depmap import read_depmap_expression, read_sample_info
from drugshift.io.gdsc import read_gdsc_expression
from drugshift.preprocess import integrate_bulk

__all__ = ["BULK_READERS", "read_bulk_expression"]

_log = logging.getLogger(__name__)

#: Parser of each bulk expression source, keyed as in the config's ``bulk.expression``.
BULK_READERS = {"gdsc": read_gdsc_expression, "ccle": read_depmap_expression}


def read_bulk_expression(paths: Mapping[str, str | Path], sample_info: str | Path | None = None) -> pd.DataFrame:
    """Read the configured sources and integrate them (:func:`drugshift.preprocess.integrate_bulk`).

    Args:
        paths: source name (``gdsc``, ``ccle``) → file, in priority order.
        sample_info: DepMap ``sample_info.csv``, needed with ``ccle`` to key its lines by COSMIC id.

    Returns:
        Cell lines (COSMIC ids) × genes shared by all sources, per-source z-scores;
        ``attrs['source_of']`` maps each line to its source.
    """
    unknown = sorted(set(paths) - set(BULK_READERS))
    if unknown:
        raise ValueError(f"unknown bulk expression source(s) {unknown}; known: {sorted(BULK_READERS)}")
    sources = {name: BULK_READERS[name](path) for name, path in paths.items()}
    id_maps = {}
    if "ccle" in sources:
        if sample_info is None:
            raise ValueError("bulk expression from ccle needs DepMap sample_info to map DepMap ids to COSMIC ids")
        info = read_sample_info(sample_info).dropna(subset=["cosmic_id"])
        id_maps["ccle"] = info.set_index("depmap_id")["cosmic_id"].astype("int64").astype(str)
    expression = integrate_bulk(sources, id_maps)
    for name, frame in sources.items():
        kept = sum(v == name for v in expression.attrs["source_of"].values())
        _log.info("%s: %d cell lines x %d genes; %d lines kept", name, *frame.shape, kept)
    return expression
