#!/usr/bin/env python3
"""The engine alone, an earlier revision against this tree: ``mutate()`` per scenario, in one process.

    python bench/engine_compare.py --against main
    python bench/engine_compare.py --against 3044cb9 --rounds 40 0-reference

Exports the revision's ``webhook/`` package with ``git archive`` into a temporary folder as
``webhook_before`` (its imports rewritten), loads each scenario's templates with each package's own
loader, and times ``mutate()`` of the two in alternating blocks of calls, so that load from other
work on the machine falls on both alike. Prints the median µs per call of each, the change, and
whether both gave the same patch, warnings and skip reason. No HTTP, no envelope, no log line:
``bench/profile.py --only-handler`` times the whole handler.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# python bench/engine_compare.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO
from bench.reviews import SCENARIO_KEYS, Scenario, scenario_bodies

BEFORE = "webhook_before"
_IMPORT = re.compile(r"^(\s*)(from|import) webhook\b", re.MULTILINE)


def export_before(revision: str, into: Path) -> None:
    """The revision's webhook package as ``webhook_before`` under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "webhook"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "webhook").rename(into / BEFORE)
    for path in (into / BEFORE).rglob("*.py"):
        path.write_text(_IMPORT.sub(rf"\1\2 {BEFORE}", path.read_text()))


def engine_call(package: str, scenario: Scenario) -> Callable[[], Any]:
    """mutate() of ``package`` on the scenario's object, with its templates and the default policy."""
    core = importlib.import_module(f"{package}.core")
    model = importlib.import_module(f"{package}.core.model")
    metrics = importlib.import_module(f"{package}.metrics")
    source = importlib.import_module(f"{package}.templates.file_source")
    store = importlib.import_module(f"{package}.templates.store").TemplateStore(metrics=metrics.Metrics())
    for folder in scenario.templates:
        source.FolderTemplateSource(store, folder).sync()
    request = json.loads(scenario.body)["request"]
    facts = model.AdmissionFacts(
        uid=request["uid"],
        operation=request["operation"],
        kind=request["kind"]["kind"],
        namespace=request.get("namespace", ""),
        name=request.get("name", ""),
    )
    templates, policy, obj = store.snapshot(), core.InjectionPolicy(), request["object"]
    return lambda: core.mutate(obj, facts, templates, policy)


def same_answer(before: Any, after: Any) -> bool:
    return bool(
        json.dumps(before.patch) == json.dumps(after.patch)
        and before.warnings == after.warnings
        and before.skip_reason == after.skip_reason
    )


def compare(scenario: Scenario, rounds: int) -> str:
    calls = {"before": engine_call(BEFORE, scenario), "after": engine_call("webhook", scenario)}
    same = same_answer(calls["before"](), calls["after"]())
    block = 20 if scenario.object_bytes > 100_000 else 200
    times: dict[str, list[float]] = {"before": [], "after": []}
    for turn in range(rounds):
        for side in ("before", "after") if turn % 2 == 0 else ("after", "before"):
            call = calls[side]
            for _ in range(block):
                started = time.perf_counter()
                call()
                times[side].append(time.perf_counter() - started)
    before, after = (statistics.median(times[side]) * 1e6 for side in ("before", "after"))
    return (
        f"| {scenario.key} | {before:,.1f} | {after:,.1f} | {100 * (after - before) / before:+.1f} % | "
        f"{'yes' if same else 'NO'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="a git revision of this repository")
    parser.add_argument("--rounds", type=int, default=30, help="alternating blocks per side")
    # [] among the choices: argparse checks an empty list against them (python/cpython#86357).
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIO_KEYS], default=[])
    args = parser.parse_args()
    keys = args.scenarios or list(SCENARIO_KEYS)
    with tempfile.TemporaryDirectory() as folder:
        export_before(args.against, Path(folder))
        sys.path.insert(0, folder)
        print(f"mutate() median µs per call, {args.against} against this tree")
        print("| scenario | before | after | change | same answer |\n|---|---:|---:|---:|---|")
        for scenario in scenario_bodies():
            if scenario.key in keys:
                print(compare(scenario, args.rounds), flush=True)


if __name__ == "__main__":
    main()
