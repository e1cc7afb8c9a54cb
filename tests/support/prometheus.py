"""Evaluate the chart's alert rules and dashboard queries against what real servers exposed.

A test drives a running `sidecar-injector serve` into some condition and calls ``Recorder.tick()``
between steps: each tick probes /readyz on every target (as the kubelet does, which is what updates
sidecar_injector_ready) and scrapes its /metrics, adding the labels a ServiceMonitor adds. A target
that cannot be scraped contributes no sample, as in Prometheus.

The scrapes are then replayed by `promtool test rules` (the real Prometheus rule engine) on a
compressed clock: tick k happens at k x ``step`` of virtual time, so a condition held over a few
seconds of real time covers the minutes an alert's ``for`` and rate windows need. Values that are
Unix times (series named *_timestamp_seconds) are moved onto the same clock by ``TimeWarp``, so
"expires in 10 days" or "rejected since tick 3" mean the same after the replay.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
STEP_SECONDS = 30
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def require_promtool() -> str:
    """promtool from .tools/bin or PATH; skipped locally when missing, a failure in CI."""
    local = REPO / ".tools" / "bin" / "promtool"
    found = str(local) if local.is_file() and os.access(local, os.X_OK) else shutil.which("promtool")
    if found is None:
        message = "promtool not found in .tools/bin or PATH: run `bash scripts/install-tools.sh`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Target:
    """One scraped pod: its ports and the labels Prometheus attaches to its series."""

    pod: str
    port: int
    metrics_port: int
    job: str
    namespace: str

    @property
    def labels(self) -> dict[str, str]:
        return {
            "job": self.job,
            "namespace": self.namespace,
            "service": self.job,
            "pod": self.pod,
            "container": "sidecar-injector",
            "endpoint": "metrics",
            "instance": f"127.0.0.1:{self.metrics_port}",
        }


def parse_exposition(text: str, extra_labels: Mapping[str, str]) -> dict[SeriesKey, float]:
    samples: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {**sample.labels, **extra_labels}
            samples[(sample.name, tuple(sorted(labels.items())))] = float(sample.value)
    return samples


@dataclass
class Recorder:
    targets: list[Target]
    ticks: list[tuple[float, dict[SeriesKey, float]]] = field(default_factory=list)

    def tick(self) -> dict[SeriesKey, float]:
        merged: dict[SeriesKey, float] = {}
        now = time.time()
        for target in self.targets:
            try:
                httpx.get(f"https://127.0.0.1:{target.port}/readyz", verify=False, timeout=5)
                text = httpx.get(f"http://127.0.0.1:{target.metrics_port}/metrics", timeout=5).text
            except httpx.TransportError:
                continue  # a failed scrape: no samples, as Prometheus records it
            merged.update(parse_exposition(text, target.labels))
        self.ticks.append((now, merged))
        return merged

    @property
    def end(self) -> str:
        """The virtual time of the last tick, as a promtool duration."""
        return f"{(len(self.ticks) - 1) * STEP_SECONDS}s"

    def input_series(self) -> list[dict[str, str]]:
        warp = TimeWarp([at for at, _ in self.ticks])
        keys = sorted({key for _, samples in self.ticks for key in samples})
        series = []
        for name, labels in keys:
            values = []
            for _, samples in self.ticks:
                value = samples.get((name, labels))
                if value is None:
                    values.append("_")
                    continue
                if name.endswith("_timestamp_seconds") and value > 0:
                    value = warp(value)
                values.append(repr(value))
            series.append({"series": series_selector(name, labels), "values": " ".join(values)})
        return series


def series_selector(name: str, labels: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in labels)
    return f"{name}{{{inner}}}"


class TimeWarp:
    """Maps real Unix times onto the replay's clock: tick k (real time r_k) becomes k x step.

    Between two ticks the map is linear; before the first and after the last it keeps real
    distances (a certificate that expires in 10 days still does, from the last tick).
    """

    def __init__(self, real_times: Sequence[float], step: float = STEP_SECONDS) -> None:
        if not real_times or any(b <= a for a, b in itertools.pairwise(real_times)):
            raise ValueError("tick times must be increasing")
        self._real = list(real_times)
        self._step = step

    def __call__(self, real: float) -> float:
        ticks = self._real
        if real <= ticks[0]:
            return real - ticks[0]
        if real >= ticks[-1]:
            return (len(ticks) - 1) * self._step + (real - ticks[-1])
        k = bisect.bisect_right(ticks, real) - 1
        return (k + (real - ticks[k]) / (ticks[k + 1] - ticks[k])) * self._step


def promtool_test(
    promtool: str,
    rule_groups: list[dict[str, Any]],
    series: list[dict[str, str]],
    checks: list[dict[str, Any]],
    directory: Path,
) -> None:
    """Run `promtool test rules` with these rules, input series and PromQL checks; fail with its output."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}, sort_keys=False))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{STEP_SECONDS}s",
        "tests": [{"interval": f"{STEP_SECONDS}s", "input_series": series, "promql_expr_test": checks}],
    }
    (directory / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False, width=1_000_000))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yaml"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}\n{result.stderr}"


def alert_checks(end: str, firing: Mapping[str, int], quiet_until: str = "1m") -> list[dict[str, Any]]:
    """Exactly ``firing`` (alert name -> instance count) fire at ``end``; nothing fires before
    ``quiet_until``; no other alert is ever firing or pending at any minute of the replay."""
    end_seconds = int(end.removesuffix("s"))
    others = "|".join(sorted(firing)) or "^$"
    checks: list[dict[str, Any]] = [
        {"expr": 'ALERTS{alertstate="firing"}', "eval_time": quiet_until, "exp_samples": []},
        {
            "expr": 'count by (alertname) (ALERTS{alertstate="firing"})',
            "eval_time": end,
            "exp_samples": [
                {"labels": f'{{alertname="{name}"}}', "value": count}
                for name, count in sorted(firing.items())
            ],
        },
    ]
    for at in range(0, end_seconds + 1, 60):
        checks.append({"expr": f'ALERTS{{alertname!~"{others}"}}', "eval_time": f"{at}s", "exp_samples": []})
    return checks


def exported_series_names(text: str) -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes.get(family.type, ("",))
    }


def metric_names(node: Any) -> set[str]:
    """Every metric name a PromQL syntax tree selects."""
    names: set[str] = set()
    if isinstance(node, promql_parser.VectorSelector):
        names.add(node.name)
    for attribute in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            names |= metric_names(child)
    for child in getattr(node, "args", None) or ():
        names |= metric_names(child)
    return names
