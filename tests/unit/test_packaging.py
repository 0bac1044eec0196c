"""Packaging: pyproject.toml declares what the code imports, envs/requirements.txt pins it, and
envs/environment.yaml repeats exactly those pins (so none of the three can drift)."""

import ast
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

#: Import names whose distribution is named otherwise (anything else: the import name itself).
IMPORT_TO_DIST = {
    "sklearn": "scikit-learn",
    "imblearn": "imbalanced-learn",
    "yaml": "pyyaml",
    "igraph": "igraph",  # the python-igraph project, published as `igraph`
    "skops": "skops",
    "PIL": "pillow",
    "umap": "umap-learn",
}


def _sync():
    spec = importlib.util.spec_from_file_location("sync_environment", ROOT / "envs" / "sync_environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _sync()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, str]:
    return {canonical(n): v for n, v in sync.read_pins()}


def _guarded(tree: ast.AST) -> set[int]:
    """Ids of the import nodes inside a ``try`` that catches ImportError: optional features."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)}
    return guarded


def third_party_imports(folder: Path, optional: bool = False) -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere under ``folder`` (lazy imports included)
    -> the files importing them; the required ones, or with ``optional`` only those guarded by
    ``except ImportError``."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and (id(node) in guarded) != optional:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "drugshift":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def declared(requirements: list[str]) -> set[str]:
    return {canonical(Requirement(r).name) for r in requirements}


def test_requirements_are_exact_pins():
    listed = sync.read_pins()  # exits on any line that is not name==version
    assert len(listed) > 50
    assert "torch" in pins()


def test_environment_yaml_pins_equal_requirements():
    env = yaml.safe_load((ROOT / "envs" / "environment.yaml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    assert pip_sections[0] == [f"{n}=={v}" for n, v in sync.read_pins()], (
        "envs/environment.yaml differs from envs/requirements.txt: run `make envs`")
    assert "python=3.11" in env["dependencies"]


def test_environment_yaml_is_exactly_the_generated_file():
    assert (ROOT / "envs" / "environment.yaml").read_text() == sync.render(sync.read_pins()), (
        "run `make envs`")


def test_environment_yaml_has_no_relative_paths():
    """Snakemake creates the environment from a copy in .snakemake/conda/: `-r file` or `-e ..`
    would resolve there."""
    env = yaml.safe_load((ROOT / "envs" / "environment.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert not [e for e in pip if e.startswith(("-", ".", "/")) or "/" in e]


@pytest.mark.parametrize("folder, extras", [("src/drugshift", ()), ("workflow/scripts", ("workflow",))])
def test_pyproject_declares_every_import(folder, extras):
    project = pyproject()
    have = declared(project["dependencies"])
    for extra in extras:
        have |= declared(project["optional-dependencies"][extra])
    imports = third_party_imports(ROOT / folder)
    assert {"numpy", "torch"} <= set(imports)  # the scan sees the code
    missing = {
        top: sorted(files)
        for top, files in imports.items()
        if canonical(IMPORT_TO_DIST.get(top, top)) not in have
    }
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"


def test_skops_is_a_dependency():
    assert "skops" in declared(pyproject()["dependencies"])


def test_every_declared_dependency_has_a_pin_within_its_range():
    project = pyproject()
    every = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        every += extra
    pinned = pins()
    problems = []
    for line in every:
        req = Requirement(line)
        version = pinned.get(canonical(req.name))
        if version is None:
            problems.append(f"{req.name}: no pin in envs/requirements.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside pyproject's range {req.specifier}")
    assert not problems, problems


def test_dependencies_are_ranges_not_exact_pins():
    exact = [r for r in pyproject()["dependencies"] if any(s.operator in ("==", "===") for s in Requirement(r).specifier)]
    assert not exact, f"pyproject.toml pins exactly (pins belong in envs/requirements.txt): {exact}"


def test_torch_is_a_range_in_pyproject_and_pinned_in_requirements():
    torch = next(Requirement(r) for r in pyproject()["dependencies"] if canonical(Requirement(r).name) == "torch")
    assert torch.specifier and all(s.operator not in ("==", "===") for s in torch.specifier)
    assert pins()["torch"] == "2.13.0"
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()  # installed first, before any CUDA build


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in (ROOT / "README.md").read_text()


def test_optional_imports_are_declared_in_an_extra():
    """An import guarded by ``except ImportError`` is an optional feature: some extra declares it."""
    project = pyproject()
    have = declared(project["dependencies"])
    for requirements in project["optional-dependencies"].values():
        have |= declared(requirements)
    imports = third_party_imports(ROOT / "src/drugshift", optional=True)
    assert "snakemake" in imports  # drugshift check-config validates with the workflow's schema
    missing = {top: sorted(files) for top, files in imports.items() if canonical(IMPORT_TO_DIST.get(top, top)) not in have}
    assert not missing, f"optional imports in no extra of pyproject.toml: {missing}"
