"""Every third-party package the code imports is declared in pyproject.toml, and every declared
runtime dependency is used.

The image installs exactly ``[project.dependencies]`` (hash-locked in requirements.lock): a package
that is only there because another one happens to bring it (jsonschema by kubernetes-validate,
urllib3 by kubernetes) would vanish, or change major version, the day that one stops; a declared
package nothing imports (FastAPI, once the admission port stopped using it) is image weight and
attack surface for nothing.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = {canonicalize_name(Requirement(d).name) for d in PROJECT["dependencies"]}
TEST = {canonicalize_name(Requirement(d).name) for d in PROJECT["optional-dependencies"]["test"]}
LOCAL = {"webhook", "tests", "bench", "__future__"}
# Files the image runs besides the package: the Helm test hook runs inside the injector's image.
IMAGE_SCRIPTS = [ROOT / "charts" / "sidecar-injector" / "files" / "helm-test.py"]


def imported_roots(files: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level module names imported (``pytest.importorskip("x")`` included) -> files importing them."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            for name in names:
                root = name.split(".")[0]
                if not (path.parent / f"{root}.py").exists():  # a script's own sibling module
                    found.setdefault(root, set()).add(str(path.relative_to(ROOT)))
    return found


def third_party(files: Iterable[Path]) -> dict[str, set[str]]:
    """Distributions (canonical names) that provide what ``files`` import -> the importing files."""
    distributions = packages_distributions()
    found: dict[str, set[str]] = {}
    for root, importers in imported_roots(files).items():
        if root in LOCAL or root in sys.stdlib_module_names:
            continue
        provided = distributions.get(root)
        assert provided, f"{root} (imported by {sorted(importers)}) is not installed from any distribution"
        for distribution in provided:
            found.setdefault(canonicalize_name(distribution), set()).update(importers)
    return found


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_the_package_and_the_image_import_only_runtime_dependencies() -> None:
    used = third_party([*python_files("webhook"), *IMAGE_SCRIPTS])
    undeclared = {name: sorted(files) for name, files in used.items() if name not in RUNTIME}
    assert not undeclared, f"declare these in [project.dependencies]: {undeclared}"


def test_every_runtime_dependency_is_imported() -> None:
    used = third_party([*python_files("webhook"), *IMAGE_SCRIPTS])
    assert set(used) >= RUNTIME, f"declared but never imported: {sorted(RUNTIME - set(used))}"


def test_tests_benchmarks_and_scripts_import_only_declared_packages() -> None:
    used = third_party(python_files("tests", "bench", "scripts"))
    undeclared = {name: sorted(files) for name, files in used.items() if name not in RUNTIME | TEST}
    assert not undeclared, f"declare these in [project.optional-dependencies] test: {undeclared}"
