"""Read and write gene sets in GMT format (MSigDB, Enrichr libraries)."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path

from drugshift.errors import InputError
from drugshift.io._table import open_text


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Read a GMT file: one gene set per line, ``name<TAB>description<TAB>gene<TAB>gene…``.

    Input: plain or compressed text, tab-separated. The description (MSigDB: a URL; Enrichr:
    empty) is discarded; empty gene fields (Enrichr's double/trailing tabs) are dropped;
    repeated genes within a set are kept once (first occurrence order); blank lines skipped.

    Output: ``{set name: [gene symbol, …]}`` in file order.
    Raises InputError (with the line number) for a line with fewer than 3 fields, an empty set
    name, a set with no genes, or a set name used twice; and for a file with no sets.
    """
    path = Path(path)
    sets: dict[str, list[str]] = {}
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 3:
                    raise InputError(
                        path, f"line {lineno}: expected at least 3 tab-separated fields "
                              f"(name, description, genes…), found {len(fields)}")
                name = fields[0].strip()
                if not name:
                    raise InputError(path, f"line {lineno}: empty gene-set name")
                genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
                if not genes:
                    raise InputError(path, f"line {lineno}: gene set {name!r} has no genes")
                if name in sets:
                    raise InputError(path, f"line {lineno}: gene set {name!r} appears twice")
                sets[name] = genes
    except (OSError, EOFError) as exc:
        raise InputError(path, f"cannot read (corrupt compression?): {exc}") from exc
    if not sets:
        raise InputError(path, "file is empty (no gene sets)")
    return sets


def write_gmt(
    sets: Mapping[str, Sequence[str]], path: str | Path, description: str = ""
) -> None:
    """Write gene sets as GMT (``name<TAB>description<TAB>genes…``; gzip if ``.gz``).

    ``description`` is written in the second field of every line (default empty).
    Raises ValueError if a name, description or gene contains a tab or newline, or a set is
    empty.
    """
    path = Path(path)

    def clean(text: str, what: str) -> str:
        text = str(text)
        if any(c in text for c in "\t\r\n"):
            raise ValueError(f"{what} {text!r} contains a tab or newline")
        return text

    lines = []
    desc = clean(description, "description")
    for name, genes in sets.items():
        if isinstance(genes, str):
            raise ValueError(f"gene set {name!r}: genes must be a list, not a string")
        genes = [clean(g, "gene") for g in genes]
        if not genes:
            raise ValueError(f"gene set {name!r} is empty")
        lines.append("\t".join([clean(name, "gene-set name"), desc, *genes]) + "\n")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.writelines(lines)
