"""Sizes the project holds itself to, measured so they stay true: functions under 50 lines and
modules of at most 400 in webhook/ (split well before), benchmark modules of at most 500."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LONGEST_FUNCTION = 49
LONGEST_MODULE = {"webhook": 400, "bench": 500}


def function_lengths(path: Path) -> list[tuple[int, str]]:
    """(lines from the first decorator to the last line, name) of every function and method."""
    lengths = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            lengths.append(
                (node.end_lineno - first + 1, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
            )
    return lengths


def test_every_function_of_the_package_is_under_50_lines() -> None:
    lengths = [
        length for path in sorted((ROOT / "webhook").rglob("*.py")) for length in function_lengths(path)
    ]
    too_long = sorted((n, where) for n, where in lengths if n > LONGEST_FUNCTION)
    assert not too_long, "split these (lines, function):\n" + "\n".join(f"{n} {w}" for n, w in too_long)


def test_the_length_measure_counts_decorators_and_bodies() -> None:
    path = ROOT / "webhook" / "transport" / "listener.py"
    lengths = dict((name.split()[-1], n) for n, name in function_lengths(path))
    source = path.read_text().splitlines()
    start = next(i for i, line in enumerate(source) if "def capture_signals" in line)
    assert source[start - 1].strip() == "@contextlib.contextmanager"
    assert lengths["capture_signals"] == 3  # decorator, def, yield


@pytest.mark.parametrize("package", sorted(LONGEST_MODULE))
def test_no_module_is_longer_than_its_package_allows(package: str) -> None:
    limit = LONGEST_MODULE[package]
    sizes = {path: len(path.read_text().splitlines()) for path in (ROOT / package).rglob("*.py")}
    too_long = sorted((n, str(path.relative_to(ROOT))) for path, n in sizes.items() if n > limit)
    assert not too_long, f"over {limit} lines: {too_long}"
