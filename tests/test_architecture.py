"""The core stays pure: it may import only this allowlist (import-linter cannot see stdlib I/O)."""

from __future__ import annotations

import ast
from pathlib import Path

WEBHOOK = Path(__file__).parents[1] / "webhook"
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


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_imports_nothing_that_does_io() -> None:
    for path in sorted((WEBHOOK / "core").glob("*.py")):
        unexpected = imported_roots(path) - CORE_ALLOWED
        assert not unexpected, f"{path.name} imports {sorted(unexpected)}"


def test_core_imports_of_the_project_stay_inside_the_core() -> None:
    for path in sorted((WEBHOOK / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("webhook"):
                assert node.module.startswith("webhook.core"), f"{path.name} imports {node.module}"


def test_only_the_kubernetes_api_edge_imports_the_kubernetes_client() -> None:
    api_edge = {WEBHOOK / "templates" / "kube_source.py", *(WEBHOOK / "kube").glob("*.py")}
    for path in sorted(WEBHOOK.rglob("*.py")):
        if path not in api_edge:
            assert "kubernetes" not in imported_roots(path), path
    # The reflector is the pure half of the watch: testable without a client.
    assert "kubernetes" not in imported_roots(WEBHOOK / "kube" / "reflector.py")
