"""The ``predict:`` section of the workflow's config: saved models applied to listed input files.

Each entry of ``predict.jobs`` is one ``drugshift predict`` run (:mod:`drugshift.apply`) that
the rule ``predict_file`` makes; :func:`predict_jobs` checks them all when Snakemake builds the
DAG, so that a misspelled key or a bad value stops ``snakemake -n`` naming
``predict.jobs.<name>.<key>``.

Torch-free: the workflow calls it when it builds the DAG.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from drugshift.cohorts import VALUES
from drugshift.io import TABLE_SEPARATORS
from drugshift.params.base import ConfigError, Params, rule
from drugshift.params.resolve import SAFE_NAME  # a job's name becomes a folder, as a dataset's does

__all__ = ["PREDICT_KEYS", "JobError", "PredictJob", "predict_jobs"]

#: Keys of the ``predict`` section itself.
PREDICT_KEYS = ("jobs",)
#: Input suffixes read as tables (``drugshift.apply.read_input``); ``.gz`` may follow.
_TABLES = tuple(TABLE_SEPARATORS)


class JobError(ConfigError):
    """Problems of one job, by key; :func:`predict_jobs` names each ``predict.jobs.<name>.<key>``."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {text}" for key, text in self.problems.items()))


@dataclass
class PredictJob(Params):
    """One saved model applied to one input file (``drugshift predict`` as a workflow rule).

    Attributes:
        model: model folder (with ``model.json``): one this workflow trains, e.g.
            ``results/scdeal/<dataset>/<drug>/model`` or ``results/codeae/<method>/<drug>/model``
            (the job then waits for it), or any existing folder.
        input: expression to predict: a table samples × genes (``.csv``, ``.tsv``, ``.txt``,
            ``.parquet``, optionally ``.gz``; first column the sample ids), an ``.h5ad`` or a
            10x mtx folder; a file this workflow writes is made first. Predictions are written as
            ``results/predict/<name>/predictions.h5ad`` for cells (h5ad, 10x) and as
            ``predictions.tsv`` for tables.
        values: what the input holds, so that only the model's missing preprocessing steps are
            applied (``drugshift predict --values``).
        min_overlap: smallest fraction of the model's genes the input must have.
        labels: ground-truth table (first column the sample ids) to score the predictions with;
            the metrics go to ``summary.json``.
        label_column: the 0/1 column of ``labels`` or, without ``labels``, of the h5ad's ``.obs``.
        genes_in_rows: the input table is genes × samples.
    """

    label: ClassVar[str] = "predict job"

    model: str = ""
    input: str = ""
    values: str = rule("normalised", choices=VALUES)
    min_overlap: float = rule(0.5, ge=0.0, le=1.0)
    labels: str | None = None
    label_column: str | None = None
    genes_in_rows: bool = False

    def __post_init__(self) -> None:
        # Paths as Snakemake matches them: `model/` and `./model` are the rule output `model`.
        for key in ("model", "input", "labels"):
            if getattr(self, key):
                setattr(self, key, os.path.normpath(getattr(self, key)))
        problems = self.problems()
        if problems:
            raise JobError(problems)

    def problems(self) -> dict[str, str]:
        """``{key: what is wrong}`` (empty when the job is valid)."""
        out = {f.name: p.strip() for f in dataclasses.fields(self)
               if (r := f.metadata.get("rule")) and (p := r.problem("", getattr(self, f.name)))}
        if self.input and self.output_format is None:
            out["input"] = (f"{self.input!r}: unknown format (use a table {', '.join(_TABLES)}, optionally .gz, "
                            "an .h5ad or a 10x mtx folder)")
        if self.labels and not self.label_column:
            out["label_column"] = "required with labels (the 0/1 column)"
        if self.label_column and not self.labels and self.output_format != "h5ad":
            out["labels"] = "required for a table input (label_column alone reads an h5ad's .obs)"
        if self.genes_in_rows and self.output_format != "tsv":
            out["genes_in_rows"] = "for table inputs only"
        return out

    @property
    def output_format(self) -> str | None:
        """``h5ad`` for cells (an h5ad, a 10x folder or ``matrix.mtx``), ``tsv`` for a table,
        ``None`` for a file of no known format."""
        name = os.path.basename(self.input).lower().removesuffix(".gz")
        suffix = os.path.splitext(name)[1]
        if suffix == ".h5ad" or name.endswith("matrix.mtx") or not suffix:  # no suffix: a 10x mtx folder
            return "h5ad"
        return "tsv" if suffix in _TABLES else None


def predict_jobs(config: Mapping) -> dict[str, PredictJob]:
    """Every ``predict.jobs`` entry of ``config``, checked, by name.

    Raises:
        ConfigError: an unknown key of ``predict``, a job name that is not a safe folder name,
            or a job's unknown key, missing path or bad value; the message names its path
            (``predict.jobs.<name>.<key>``).
    """
    section = config.get("predict") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"predict: expected a mapping with `jobs`, got {section!r}")
    for key in section:
        if key not in PREDICT_KEYS:
            raise ConfigError(f"predict.{key}: unknown key (known: {', '.join(PREDICT_KEYS)})")
    jobs = section.get("jobs") or {}
    if not isinstance(jobs, Mapping):
        raise ConfigError(f"predict.jobs: expected a mapping of job name -> job, got {jobs!r}")
    out = {}
    for name, entry in jobs.items():
        if not SAFE_NAME.fullmatch(str(name)):
            raise ConfigError(f"predict.jobs.{name}: a job name becomes a folder name: letters, digits, '_' and '-', "
                              "starting with a letter or digit")
        missing = [key for key in ("model", "input") if isinstance(entry, Mapping) and not entry.get(key)]
        if missing:
            raise ConfigError("; ".join(f"predict.jobs.{name}.{key}: required (a path)" for key in missing))
        try:
            out[str(name)] = PredictJob.from_dict(entry, f"predict.jobs.{name}")
        except JobError as e:
            raise ConfigError("; ".join(f"predict.jobs.{name}.{key}: {text}" for key, text in e.problems.items())) \
                from None
    return out
