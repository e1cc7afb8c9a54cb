"""One set of defaults: ``webhook.settings.Settings`` writes each, and nothing else writes it again.

Two checks. The CLI, parsed with no options, gives exactly ``DEFAULTS`` (so a flag cannot drift from
the setting it fills). And no default position in webhook/ (a parameter's default, a class field's,
an argparse ``default=``) holds a literal copy of a Settings default: it must read ``DEFAULTS``
instead. A few unrelated values happen to be equal to a default; each is listed with its reason.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webhook.cli import build_parser
from webhook.cli.options import injection_policy, security_policy
from webhook.cli.serve import settings_from_args
from webhook.settings import DEFAULTS

ROOT = Path(__file__).parents[1]
WEBHOOK = ROOT / "webhook"

# (module, name the value is the default of) -> why an equal value is not a copy of the setting.
COINCIDENCES = {
    ("webhook/kube/watch.py", "backoff_cap"): "the watch's longest backoff, not the request timeout",
    ("webhook/kube/watch.py", "connect_timeout"): "connecting to the API server, not the drain",
    ("webhook/kube/watch.py", "sync_interval"): "how often a live watch reports itself, not the drain",
    ("webhook/kube/reflector.py", "factor"): "backoff doubling, not the certificate poll",
    ("webhook/kube/namespaces.py", "timeout"): "joining a stopped thread, not the drain",
    ("webhook/templates/file_source.py", "timeout"): "joining a stopped thread, not the drain",
    ("webhook/templates/kube_source.py", "timeout"): "joining a stopped thread, not the drain",
    ("webhook/lifecycle/background.py", "timeout"): "joining a stopped thread, not the drain",
    ("webhook/lifecycle/podwatch.py", "timeout"): "joining a stopped thread, not the drain",
    ("webhook/events/series.py", "update_interval"): "how often an Event's count is patched, not a request",
    ("webhook/events/series.py", "request_timeout"): "one request to the Events API, not the drain",
    ("webhook/events/series.py", "flush_seconds"): "the last Events' time on stop, not the certificate poll",
}


def leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            yield from leaves(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value


def defining_classes() -> set[tuple[str, str]]:
    """(module path, class name) of the dataclasses Settings holds whole (the injection and template
    policies): their own field defaults are where those defaults are written."""
    found = set()
    for field in dataclasses.fields(DEFAULTS):
        value = getattr(DEFAULTS, field.name)
        if dataclasses.is_dataclass(value):
            # From the module's name, not inspect.getfile: a class compiled by mypyc has no source file.
            path = Path(*type(value).__module__.split(".")).with_suffix(".py")
            found.add((str(path), type(value).__name__))
    return found


def distinctive_defaults() -> dict[tuple[type, object], str]:
    """Settings' defaults by (type, value); 0, 1, "" and booleans mean too little to be compared."""
    values: dict[tuple[type, object], str] = {}
    for name, value in leaves(DEFAULTS):
        if type(value) in (int, float, str) and value not in (0, 1, ""):
            values.setdefault((type(value), value), name)
    return values


def constant(node: ast.expr) -> object:
    """The value of a literal or of arithmetic on literals (``3 * 1024 * 1024``), else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Add | ast.FloorDiv):
        left, right = constant(node.left), constant(node.right)
        if type(left) in (int, float) and type(right) in (int, float):
            return eval(compile(ast.Expression(node), "<default>", "eval"))  # literals only
    return None


def default_positions(tree: ast.Module, skip_classes: set[str]) -> Iterator[tuple[str, ast.expr]]:
    """(name, default expression) for every parameter default, class field default and argparse
    ``default=`` of a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            with_defaults = positional[len(positional) - len(arguments.defaults) :]
            yield from zip((a.arg for a in with_defaults), arguments.defaults, strict=True)
            for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
                if default is not None:
                    yield argument.arg, default
        elif isinstance(node, ast.ClassDef) and node.name not in skip_classes:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and item.value is not None:
                    yield ast.unparse(item.target), item.value
        elif isinstance(node, ast.Call):
            flag = ast.unparse(node.args[0]) if node.args else "?"
            yield from ((f"default of {flag}", k.value) for k in node.keywords if k.arg == "default")


def copied_defaults(path: str, source: str) -> list[str]:
    defaults = distinctive_defaults()
    skip = {name for module, name in defining_classes() if module == path}
    copies = []
    for name, node in default_positions(ast.parse(source), skip):
        value = constant(node)
        key = (type(value), value)
        if key in defaults and (path, name) not in COINCIDENCES:
            copies.append(f"{path}:{node.lineno}: {name} = {value!r} copies Settings.{defaults[key]}")
    return copies


def test_no_module_writes_a_settings_default_a_second_time() -> None:
    copies = []
    for file in sorted(WEBHOOK.rglob("*.py")):
        path = str(file.relative_to(ROOT))
        if path != "webhook/settings.py":
            copies.extend(copied_defaults(path, file.read_text()))
    assert not copies, "read these from webhook.settings.DEFAULTS instead:\n" + "\n".join(copies)


@pytest.mark.parametrize(
    "source",
    [
        "def serve(timeout: float = 10.0) -> None: ...",
        "def listen(*, port: int = 8443) -> None: ...",
        "class Limits:\n    max_inflight: int = 256\n",
        "parser.add_argument('--max-body-bytes', default=3 * 1024 * 1024)",
        "def configure(level: str = 'INFO') -> None: ...",
    ],
)
def test_the_scan_finds_a_copied_default(source: str) -> None:
    assert copied_defaults("webhook/scratch.py", source), source


def test_the_listed_coincidences_still_exist() -> None:
    """A coincidence whose code is gone must leave the list, or it would excuse a future copy."""
    found = set()
    for path, name in COINCIDENCES:
        tree = ast.parse((ROOT / path).read_text())
        found.update((path, n) for n, node in default_positions(tree, set()) if n == name and constant(node))
    assert found == set(COINCIDENCES)


def test_serve_without_options_is_exactly_the_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.delenv("POD_NAME", raising=False)
    # --kube: not a local trial, whose host and drain differ on purpose (test_cli_help.py).
    settings = settings_from_args(build_parser().parse_args(["serve", "--kube"]))
    assert settings == dataclasses.replace(DEFAULTS, kube=True)


@pytest.mark.parametrize("argv", [["inject", "--templates", "t", "-f", "x"], ["templates", "validate", "t"]])
def test_the_policy_options_default_to_the_settings_policies(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert security_policy(args) == DEFAULTS.template_security
    assert args.kubernetes_version == DEFAULTS.kubernetes_version
    if argv[0] == "inject":
        assert injection_policy(args) == DEFAULTS.policy
        assert args.pod_security_default_level == DEFAULTS.pod_security_default_level
        assert args.namespace == DEFAULTS.namespace
