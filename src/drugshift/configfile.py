"""Check a workflow config file before Snakemake runs it: YAML syntax (with the line and
column), the workflow's schema (which fills in every default), then every job's parameters
(:func:`drugshift.params.check_config`).

Snakemake reads ``--configfile`` before the Snakefile runs and reports a syntax error without
the file's name or line; ``drugshift check-config FILE`` says where.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from drugshift.errors import InputError

__all__ = ["SCHEMA", "check_config_file", "read_config_file"]

#: The workflow's config schema, relative to the workflow's folder (the repository root).
SCHEMA = Path("workflow/schemas/config.schema.yaml")


def read_config_file(path: str | Path) -> dict:
    """A YAML config file as a mapping; a syntax error names the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(filter(None, (getattr(e, "context", None), getattr(e, "problem", None)))) or str(e)
        raise InputError(path, f"{where}not valid YAML ({problem})") from None
    if not isinstance(config, dict):
        raise InputError(path, f"a config file holds a mapping of keys, got {type(config).__name__}")
    return config


def check_config_file(path: str | Path, workflow_dir: str | Path = ".") -> dict:
    """Check ``path`` as ``snakemake --configfile path`` would use it (it replaces the demo
    config) and return it with the schema's defaults filled in.

    Raises:
        InputError: bad YAML, a schema violation or a bad parameter, naming the file and the key.
    """
    from drugshift.params import ConfigError, check_config

    config = read_config_file(path)
    schema = Path(workflow_dir) / SCHEMA
    if not schema.is_file():
        raise InputError(schema, "the workflow's config schema is not here: run from the workflow's folder or "
                                 "give --workflow DIR")
    try:
        from snakemake.utils import validate
    except ImportError:  # the library without the workflow extra: parameters are still checked
        validate = None
    if validate is not None:
        try:
            validate(config, str(schema))
        except Exception as e:  # snakemake raises WorkflowError with jsonschema's message
            message = " ".join(str(e).split())
            raise InputError(path, f"does not match the workflow's schema: {message[:400]}") from None
    try:
        check_config(config)
    except ConfigError as e:
        raise InputError(path, str(e)) from None
    return config
