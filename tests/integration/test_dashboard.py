"""The chart's Grafana dashboard: its JSON, and every panel query run by promtool against what a real
server exposed while it was driven through everything the dashboard shows (injections, skips,
failures, a missing and a rejected template, Pod Security conflicts, reloads).

Each query must parse, read only metrics the server exports, select this release's series, and
return at least one series at the end of the replay (`count(query) > bool 0` is 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest

from tests.integration.chart_helpers import NAMESPACE, one, render, require_helm
from tests.support.prometheus import exported_series_names, metric_names, promtool_test, require_promtool
from tests.support.replicas import (
    BROKEN_TEMPLATE,
    EXAMPLES,
    JOB,
    native_pod,
    normal_traffic,
    record,
    replicas,
    wait_for,
)
from tests.support.reviews import opted_in_pod

pytestmark = pytest.mark.integration

ROWS = ["Reviews", "Latency", "Templates", "Certificates", "Pod Security", "Replicas"]
GRAFANA_VARIABLES = {"$__rate_interval": "2m"}  # what Grafana puts there for a 30 s scrape interval


@pytest.fixture(scope="module")
def configmap() -> dict[str, Any]:
    docs = render(require_helm(), sets=["grafanaDashboard.enabled=true", "webhook.timeoutSeconds=7"])
    return one([d for d in docs if d["metadata"]["name"].endswith("-dashboard")], "ConfigMap")


@pytest.fixture(scope="module")
def dashboard(configmap: dict[str, Any]) -> dict[str, Any]:
    [(key, text)] = configmap["data"].items()
    assert key == "sidecar-injector.json"
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((f"{panel['title']} / {target['refId']}", expr))
    return found


def test_the_dashboard_is_labelled_for_grafana_and_named_for_the_release(
    configmap: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == NAMESPACE
    assert dashboard["title"] == f"Sidecar injector ({NAMESPACE}/{JOB})"
    assert dashboard["uid"].startswith("sidecar-injector-") and len(dashboard["uid"]) <= 40
    assert "__" not in json.dumps(dashboard).replace("$__rate_interval", "")  # every placeholder filled
    assert [p["title"] for p in dashboard["panels"] if p["type"] == "row"] == ROWS


def test_panels_sit_on_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] != "row":
            assert panel["targets"] and panel["description"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_every_query_parses_selects_the_release_and_reads_exported_metrics(
    dashboard: dict[str, Any], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES)) as [replica]:
        exported = exported_series_names(
            httpx.get(f"http://127.0.0.1:{replica.server.metrics_port}/metrics").text
        )
    selector = f'job="{JOB}",namespace="{NAMESPACE}"'
    for title, expr in queries(dashboard):
        names = metric_names(promql_parser.parse(expr))
        assert names <= exported, f"{title} reads {names - exported}, which no server exports"
        if names:
            assert expr.count("{") == expr.count(selector), f"{title} does not select only this release"
        else:
            assert expr == "vector(7)", title  # the webhook timeout line


def test_every_panel_query_returns_series_from_a_real_server(
    dashboard: dict[str, Any], tmp_path: Path
) -> None:
    promtool = require_promtool()
    folder = tmp_path / "templates"
    shutil.copytree(EXAMPLES, folder)
    args = (
        "--templates",
        str(folder),
        "--pod-security-default-level",
        "restricted",
        "--max-body-bytes",
        "20000",
    )
    with replicas(tmp_path, *args) as [replica]:

        def each_tick(tick: int) -> None:
            normal_traffic(replica, template="log-shipper")
            replica.admit(opted_in_pod("logging-agent"))  # a Pod Security conflict (warned)
            replica.admit(native_pod("no-such-template"))
            replica.admit(opted_in_pod(), "?timeout=0s")  # expired: a failed review
            if tick == 1:
                (folder / "logging-agent-initializer.yaml").write_text(
                    BROKEN_TEMPLATE.replace("log-shipper", "logging-agent")
                )
                wait_for(
                    lambda: replica.metric("sidecar_injector_template_rejected_timestamp_seconds") > 0,
                    "a rejection",
                )

        recorder = record([replica], each_tick, ticks=12)
    checks = [
        {
            "expr": f"count({expr}) > bool 0",
            "eval_time": recorder.end,
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
        for _, expr in queries(dashboard)
    ]
    promtool_test(promtool, [], recorder.input_series(), checks, tmp_path / "promtool")


def test_template_series_stay_right_with_workers(tmp_path: Path) -> None:
    """With --workers the parent sums the workers' files and cannot drop a series: a fixed
    rejection and a replaced revision must read 0, so the `> 0` / `== 1` selections hold."""
    folder = tmp_path / "templates"
    shutil.copytree(EXAMPLES, folder)
    with replicas(tmp_path, "--templates", str(folder), "--workers", "2") as [replica]:
        wait_for(
            lambda: replica.metric("sidecar_injector_template_info", template="log-shipper") == 1,
            "log-shipper",
        )
        [old] = [
            s.labels["revision"]
            for s in replica.scrape()
            if s.name == "sidecar_injector_template_info" and s.labels["template"] == "log-shipper"
        ]
        original = (folder / "log-shipper.yaml").read_text()
        (folder / "log-shipper.yaml").write_text(BROKEN_TEMPLATE)
        wait_for(
            lambda: replica.metric("sidecar_injector_template_rejected_timestamp_seconds", revision=old) > 0,
            "the rejection",
        )
        (folder / "log-shipper.yaml").write_text(original.replace("fluent-bit:3.2.4", "fluent-bit:3.2.5"))

        def settled() -> bool:
            samples = replica.scrape()
            info = {
                s.labels["revision"]: s.value
                for s in samples
                if s.name == "sidecar_injector_template_info" and s.labels["template"] == "log-shipper"
            }
            rejected = [
                s.value for s in samples if s.name == "sidecar_injector_template_rejected_timestamp_seconds"
            ]
            return len(info) == 2 and info[old] == 0 and sorted(info.values()) == [0, 1] and rejected == [0]

        wait_for(settled, "the new revision to replace the old one in both workers' series")
