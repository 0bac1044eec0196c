#!/usr/bin/env python3
"""Keep the environments in step with envs/requirements.txt, the one list of tested pins.

    python envs/sync_environment.py                    # rewrite envs/environment.yaml from the pins
    python envs/sync_environment.py --check            # exit 1 if environment.yaml is out of date
    python envs/sync_environment.py --check-installed  # exit 1 unless this Python has exactly the pins

environment.yaml lists the pins inline (no `-r requirements.txt`, no `-e ..`): Snakemake's
`--sdm conda` copies the file to .snakemake/conda/<hash>.yaml and creates the environment from
there, where relative paths point at the wrong folder. Standard library only, so any Python 3.11
runs it (`make envs`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parent
REQUIREMENTS = ENVS / "requirements.txt"
ENVIRONMENT = ENVS / "environment.yaml"
#: Installed distributions that need no pin: the installer itself and the project.
UNPINNED_OK = {"pip", "drugshift"}

HEADER = """\
# GENERATED from envs/requirements.txt by envs/sync_environment.py (`make envs`); do not edit.
# Conda environment of the rules (`conda:` directives) for `snakemake --sdm conda`: Python 3.11
# and exactly the tested pins, listed inline so that the file works from wherever Snakemake
# copies it (.snakemake/conda/<hash>.yaml), where a relative `-r`/`-e` path would not resolve.
# drugshift itself is not installed here: the rules' scripts import it from the workflow's src/,
# which Snakemake's script preamble appends to sys.path (it passes on the sys.path of the
# snakemake process, and that process imports drugshift to parse the workflow).
# torch==2.13.0 comes from PyPI, the CUDA build on Linux (the GPU nodes need it).
# By hand: conda env create -f envs/environment.yaml && conda activate drugshift
#          && pip install --no-deps -e .
"""


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = REQUIREMENTS) -> list[tuple[str, str]]:
    """``(name, version)`` of every ``name==version`` line, in file order; anything else is an error."""
    pins = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if not m:
            raise SystemExit(f"{path}:{number}: not an exact pin 'name==version': {raw!r}")
        pins.append((m.group(1), m.group(2)))
    names = [canonical(n) for n, _ in pins]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: a distribution is pinned twice")
    return pins


def render(pins: list[tuple[str, str]]) -> str:
    """environment.yaml's text for these pins."""
    body = ["name: drugshift", "channels: [conda-forge]", "dependencies:", "  - python=3.11",
            "  - pip", "  - pip:"]
    body += [f"      - {name}=={version}" for name, version in pins]
    return HEADER + "\n".join(body) + "\n"


def installed_problems(pins: list[tuple[str, str]]) -> list[str]:
    """Differences between this Python's installed distributions and the pins."""
    from importlib.metadata import distributions

    wanted = {canonical(n): v for n, v in pins}
    problems = []
    for dist in distributions():
        name = canonical(dist.metadata["Name"] or "")
        if not name or name in UNPINNED_OK:
            continue
        version = dist.version.split("+", 1)[0]  # a local label (torch's +cpu) matches the pin
        if name not in wanted:
            problems.append(f"{dist.metadata['Name']}=={dist.version} is installed but has no pin")
        elif version != wanted[name]:
            problems.append(f"{dist.metadata['Name']}=={dist.version} is installed, pinned =={wanted[name]}")
    return sorted(set(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if environment.yaml is out of date")
    mode.add_argument("--check-installed", action="store_true",
                      help="fail unless the installed distributions are exactly the pins")
    args = parser.parse_args(argv)
    pins = read_pins()
    if args.check_installed:
        problems = installed_problems(pins)
        if problems:
            print(f"{sys.prefix} does not match {REQUIREMENTS.relative_to(ENVS.parent)}:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            print("Pin every dependency in envs/requirements.txt (then `make envs`); for a stale "
                  "environment: rm -rf .venv and rerun make.", file=sys.stderr)
            return 1
        return 0
    text = render(pins)
    if args.check:
        if not ENVIRONMENT.exists() or ENVIRONMENT.read_text() != text:
            print(f"{ENVIRONMENT} is out of date: run `make envs`", file=sys.stderr)
            return 1
        return 0
    ENVIRONMENT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
