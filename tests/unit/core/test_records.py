"""Frozen records whose ``__init__`` is written out (``@dataclass(..., init=False)``): compiled, the
generated one stays Python and costs ten times as much, so the records built per review write their
own (docs/design.md, "Records built per review"). Each must take its fields in order, with their
annotations and defaults, and set each from the parameter of the same name: checked on the source,
so a field added to the class and forgotten in ``__init__`` fails here rather than as an
AttributeError on the request path."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def _is_written_out(node: ast.ClassDef) -> bool:
    return any(
        isinstance(decorator, ast.Call)
        and getattr(decorator.func, "id", None) == "dataclass"
        and any(k.arg == "init" and getattr(k.value, "value", True) is False for k in decorator.keywords)
        for decorator in node.decorator_list
    )


def written_out_records(source: str) -> list[ast.ClassDef]:
    return [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and _is_written_out(n)]


def problems(source: str, record: ast.ClassDef) -> list[str]:
    """How the record's ``__init__`` differs from its fields; empty when it matches."""

    def text(node: ast.expr | None) -> str | None:
        return None if node is None else ast.get_source_segment(source, node)

    fields = [
        (item.target.id, text(item.annotation), text(item.value))
        for item in record.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    ]
    inits = [f for f in record.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
    if not inits:
        return ["no __init__"]
    args = inits[0].args
    positional = args.args[1:]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parameters = [(a.arg, text(a.annotation), text(d)) for a, d in zip(positional, defaults, strict=True)]
    found = []
    if args.kwonlyargs or args.vararg or args.kwarg:
        found.append("parameters beyond the fields")
    if parameters != fields:
        found.append(f"parameters {parameters} are not the fields {fields}")
    assigned = [
        (call.args[1].value, call.args[2].id)
        for call in ast.walk(inits[0])
        if isinstance(call, ast.Call)
        and ast.unparse(call.func) == "object.__setattr__"
        and isinstance(call.args[1], ast.Constant)
        and isinstance(call.args[2], ast.Name)
    ]
    if sorted(assigned) != sorted((name, name) for name, _, _ in fields):
        found.append(f"sets {assigned}, not each field from its parameter")
    return found


RECORDS = [
    (path, record)
    for path in sorted((ROOT / "webhook").rglob("*.py"))
    for record in written_out_records(path.read_text())
]


def test_the_records_built_per_review_are_among_them() -> None:
    names = {record.name for _, record in RECORDS}
    core = {"AdmissionFacts", "MutationResult", "Added", "StatusEntry", "Signal", "OptInDecision"}
    server = {"ParsedReview", "Prepared", "Outcome", "Answer"}
    assert core | server | {"Selection", "Verdict", "AddedMount"} <= names


@pytest.mark.parametrize(("path", "record"), RECORDS, ids=[r.name for _, r in RECORDS])
def test_a_written_out_init_takes_and_sets_every_field(path: Path, record: ast.ClassDef) -> None:
    assert problems(path.read_text(), record) == []
    # The source read here is the class Python runs, and the dataclass still knows its fields.
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    cls = getattr(importlib.import_module(module), record.name)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [p for p in inspect.signature(cls).parameters]
    assert cls.__dataclass_params__.frozen


BROKEN = """
@dataclass(frozen=True, slots=True, init=False)
class Swapped:
    a: str
    b: str = ""

    def __init__(self, a: str, b: str = "") -> None:
        object.__setattr__(self, "a", b)
        object.__setattr__(self, "b", a)


@dataclass(frozen=True, slots=True, init=False)
class Forgotten:
    a: str
    b: str = ""

    def __init__(self, a: str) -> None:
        object.__setattr__(self, "a", a)


@dataclass(frozen=True, slots=True, init=False)
class NewDefault:
    a: str = "x"

    def __init__(self, a: str = "y") -> None:
        object.__setattr__(self, "a", a)
"""


@pytest.mark.parametrize("name", ["Swapped", "Forgotten", "NewDefault"])
def test_an_init_out_of_step_with_its_fields_is_found(name: str) -> None:
    (record,) = [r for r in written_out_records(BROKEN) if r.name == name]
    assert problems(BROKEN, record)
