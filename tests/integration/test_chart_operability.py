"""The chart's operability values: PrometheusRule, Grafana dashboard, HorizontalPodAutoscaler and a
disruption budget that never blocks a drain. Each value is linted and rendered on and off.

No PyPI or npm package ships the prometheus-operator CRD YAML, so the PrometheusRule is validated
structurally: its metadata with Kubernetes' own ObjectMeta schema (kubernetes-validate, strict), its
spec field by field against the CRD's documented fields and patterns, and its rule groups with
`promtool check rules` (Prometheus' strict rule-file parser, which also parses every expression and
annotation template). What the alerts do is tested in test_alerts.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.chart_helpers import (
    NAMESPACE,
    RELEASE,
    by_kind,
    helm_run,
    one,
    render,
    require_helm,
    template_args,
)
from tests.support.prometheus import require_promtool

pytestmark = pytest.mark.integration

FULLNAME = f"{RELEASE}-sidecar-injector"
# The CRD's monitoring.coreos.com/v1 Duration pattern (for, interval, keep_firing_for).
DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
GROUP_FIELDS = {"name", "interval", "rules", "partial_response_strategy", "limit", "query_offset", "labels"}
RULE_FIELDS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}

SWITCHES = {
    "prometheusRule.enabled": ("PrometheusRule", "monitoring.coreos.com/v1"),
    "grafanaDashboard.enabled": ("ConfigMap", "v1"),
    "autoscaling.enabled": ("HorizontalPodAutoscaler", "autoscaling/v2"),
    "podDisruptionBudget.enabled": ("PodDisruptionBudget", "policy/v1"),
    "serviceMonitor.enabled": ("ServiceMonitor", "monitoring.coreos.com/v1"),
}


@pytest.fixture(scope="module")
def helm() -> str:
    return require_helm()


@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("switch", list(SWITCHES))
def test_each_value_lints_and_renders_on_and_off(helm: str, switch: str, on: bool) -> None:
    sets = [f"{switch}={str(on).lower()}"]
    lint = helm_run(helm, "lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE, "--set", sets[0])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    kind, api_version = SWITCHES[switch]
    docs = render(helm, sets=sets)
    found = [d for d in by_kind(docs, kind) if d["apiVersion"] == api_version]
    if kind == "ConfigMap":
        found = [d for d in found if d["metadata"]["name"] == f"{FULLNAME}-dashboard"]
    assert len(found) == (1 if on else 0)
    deployment = one(docs, "Deployment")["spec"]
    assert ("replicas" in deployment) is not (switch == "autoscaling.enabled" and on)


CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "sidecar-injector"


# --- PrometheusRule ------------------------------------------------------------------------------------


def prometheus_rule(helm: str, *sets: str) -> dict[str, Any]:
    return one(render(helm, sets=["prometheusRule.enabled=true", *sets]), "PrometheusRule")


def assert_structurally_valid(rule: dict[str, Any]) -> None:
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    meta_only = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": rule["metadata"]}
    kubernetes_validate.validate(meta_only, "1.37", strict=True)
    assert set(rule["spec"]) == {"groups"}
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert len(names) == len(set(names))
    for group in rule["spec"]["groups"]:
        assert set(group) <= GROUP_FIELDS and group["rules"]
        for item in group["rules"]:
            assert set(item) <= RULE_FIELDS and ("alert" in item) != ("record" in item)
            assert isinstance(item["expr"], str) and item["expr"].strip()
            assert DURATION.match(item.get("for", "0")), item.get("for")
            for mapping in ("labels", "annotations"):
                assert all(
                    isinstance(k, str) and isinstance(v, str) for k, v in item.get(mapping, {}).items()
                )


def test_the_prometheus_rule_is_valid_for_the_crd_and_for_prometheus(helm: str, tmp_path: Path) -> None:
    rule = prometheus_rule(helm, "prometheusRule.labels.release=kube-prometheus-stack")
    assert_structurally_valid(rule)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(
        [require_promtool(), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "SUCCESS: 9 rules found" in result.stdout, result.stdout + result.stderr


def test_promtool_check_rules_would_catch_a_broken_annotation_template(tmp_path: Path) -> None:
    """Guards the test above: promtool parses annotation templates, not only expressions."""
    broken = {
        "groups": [
            {"name": "g", "rules": [{"alert": "A", "expr": "vector(1)", "annotations": {"x": "{{ $value"}}]}
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [require_promtool(), "check", "rules", str(tmp_path / "rules.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0


def expressions(rule: dict[str, Any]) -> dict[str, str]:
    return {item["alert"]: item["expr"] for group in rule["spec"]["groups"] for item in group["rules"]}


def test_thresholds_follow_the_values(helm: str, tmp_path: Path) -> None:
    default = expressions(prometheus_rule(helm))
    assert default["SidecarInjectorLatencyNearTimeout"].rstrip().endswith("> 2.5")  # half of 5 s
    assert default["SidecarInjectorReviewErrors"].rstrip().endswith("> 0.02")
    assert "< 1209600" in default["SidecarInjectorCertificateExpiresSoon"]  # 14 days
    assert ">= 172800" in default["SidecarInjectorCertificateExpiresSoon"]
    assert "< 172800" in default["SidecarInjectorCertificateExpiryCritical"]  # 2 days
    assert default["SidecarInjectorTemplateRejected"].rstrip().endswith("> 900")
    values = tmp_path / "tuned.yaml"  # --set would make 0.8 a string
    values.write_text(
        yaml.safe_dump(
            {
                "webhook": {"timeoutSeconds": 10},
                "prometheusRule": {
                    "enabled": True,
                    "latencyTimeoutRatio": 0.8,
                    "reviewErrorRatio": 0.1,
                    "templateRejectedMinutes": 60,
                    "certificateExpiry": {"warningDays": 30, "criticalDays": 7},
                    "alertLabels": {"team": "platform"},
                },
            }
        )
    )
    tuned = one(render(helm, [values]), "PrometheusRule")
    changed = expressions(tuned)
    assert changed["SidecarInjectorLatencyNearTimeout"].rstrip().endswith("> 8")
    assert changed["SidecarInjectorReviewErrors"].rstrip().endswith("> 0.1")
    assert changed["SidecarInjectorTemplateRejected"].rstrip().endswith("> 3600")
    assert "< 2592000" in changed["SidecarInjectorCertificateExpiresSoon"]
    assert "< 604800" in changed["SidecarInjectorCertificateExpiryCritical"]
    for group in tuned["spec"]["groups"]:
        for item in group["rules"]:
            assert item["labels"]["team"] == "platform" and item["labels"]["severity"]


def test_the_series_selector_defaults_to_the_service_monitor_and_can_be_replaced(helm: str) -> None:
    default = json.dumps(expressions(prometheus_rule(helm)))
    assert default.count(f'job=\\"{FULLNAME}\\",namespace=\\"{NAMESPACE}\\"') >= 12
    custom = expressions(prometheus_rule(helm, 'metricsSelector=cluster="eu-1"\\,app="injector"'))
    for alert, expr in custom.items():
        assert "job=" not in expr and 'cluster="eu-1",app="injector"' in expr, alert
    dashboard = render(helm, sets=["grafanaDashboard.enabled=true", 'metricsSelector=cluster="eu-1"'])
    [configmap] = [d for d in by_kind(dashboard, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    text = configmap["data"]["sidecar-injector.json"]
    assert 'cluster=\\"eu-1\\"' in text and "job=" not in text
    json.loads(text)


def test_the_dashboard_can_go_to_grafanas_namespace_with_its_folder(helm: str) -> None:
    docs = render(
        helm,
        sets=[
            "grafanaDashboard.enabled=true",
            "grafanaDashboard.namespace=monitoring",
            "grafanaDashboard.annotations.grafana_folder=Webhooks",
        ],
    )
    [configmap] = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Webhooks"}
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"


# --- autoscaling and the disruption budget ------------------------------------------------------------


def test_the_autoscaler_scales_the_deployment_on_cpu(helm: str) -> None:
    docs = render(
        helm,
        sets=[
            "autoscaling.enabled=true",
            "autoscaling.maxReplicas=8",
            "autoscaling.targetCPUUtilizationPercentage=60",
        ],
    )
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert hpa["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
        }
    ]
    assert hpa["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    for version in ("1.30", "1.37"):
        kubernetes_validate.validate(one(docs, "HorizontalPodAutoscaler"), version, strict=True)


CONSISTENT = {
    "defaults": [],
    "three replicas, two must stay": ["replicaCount=3", "podDisruptionBudget.minAvailable=2"],
    "half must stay of two": ["podDisruptionBudget.minAvailable=50%"],
    "one may go": ["podDisruptionBudget.maxUnavailable=1"],
    "1% may go (rounds up to one pod)": ["podDisruptionBudget.maxUnavailable=1%"],
    "autoscaled from 3, two must stay": [
        "autoscaling.enabled=true",
        "autoscaling.minReplicas=3",
        "podDisruptionBudget.minAvailable=2",
    ],
    "a single replica without a budget": ["replicaCount=1", "podDisruptionBudget.enabled=false"],
}
INCONSISTENT = {
    "a single replica that must stay": (["replicaCount=1"], "minAvailable (1) must leave one pod free"),
    "all of two must stay": (["podDisruptionBudget.minAvailable=2"], "with 2 replica(s) (replicaCount)"),
    "100% must stay": (["podDisruptionBudget.minAvailable=100%"], "minAvailable (100%)"),
    "none may go": (["podDisruptionBudget.maxUnavailable=0%"], "lets no pod go"),
    "autoscaled from 2, two must stay": (
        ["autoscaling.enabled=true", "podDisruptionBudget.minAvailable=2"],
        "with 2 replica(s) (autoscaling.minReplicas)",
    ),
    "max below min": (
        ["autoscaling.enabled=true", "autoscaling.maxReplicas=2", "autoscaling.minReplicas=3"],
        "maxReplicas (2)",
    ),
    "autoscaling without a CPU request": (
        ["autoscaling.enabled=true", "resources.requests=null"],
        "resources.requests.cpu",
    ),
}


@pytest.mark.parametrize("sets", list(CONSISTENT.values()), ids=list(CONSISTENT))
def test_budgets_that_let_a_drain_proceed_render(helm: str, sets: list[str]) -> None:
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("sets", "message"), list(INCONSISTENT.values()), ids=list(INCONSISTENT))
def test_budgets_that_would_block_a_drain_are_refused_with_the_reason(
    helm: str, sets: list[str], message: str
) -> None:
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode != 0 and message in result.stderr, result.stderr


SCHEMA_REFUSES = {
    "an autoscaler below two pods": ["autoscaling.minReplicas=1"],
    "a CPU target above 100%": ["autoscaling.targetCPUUtilizationPercentage=150"],
    "maxUnavailable zero": ["podDisruptionBudget.maxUnavailable=0"],
    "an error ratio above one": ["prometheusRule.reviewErrorRatio=2"],
    "a latency ratio of zero": ["prometheusRule.latencyTimeoutRatio=0"],
    "an unknown rule key": ["prometheusRule.severity=page"],
    "an unknown dashboard key": ["grafanaDashboard.folder=x"],
    "a dashboard namespace that is no name": ["grafanaDashboard.namespace=Not_A_Name"],
    "critical days not below warning days": [
        "prometheusRule.enabled=true",
        "prometheusRule.certificateExpiry.criticalDays=14",
    ],
}


@pytest.mark.parametrize("sets", list(SCHEMA_REFUSES.values()), ids=list(SCHEMA_REFUSES))
def test_bad_operability_values_are_refused(helm: str, sets: list[str]) -> None:
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode != 0 and "Error" in result.stderr, result.stderr


OPERABILITY_VALUES = (
    "autoscaling",
    "podDisruptionBudget",
    "metricsSelector",
    "prometheusRule",
    "grafanaDashboard",
    "tests",
)


def test_values_schema_and_readme_agree_on_the_operability_values() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())["properties"]
    readme = (CHART_DIR / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if "properties" in node:
            assert isinstance(value, dict) and set(value) == set(node["properties"]), path
            for key, child in node["properties"].items():
                walk(value[key], child, f"{path}.{key}")
            return
        leaf = path.rsplit(".", 1)[-1]
        rows = [
            row
            for row in table
            if f"`{path}`" in row or (f"`{leaf}`" in row and f"`{path.rsplit('.', 1)[0]}." in row)
        ]
        assert rows, f"{path} has no row in the chart README's values table"

    for key in OPERABILITY_VALUES:
        walk(values[key], schema[key], key)


def test_the_latency_histogram_reaches_the_longest_webhook_timeout() -> None:
    """histogram_quantile never reports more than the highest finite bucket: below the timeout the
    chart allows, SidecarInjectorLatencyNearTimeout could not fire for long timeouts."""
    from webhook.metrics import LATENCY_BUCKETS

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    longest = schema["properties"]["webhook"]["properties"]["timeoutSeconds"]["maximum"]
    assert max(LATENCY_BUCKETS) >= longest
