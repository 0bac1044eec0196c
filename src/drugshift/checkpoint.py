"""The one on-disk form of a trained drugshift model: a folder.

::

    <model>/
      model.json        the model card: kind, drug, genes in input order, preprocessing,
                        resolved parameters, training data checksums, metrics, format and
                        package versions (written from the model object, human-readable)
      weights.pt        torch tensors only, read with ``torch.load(weights_only=True)``
      estimators.skops  scikit-learn models, where the model has any (skops format, read with
                        an explicit list of trusted types; never pickle)

:func:`save_model_dir` writes the folder through a temporary sibling and renames it into place,
so a crash never leaves half a model; :func:`read_model_dir` checks the format, kind and
version before it builds anything. Every model class of :mod:`drugshift.models` saves and loads
through these two functions.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

import drugshift
from drugshift.atomic import atomic_directory
from drugshift.cards import write_json
from drugshift.errors import writing

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFiles", "read_model_dir", "save_model_dir", "TRUSTED_ESTIMATOR_TYPES"]

FORMAT = "drugshift-model"
FORMAT_VERSION = 2
CARD, WEIGHTS, ESTIMATORS = "model.json", "weights.pt", "estimators.skops"

#: scikit-learn / imbalanced-learn types a saved model may hold (skops refuses any other).
TRUSTED_ESTIMATOR_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.model_selection._search.GridSearchCV",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.metrics._scorer._Scorer",
    "sklearn.metrics._scorer._PredictScorer",
    "sklearn.metrics._scorer._ProbaScorer",
    "sklearn.metrics._scorer._ThresholdScorer",
    "sklearn.utils._bunch.Bunch",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
]


@dataclass
class ModelFiles:
    """What :func:`read_model_dir` read: the card, the tensors (``{module: state_dict}``) and
    the scikit-learn estimators (empty list when the model has none)."""

    card: dict
    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    estimators: list = field(default_factory=list)


def save_model_dir(
    directory: str | Path,
    *,
    kind: str,
    card: Mapping,
    tensors: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    estimators: Sequence | None = None,
) -> Path:
    """Write one model folder (replacing any earlier one at ``directory``).

    Args:
        directory: the folder to write.
        kind: what the model is (``scdeal``, ``codeae-drug``, …); :func:`read_model_dir`
            refuses a folder of another kind.
        card: the model card (JSON-able); ``format``, ``format_version``, ``kind`` and
            ``drugshift_version`` are added.
        tensors: ``{module name: state_dict}``; moved to the CPU before writing.
        estimators: scikit-learn models, written with skops.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.
    """
    directory = Path(directory)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
              "drugshift_version": drugshift.__version__}
    with atomic_directory(directory) as tmp:
        payload = {**header, "tensors": {name: {k: v.detach().cpu().contiguous() for k, v in sd.items()}
                                         for name, sd in (tensors or {}).items()}}
        with writing(directory):
            _torch_save(payload, tmp / WEIGHTS)
            if estimators:
                (tmp / ESTIMATORS).write_bytes(_skops_bytes(list(estimators)))
            write_json({**dict(card), **header, "estimators": len(estimators or [])}, tmp / CARD)
    return directory


def _torch_save(payload, path: Path) -> None:
    """``torch.save``, with a full disk reported as the OSError it is: torch's zip writer
    raises ``RuntimeError: ... unexpected pos ...`` (or a ``file write failed``) instead."""
    try:
        torch.save(payload, path)
    except RuntimeError as e:
        if "unexpected pos" in str(e) or "write failed" in str(e):
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (torch.save: {e})") from e
        raise


def _skops_bytes(obj) -> bytes:
    """``obj`` in the skops format, the same bytes for the same object in every process.

    skops names each array file and object after ``id()`` (a memory address) and stamps the
    archive's members with the time of writing; both are replaced here by numbers in order of
    first appearance and a fixed date, so two runs of one config write identical folders."""
    import io
    import json
    import zipfile

    import skops.io

    ids: dict = {}
    files: dict[str, str] = {}

    def renumber(node):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "__id__" and isinstance(v, int):
                    v = ids.setdefault(v, len(ids))
                elif k == "file" and isinstance(v, str):
                    v = files.setdefault(v, f"{len(files)}.npy")
                out[k] = renumber(v)
            return out
        return [renumber(v) for v in node] if isinstance(node, list) else node

    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(obj))) as src:
        schema = renumber(json.loads(src.read("schema.json")))
        members = {"schema.json": json.dumps(schema, indent=2).encode()}
        members.update({new: src.read(old) for old, new in files.items()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in sorted(members):
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), members[name])
    return out.getvalue()


def read_model_dir(directory: str | Path, kind: str | None = None, device: str | torch.device = "cpu") -> ModelFiles:
    """Read a folder written by :func:`save_model_dir`.

    Args:
        directory: the model folder.
        kind: the kind the caller expects (``None``: any).
        device: where the tensors go.

    Raises:
        FileNotFoundError: no folder or no card.
        ValueError: not a drugshift model, another kind or format version, or unreadable
            weights; each message names the folder.
    """
    directory = Path(directory)
    card_path = directory / CARD
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such model folder")
    if not card_path.is_file():
        raise FileNotFoundError(f"{directory}: not a drugshift model folder (no {CARD})")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{card_path}: unreadable model card ({e})") from e
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ValueError(f"{directory}: not a drugshift model folder ({CARD} has no format {FORMAT!r})")
    if card.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{directory}: model format version {card.get('format_version')} is not supported by "
                         f"drugshift {drugshift.__version__} (it reads version {FORMAT_VERSION})")
    if kind is not None and card.get("kind") != kind:
        raise ValueError(f"{directory}: a {card.get('kind')!r} model, not a {kind!r} model")
    try:
        payload = torch.load(directory / WEIGHTS, map_location=device, weights_only=True)
    except Exception as e:  # zip / unpickler errors carry no file name
        raise ValueError(f"{directory / WEIGHTS}: not readable as drugshift weights ({e})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != card.get("kind"):
        raise ValueError(f"{directory / WEIGHTS}: does not belong to the model card beside it")
    estimators: list = []
    if (directory / ESTIMATORS).is_file():
        import skops.io

        untrusted = [t for t in skops.io.get_untrusted_types(file=directory / ESTIMATORS)
                     if t not in TRUSTED_ESTIMATOR_TYPES]
        if untrusted:
            raise ValueError(f"{directory / ESTIMATORS}: holds types drugshift does not load: {', '.join(untrusted)}")
        estimators = list(skops.io.load(directory / ESTIMATORS, trusted=TRUSTED_ESTIMATOR_TYPES))
    return ModelFiles(card=card, tensors=payload.get("tensors", {}), estimators=estimators)
