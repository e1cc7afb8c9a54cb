"""``explain -o json`` agrees with every golden case: the verdict and reason the case's response
records, and exactly the items its expected mutated object gained (containers, init containers,
volumes, image pull secrets, env names and mount paths per app container).

Discovered from tests/golden/*, so a new case is covered without a line here. A case the command
line can express (a CREATE of an object; its namespace's labels, annotations and Pod Security
level as a Namespace object in the input; its policy as flags) runs through ``sidecar-injector
explain --templates DIR -f FILE -o json``; the others (UPDATE, DELETE, CONNECT, subresources,
which a file cannot say) run through the same report builder with the case's facts and are
rendered by the same ``as_data``. The expected items are read from object.yaml and mutated.yaml
here, apart from the injector's status annotation that explain reads them from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.templates import KUBERNETES_VERSION, template_set
from tests.unit.core.test_golden import CASES, GOLDEN, READERS
from webhook.cli import main
from webhook.core import AdmissionFacts, InjectionPolicy
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.core.pod_security import ENFORCE_LABEL
from webhook.core.workloads import locate_pod_template
from webhook.explain import Explanation, as_data, explain_object

POLICY_FLAGS = {
    ("pod_security_check", "deny"): ["--pod-security-check", "deny"],
    ("pod_security_check", "off"): ["--pod-security-check", "off"],
    ("deny_missing_templates", True): ["--missing-template", "deny"],
    ("legacy_annotations", False): ["--no-legacy-annotations"],
    ("injection_mode", "pod"): ["--injection-mode", "pod"],
}
LISTS = ("containers", "initContainers", "volumes", "imagePullSecrets")


def through_the_command_line(case: dict[str, Any], obj: Any) -> bool:
    request = case.get("request", {})
    return (
        isinstance(obj, dict)
        and request.get("operation", "CREATE") == "CREATE"
        and not request.get("subResource")
        and "kind" not in request
    )


def explain_with_the_cli(
    folder: Path,
    case: dict[str, Any],
    obj: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, Any]:
    request = case.get("request", {})
    namespace = request.get("namespace", "default")
    own = (obj.get("metadata") or {}).get("namespace")
    if own not in (None, namespace):  # the file's object says where it goes: fine while nothing depends on it
        assert not {"namespaceLabels", "namespaceAnnotations", "podSecurityLevel"} & set(request)
        namespace = own
    documents: list[Any] = [obj]
    labels = dict(request.get("namespaceLabels", {}))
    if "podSecurityLevel" in request:
        labels[ENFORCE_LABEL] = request["podSecurityLevel"]
    if labels or "namespaceAnnotations" in request:
        metadata = {
            "name": namespace,
            "labels": labels,
            "annotations": request.get("namespaceAnnotations", {}),
        }
        documents.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "templates.yaml").write_text((folder / "templates.yaml").read_text())
    (tmp_path / "input.yaml").write_text(yaml.safe_dump_all(documents))
    flags = [flag for item in case.get("policy", {}).items() for flag in POLICY_FLAGS[item]]
    code = main(
        [
            "explain",
            "--templates",
            str(tmp_path / "templates"),
            "-f",
            str(tmp_path / "input.yaml"),
            "-n",
            namespace,
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "-o",
            "json",
            *flags,
        ]
    )
    [report] = json.loads(capsys.readouterr().out)["items"]
    assert code == report["exitCode"]
    return dict(report)


def explain_with_the_facts(folder: Path, case: dict[str, Any], obj: Any) -> dict[str, Any]:
    return as_data(explain_report(folder, case, obj))


def explain_report(folder: Path, case: dict[str, Any], obj: Any) -> Explanation:
    """The report for the case's own facts (the templates' source reads ``templates.yaml#0``)."""
    request = case.get("request", {})
    namespace = None
    if "namespaceLabels" in request or "namespaceAnnotations" in request:
        namespace = NamespaceMetadata(
            request.get("namespaceLabels", {}), request.get("namespaceAnnotations", {})
        )
    facts = AdmissionFacts(
        uid="golden",
        operation=request.get("operation", "CREATE"),
        kind=request.get("kind") or obj["kind"],
        namespace=request.get("namespace", "default"),
        name=((obj or {}).get("metadata") or {}).get("name", ""),
        dry_run=request.get("dryRun", False),
        sub_resource=request.get("subResource", ""),
        pod_security_level=level_named(request.get("podSecurityLevel")),
        namespace_metadata=namespace,
    )
    policy = InjectionPolicy(**case.get("policy", {}), readers=READERS)
    templates = template_set((folder / "templates.yaml").read_text())
    return explain_object(obj, facts, templates, policy)


def level_named(name: str | None) -> PodSecurityLevel | None:
    return None if name is None else PodSecurityLevel(name)


def expected_verdict(response: dict[str, Any]) -> dict[str, str]:
    if not response["allowed"]:
        return {"outcome": "denied", "reason": response["status"]["reason"]}
    if response["injected"]:
        return {"outcome": "injected", "reason": "injected"}
    return {"outcome": "skipped", "reason": response["skipReason"] or "nothing-to-do"}


def gained(obj: dict[str, Any], mutated: dict[str, Any]) -> dict[str, Any]:
    """What ``mutated``'s pod spec has that ``obj``'s has not, by name (env) and path (mounts)."""
    root = locate_pod_template(obj["kind"]) or ()
    before, after = obj, mutated
    for token in (*root, "spec"):
        before, after = before.get(token) or {}, after.get(token) or {}
    items: dict[str, Any] = {}
    for field in LISTS:
        had = {item["name"] for item in before.get(field) or []}
        items[field] = sorted(item["name"] for item in after.get(field) or [] if item["name"] not in had)
    for field, key in (("env", "name"), ("volumeMounts", "mountPath")):
        items[field] = {}
        for old, new in zip(before.get("containers") or [], after.get("containers") or [], strict=False):
            had = {entry[key] for entry in old.get(field) or []}
            added = sorted(entry[key] for entry in new.get(field) or [] if entry[key] not in had)
            if added:
                items[field][new["name"]] = added
    return items


def reported(report: dict[str, Any]) -> dict[str, Any]:
    items: dict[str, Any] = {field: [] for field in LISTS}
    items["env"], items["volumeMounts"] = {}, {}
    if report["verdict"]["outcome"] != "injected":
        return gained({"kind": "Pod"}, {"kind": "Pod"})
    for added in report["added"].values():
        for field in LISTS:
            items[field] = sorted([*items[field], *added[field]])
        for field in ("env", "volumeMounts"):
            for container, names in added[field].items():
                items[field][container] = sorted([*items[field].get(container, []), *names])
    return items


@pytest.mark.parametrize("name", CASES)
def test_explain_agrees_with_the_golden_case(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = GOLDEN / name
    case = yaml.safe_load((folder / "case.yaml").read_text())
    obj = yaml.safe_load((folder / "object.yaml").read_text())
    response = yaml.safe_load((folder / "response.yaml").read_text())
    if through_the_command_line(case, obj):
        report = explain_with_the_cli(folder, case, obj, tmp_path, capsys)
    else:
        report = explain_with_the_facts(folder, case, obj)

    verdict = report["verdict"]
    assert {"outcome": verdict["outcome"], "reason": verdict["reason"]} == expected_verdict(response)
    if (folder / "mutated.yaml").exists() and response.get("injected"):
        expected = gained(obj, yaml.safe_load((folder / "mutated.yaml").read_text()))
    else:
        expected = gained({"kind": "Pod"}, {"kind": "Pod"})
    assert reported(report) == expected
