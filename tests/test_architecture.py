"""The layering holds, and would be caught breaking.

import-linter (``[tool.importlinter]`` in pyproject.toml, run by the lint gate) checks the layers and
the forbidden imports; these tests add what it cannot say: the core imports only an allowlist (stdlib
I/O is invisible to layer contracts), every module of webhook/ is in a layer, and the contracts and
the allowlist really refuse a forbidden import, in each form an import can be written.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
WEBHOOK = ROOT / "webhook"
CORE_ALLOWED = {
    "__future__",
    "typing",
    "dataclasses",
    "collections",
    "enum",
    "re",
    "copy",
    "json",
    "jsonpatch",
    "webhook",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved.

    ``import a.b`` and ``from a import b`` both count as importing ``a.b`` as well as ``a``: the
    second may name a module or an attribute, and either way it reaches into ``a.b`` if it exists.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _absolute(node: ast.ImportFrom, module: str, package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    anchor = parts if package else parts[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def imports_of(path: Path) -> set[str]:
    return imported_modules(path.read_text(), module_name(path), package=path.name == "__init__.py")


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules if name}


def core_problems(path: Path, source: str | None = None) -> list[str]:
    """What a core module imports that the core may not: I/O, or any project module outside the core."""
    modules = imported_modules(
        path.read_text() if source is None else source, module_name(path), package=path.name == "__init__.py"
    )
    problems = [f"{root} (not in the allowlist)" for root in sorted(roots(modules) - CORE_ALLOWED)]
    for name in sorted(modules):
        if name.startswith("webhook.") and not name.startswith("webhook.core"):
            problems.append(f"{name} (outside the core)")
    return problems


def test_the_core_imports_only_its_allowlist_and_itself() -> None:
    for path in sorted((WEBHOOK / "core").glob("*.py")):
        assert not core_problems(path), f"{path.name} imports {core_problems(path)}"


def test_explain_imports_the_core_and_nothing_else_of_the_package() -> None:
    """explain runs the server's decision: any rule of its own would be a second copy of them."""
    for path in sorted((WEBHOOK / "explain").glob("*.py")):
        outside = {
            name
            for name in imports_of(path)
            if name.startswith("webhook.") and not name.startswith(("webhook.core", "webhook.explain"))
        }
        assert not outside, f"{path.name} imports {sorted(outside)}"
        assert roots(imports_of(path)) <= CORE_ALLOWED, f"{path.name} imports {roots(imports_of(path))}"


@pytest.mark.parametrize(
    "line",
    [
        "import webhook.logconfig",
        "from webhook import logconfig",
        "from webhook.logconfig import configure_logging",
        "from .. import logconfig",
        "from ..logconfig import configure_logging",
        "import logging",
        "import os.path",
    ],
)
def test_the_core_check_refuses_every_form_of_a_forbidden_import(line: str) -> None:
    model = WEBHOOK / "core" / "model.py"
    assert not core_problems(model)
    assert core_problems(model, model.read_text() + f"\n{line}\n"), line


def test_only_the_kubernetes_api_edge_imports_the_kubernetes_client() -> None:
    api_edge = {WEBHOOK / "templates" / "kube_source.py", *(WEBHOOK / "kube").glob("*.py")}
    for path in sorted(WEBHOOK.rglob("*.py")):
        if path not in api_edge:
            assert "kubernetes" not in roots(imports_of(path)), path
    # The reflector is the pure half of the watch: testable without a client.
    assert "kubernetes" not in roots(imports_of(WEBHOOK / "kube" / "reflector.py"))


def layers_contract() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return layers  # type: ignore[no-any-return]


def layer_modules() -> set[str]:
    names: set[str] = set()
    for layer in layers_contract()["layers"]:  # type: ignore[attr-defined]
        names.update(part.strip().strip("()") for part in layer.replace(":", "|").split("|"))
    return names


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    placed = layer_modules()
    for path in sorted(WEBHOOK.rglob("*.py")):
        name = module_name(path)
        if name == "webhook":
            continue  # the package itself: its version, nothing else
        parts = name.split(".")
        owners = {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & placed
        assert owners, f"{name} is in no layer of [tool.importlinter]: add it where it belongs"


@pytest.mark.integration
def test_the_contracts_refuse_upward_and_sideways_imports(tmp_path: Path) -> None:
    """A scratch copy of the package with three forbidden imports: lint-imports names each one."""
    shutil.copytree(WEBHOOK, tmp_path / "webhook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    forbidden = {
        "settings.py": ("import webhook.runtime", "webhook.settings -> webhook.runtime"),
        "server/handler.py": (
            "from webhook.kube import client",
            "webhook.server.handler -> webhook.kube.client",
        ),
        "core/model.py": ("import webhook.logconfig", "webhook.core.model -> webhook.logconfig"),
    }
    for file, (line, _) in forbidden.items():
        path = tmp_path / "webhook" / file
        path.write_text(path.read_text() + f"\n{line}\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode != 0, result.stdout
    for _, expected in forbidden.values():
        assert expected in result.stdout, f"{expected} not reported:\n{result.stdout}"
