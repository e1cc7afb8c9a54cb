"""The Helm chart: lint, render every scenario, validate against Kubernetes schemas, check safety.

Scenarios are the chart defaults plus every file in charts/sidecar-injector/ci/. Manifests are
validated with kubernetes-validate (strict: unknown fields fail) for the oldest supported
Kubernetes (1.30: matchConditions GA, native preStop sleep) and the newest schema shipped (1.37).

CA reuse across upgrades (certificates.mode=helm) relies on `lookup`, which `helm template`
answers with nothing. The test runs the real lookup instead: `helm template --dry-run=server`
against a small fake API server (chart_helpers.FakeKubeApi) that holds a TLS Secret. No
test-only values exist in the chart.
"""

from __future__ import annotations

import base64
import copy
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.chart_helpers import (
    CHART,
    CI_VALUES,
    NAMESPACE,
    RELEASE,
    FakeKubeApi,
    by_kind,
    helm_run,
    one,
    parse_manifests,
    render,
    require_helm,
    template_args,
)
from webhook.core.workloads import SUPPORTED_KINDS
from webhook.templates.parsing import parse_template, template_documents

pytestmark = pytest.mark.integration

KUBERNETES_VERSIONS = ("1.30", "1.37")
# Custom resources whose schemas kubernetes-validate does not ship (cert-manager, prometheus-operator).
NOT_IN_CORE_SCHEMAS = {
    ("cert-manager.io/v1", "Issuer"),
    ("cert-manager.io/v1", "Certificate"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),  # checked in test_chart_operability.py
}
SCENARIOS: dict[str, tuple[Path, ...]] = {"defaults": ()} | {p.stem: (p,) for p in CI_VALUES}
ALWAYS_EXCLUDED = {"kube-system", "kube-node-lease", "kube-public"}
CONFIGMAP_READ_ONLY = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
NAMESPACE_READS = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}]
"""drift and rollout read the namespaces' opt-in: get for -n, list for -A."""
NAMESPACE_LABELS_READ = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}]
LIFECYCLE_SUFFIXES = ("-pods", "-rollout", "-drift", "-rollout-operator", "-leader-election")
POD_LIST_WATCH = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]
WORKLOAD_READS = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
        "verbs": ["get", "list"],
    },
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
]
WORKLOAD_PATCHES = [
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"], "verbs": ["patch"]},
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["patch"]},
]
# What each webhook rule resource is, in the webhook's own kind names.
RESOURCE_KINDS = {
    ("", "v1", "pods"): "Pod",
    ("", "v1", "replicationcontrollers"): "ReplicationController",
    ("apps", "v1", "deployments"): "Deployment",
    ("apps", "v1", "replicasets"): "ReplicaSet",
    ("apps", "v1", "statefulsets"): "StatefulSet",
    ("apps", "v1", "daemonsets"): "DaemonSet",
    ("batch", "v1", "jobs"): "Job",
    ("batch", "v1", "cronjobs"): "CronJob",
}
LEGACY_CONFIG = {
    "containers": [
        {
            "name": "logging-agent",
            "image": "gcr.io/google_containers/fluentd:1.30",
            "env": [{"name": "FLUENTD_ARGS", "value": "-c /etc/fluentd-config/fluentd.conf"}],
            "volumeMounts": [
                {"name": "varlog", "mountPath": "/var/log"},
                {"name": "config-volume", "mountPath": "/etc/fluentd-config"},
            ],
        }
    ],
    "volumes": [
        {"name": "varlog", "emptyDir": {}},
        {"name": "config-volume", "configMap": {"name": "fluentd-config"}},
    ],
}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm() -> str:
    return require_helm()


_render_cache: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}


def rendered(helm: str, scenario: str, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    key = (scenario, sets)
    if key not in _render_cache:
        _render_cache[key] = render(helm, SCENARIOS[scenario], sets)
    return copy.deepcopy(_render_cache[key])


def merged_values(scenario: str) -> dict[str, Any]:
    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in SCENARIOS[scenario]:
        merge(values, yaml.safe_load(path.read_text()))
    return values


def webhooks_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = one(docs, "MutatingWebhookConfiguration")["webhooks"]
    return entries


ROUTING_FIELDS = {"name", "namespaceSelector", "objectSelector", "matchConditions"}


def webhook_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What every webhook entry shares: they differ only in what they route (test_chart_routing.py)."""
    shared = [{k: v for k, v in e.items() if k not in ROUTING_FIELDS} for e in webhooks_of(docs)]
    assert shared and all(entry == shared[0] for entry in shared)
    return shared[0]


def main_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar-injector"]
    return containers[0]


def is_test_hook(doc: dict[str, Any]) -> bool:
    """Objects `helm test` creates (and deletes), not part of the installed release."""
    return (doc["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"


def flag_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == flag]


scenario_ids = pytest.mark.parametrize("scenario", list(SCENARIOS))


# --- helm itself ---------------------------------------------------------------------------------


def test_the_helm_found_is_helm_4(helm: str) -> None:
    result = helm_run(helm, "version", "--template", "{{.Version}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v4."), result.stdout


def test_every_ci_scenario_file_exists() -> None:
    names = {p.name for p in CI_VALUES}
    for stem in (
        "certs-helm",
        "certs-cert-manager",
        "certs-existing-secret",
        "ha",
        "watch-all-namespaces",
        "legacy-example",
        "operability",
    ):
        assert f"{stem}-values.yaml" in names


@scenario_ids
def test_the_chart_lints_strictly(helm: str, scenario: str) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    for path in SCENARIOS[scenario]:
        args += ["--values", str(path)]
    result = helm_run(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr


# --- schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@scenario_ids
def test_every_rendered_manifest_is_valid_kubernetes(helm: str, scenario: str, version: str) -> None:
    docs = rendered(helm, scenario)
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in NOT_IN_CORE_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} is invalid for {version}: {exc.message}")
        checked += 1
    assert checked >= 7


def test_the_schema_validator_rejects_unknown_fields() -> None:
    """Guards the test above against passing vacuously."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "x", "image": "x", "bogus": True}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[0], strict=True)


def test_only_the_listed_custom_resources_are_left_unvalidated(helm: str) -> None:
    kinds = {(d["apiVersion"], d["kind"]) for s in SCENARIOS for d in rendered(helm, s)}
    assert kinds >= NOT_IN_CORE_SCHEMAS, "a skipped kind is never rendered: drop it from the list"
    for api_version, kind in NOT_IN_CORE_SCHEMAS:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(
                {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}, "1.37", strict=True
            )


def test_rendered_yaml_has_no_duplicate_keys(helm: str) -> None:
    for scenario in SCENARIOS:
        result = helm_run(helm, *template_args(SCENARIOS[scenario]))
        parse_manifests(result.stdout)  # UniqueKeyLoader raises on a duplicate key


# --- pod security ----------------------------------------------------------------------------------


def assert_restricted(pod_spec: dict[str, Any]) -> None:
    pod_sc = pod_spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 65532
    assert pod_sc["runAsGroup"] == 65532
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod_spec and "hostPID" not in pod_spec and "hostIPC" not in pod_spec
    for container in pod_spec["containers"] + pod_spec.get("initContainers", []):
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == 65532 and sc["runAsGroup"] == 65532
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc.get("privileged", False) is False
        assert "limits" in container["resources"] and "requests" in container["resources"]
    for volume in pod_spec.get("volumes", []):
        assert "hostPath" not in volume


@scenario_ids
def test_webhook_and_test_pods_meet_restricted_pod_security(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    assert_restricted(one(docs, "Deployment")["spec"]["template"]["spec"])
    test_pod = one(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["automountServiceAccountToken"] is False
    assert_restricted(test_pod["spec"])


def test_the_test_pod_is_not_selected_by_the_service_or_the_budget(helm: str) -> None:
    docs = rendered(helm, "defaults")
    test_labels = one(docs, "Pod")["metadata"]["labels"]
    for selector in (
        one(docs, "Service")["spec"]["selector"],
        one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= test_labels.items()


@scenario_ids
def test_the_api_token_is_mounted_for_the_kube_template_source(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert "--kube" in main_container(docs)["args"]
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False


def test_file_templates_get_no_api_token_and_no_rbac(helm: str) -> None:
    docs = render(helm, sets=["templates.source=files"])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    args = main_container(docs)["args"]
    assert "--kube" not in args and "--watch-namespace" not in args
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]


# --- RBAC ----------------------------------------------------------------------------------------


def namespace_watch_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in by_kind(docs, "ClusterRole") if r["rules"] == NAMESPACE_LABELS_READ]


def is_lifecycle_rbac(doc: dict[str, Any]) -> bool:
    """The day-2 roles and bindings (rbac-lifecycle.yaml), tested on their own below."""
    return doc["metadata"]["name"].endswith(LIFECYCLE_SUFFIXES)


def events_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Events ClusterRole (tests/integration/test_chart_events.py checks its rules)."""
    return [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-events")]


def without_namespace_watch(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """ClusterRoles or ClusterRoleBindings other than the Pod Security check's namespace watch and
    the day-2 roles and the Events role."""
    names = {r["metadata"]["name"] for r in namespace_watch_roles(docs) + events_roles(docs)}
    return [d for d in by_kind(docs, kind) if d["metadata"]["name"] not in names and not is_lifecycle_rbac(d)]


@scenario_ids
def test_rbac_reads_configmaps_and_namespace_labels_and_nothing_else(helm: str, scenario: str) -> None:
    docs = [d for d in rendered(helm, scenario) if not is_lifecycle_rbac(d)]
    roles = by_kind(docs, "Role") + without_namespace_watch(docs, "ClusterRole")
    assert roles
    for role in roles:
        assert role["rules"] == CONFIGMAP_READ_ONLY
    rbac_text = yaml.safe_dump([d for d in docs if d["apiVersion"].startswith("rbac.")])
    assert "secrets" not in rbac_text and "*" not in rbac_text and "configmaps" not in str(events_roles(docs))


@scenario_ids
def test_cluster_wide_rbac_exists_only_when_watching_all_namespaces(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    values = merged_values(scenario)
    cluster_roles = without_namespace_watch(docs, "ClusterRole")
    bindings = without_namespace_watch(docs, "ClusterRoleBinding")
    args = main_container(docs)["args"]
    if values["watchAllNamespaces"]:
        assert len(cluster_roles) == 1 and len(bindings) == 1
        assert bindings[0]["roleRef"]["name"] == cluster_roles[0]["metadata"]["name"]
        assert "--watch-all-namespaces" in args and "--watch-namespace" not in args
        assert not by_kind(docs, "Role")
    else:
        assert not cluster_roles and not bindings
        assert "--watch-all-namespaces" not in args
        watched = {NAMESPACE, *values["watchNamespaces"], *values["sharedTemplateNamespaces"]}
        assert set(flag_values(args, "--watch-namespace")) == watched
        roles = [r for r in by_kind(docs, "Role") if not is_lifecycle_rbac(r)]
        assert {r["metadata"]["namespace"] for r in roles} == watched
        role_bindings = [b for b in by_kind(docs, "RoleBinding") if not is_lifecycle_rbac(b)]
        assert {b["metadata"]["namespace"] for b in role_bindings} == watched
    for binding in by_kind(docs, "RoleBinding") + bindings:
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": one(docs, "ServiceAccount")["metadata"]["name"],
                "namespace": NAMESPACE,
            }
        ]
    shared = set(flag_values(args, "--shared-template-namespace"))
    assert shared == {NAMESPACE, *values["sharedTemplateNamespaces"]}


def lifecycle_rbac(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (d["kind"], d["metadata"]["name"].rsplit("-", 1)[-1]): d
        for d in docs
        if d["kind"].startswith(("Role", "ClusterRole")) and is_lifecycle_rbac(d)
    }


@scenario_ids
def test_day_two_rbac_exists_only_for_the_features_turned_on(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    values = merged_values(scenario)
    found = lifecycle_rbac(docs)
    args = main_container(docs)["args"]
    assert flag_values(args, "--injection-mode") == [values["injection"]["mode"]]
    assert flag_values(args, "--update-policy") == [values["injection"]["updatePolicy"]]
    assert ("--watch-pods" in args) == values["podMetrics"]["enabled"]
    assert ("--rollout-updater" in args) == values["rollingUpdater"]["enabled"]
    reads = WORKLOAD_READS + (NAMESPACE_READS if values["server"]["namespaceOptIn"] else [])
    expected = set()
    if values["podMetrics"]["enabled"]:
        expected |= {("ClusterRole", "pods"), ("ClusterRoleBinding", "pods")}
        assert found[("ClusterRole", "pods")]["rules"] == POD_LIST_WATCH
    if values["rollingUpdater"]["enabled"]:
        expected |= {
            ("ClusterRole", "rollout"),
            ("ClusterRoleBinding", "rollout"),
            ("Role", "election"),
            ("RoleBinding", "election"),
        }
        assert found[("ClusterRole", "rollout")]["rules"] == reads + WORKLOAD_PATCHES
        lease_rules = found[("Role", "election")]["rules"]
        assert found[("Role", "election")]["metadata"]["namespace"] == NAMESPACE
        assert {tuple(r["verbs"]) for r in lease_rules} == {("create",), ("get", "update")}
        assert [r.get("resourceNames") for r in lease_rules] == [
            None,
            [values["rollingUpdater"]["leaseName"]],
        ]
        assert flag_values(args, "--rollout-max-in-flight") == [str(values["rollingUpdater"]["maxInFlight"])]
    if values["cliRoles"]["create"]:
        expected |= {("ClusterRole", "drift"), ("ClusterRole", "operator")}
        assert found[("ClusterRole", "drift")]["rules"] == reads
        assert found[("ClusterRole", "operator")]["rules"] == reads + WORKLOAD_PATCHES
    assert set(found) == expected
    for binding in (d for key, d in found.items() if key[0].endswith("Binding")):
        assert binding["subjects"][0]["name"] == one(docs, "ServiceAccount")["metadata"]["name"]
    rbac_text = yaml.safe_dump(list(found.values()))
    assert "secrets" not in rbac_text and "*" not in rbac_text and "delete" not in rbac_text


@pytest.mark.parametrize(
    ("sets", "watched"),
    [
        ((), True),
        (("server.podSecurityCheck=deny",), True),
        (("server.podSecurityCheck=off",), True),  # namespace opt-in still reads them
        (("server.namespaceOptIn=false",), True),  # the Pod Security check still reads them
        (("server.podSecurityCheck=off", "server.namespaceOptIn=false"), False),
        (("templates.source=files",), False),
    ],
)
def test_namespaces_are_readable_only_when_the_pod_security_check_or_namespace_opt_in_reads_them(
    helm: str, sets: tuple[str, ...], watched: bool
) -> None:
    docs = rendered(helm, "defaults", sets)
    roles = namespace_watch_roles(docs)
    bindings = [
        b for b in by_kind(docs, "ClusterRoleBinding") if b["roleRef"]["name"].endswith("-namespaces")
    ]
    assert len(roles) == len(bindings) == (1 if watched else 0)
    if watched:
        assert bindings[0]["roleRef"]["name"] == roles[0]["metadata"]["name"]
        assert bindings[0]["subjects"][0]["name"] == one(docs, "ServiceAccount")["metadata"]["name"]
    args = main_container(docs)["args"]
    expected = next((s.split("=")[1] for s in sets if s.startswith("server.podSecurityCheck")), "warn")
    assert flag_values(args, "--pod-security-check") == [expected]
    assert flag_values(args, "--pod-security-default-level") == ["privileged"]
    assert ("--no-namespace-opt-in" in args) is ("server.namespaceOptIn=false" in sets)


def test_the_legacy_example_watches_its_extra_namespaces(helm: str) -> None:
    docs = rendered(helm, "legacy-example-values")
    assert {r["metadata"]["namespace"] for r in by_kind(docs, "Role")} == {NAMESPACE, "team-a", "team-b"}


# --- the webhook configuration -------------------------------------------------------------------


@scenario_ids
def test_the_webhook_is_side_effect_free_reinvoked_and_v1(helm: str, scenario: str) -> None:
    webhook = webhook_of(rendered(helm, scenario))
    values = merged_values(scenario)["webhook"]
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["sideEffects"] == "None"
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["reinvocationPolicy"] == "IfNeeded"
    assert webhook["failurePolicy"] == values["failurePolicy"]
    assert webhook["timeoutSeconds"] == values["timeoutSeconds"]
    service = webhook["clientConfig"]["service"]
    assert service == {
        "name": f"{RELEASE}-sidecar-injector",
        "namespace": NAMESPACE,
        "path": "/mutate",
        "port": 443,
    }
    routed = [("matchConditions" in entry) for entry in webhooks_of(rendered(helm, scenario))]
    assert set(routed) == {values["matchConditions"]["enabled"]}


def test_defaults_are_fail_closed_with_a_five_second_timeout(helm: str) -> None:
    docs = rendered(helm, "defaults")
    webhook = webhook_of(docs)
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["timeoutSeconds"] == 5
    entries = webhooks_of(docs)
    assert [e["name"].split(".")[0] for e in entries] == [
        "namespace",
        "label",
        "annotation",
        "namespace-opted-out",
    ]
    assert all([c["name"] for c in e["matchConditions"]] == ["opted-in"] for e in entries)


@pytest.mark.parametrize("namespace", [NAMESPACE, "platform"])
@scenario_ids
def test_system_and_release_namespaces_are_never_sent(helm: str, scenario: str, namespace: str) -> None:
    docs = render(helm, SCENARIOS[scenario], namespace=namespace)
    for entry in webhooks_of(docs):
        expressions = entry["namespaceSelector"]["matchExpressions"]
        exclusion = [e for e in expressions if e["key"] == "kubernetes.io/metadata.name"]
        assert len(exclusion) == 1 and exclusion[0]["operator"] == "NotIn"
        assert ALWAYS_EXCLUDED | {namespace} <= set(exclusion[0]["values"])


def test_the_namespace_label_filter_and_object_selector_of_the_values_apply_to_every_entry(helm: str) -> None:
    skip = {"key": "sidecar-injector.io/skip", "operator": "DoesNotExist"}
    for entry in webhooks_of(rendered(helm, "watch-all-namespaces-values")):
        expressions = entry["namespaceSelector"]["matchExpressions"]
        assert {"key": "sidecar-injector.io/enabled", "operator": "In", "values": ["true"]} in expressions
        assert "monitoring" in expressions[0]["values"]
        assert entry["objectSelector"]["matchExpressions"][0] == skip
    for entry in webhooks_of(rendered(helm, "defaults")):
        keys = [e["key"] for e in entry["namespaceSelector"]["matchExpressions"]]
        assert "sidecar-injector.io/enabled" not in keys and skip not in entry.get("objectSelector", {}).get(
            "matchExpressions", []
        )


def test_webhook_rules_send_exactly_the_kinds_the_server_handles(helm: str) -> None:
    webhook = webhook_of(rendered(helm, "defaults"))
    sent: list[str] = []
    for rule in webhook["rules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert rule["scope"] == "Namespaced"
        for group in rule["apiGroups"]:
            for version in rule["apiVersions"]:
                for resource in rule["resources"]:
                    assert (group, version, resource) in RESOURCE_KINDS, (
                        f"unhandled {group}/{version} {resource}"
                    )
                    sent.append(RESOURCE_KINDS[(group, version, resource)])
    assert len(sent) == len(set(sent))
    assert set(sent) == SUPPORTED_KINDS


# --- certificates --------------------------------------------------------------------------------


@scenario_ids
def test_the_ca_bundle_matches_the_certificate_mode(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    certificates = merged_values(scenario)["certificates"]
    config = one(docs, "MutatingWebhookConfiguration")
    webhook = webhook_of(docs)
    secret_name = one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
    mode = certificates["mode"]
    if mode == "helm":
        secret = one(docs, "Secret")
        assert secret["type"] == "kubernetes.io/tls" and secret["metadata"]["name"] == secret_name
        assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
        assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert not by_kind(docs, "Certificate")
    elif mode == "certManager":
        assert "caBundle" not in webhook["clientConfig"]
        assert not by_kind(docs, "Secret")
        serving = [c for c in by_kind(docs, "Certificate") if not c["spec"].get("isCA")]
        assert len(serving) == 1 and serving[0]["spec"]["secretName"] == secret_name
        name = serving[0]["metadata"]["name"]
        assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/{name}"
        assert {i["metadata"]["name"] for i in by_kind(docs, "Issuer")} == {
            f"{RELEASE}-sidecar-injector-selfsigned",
            f"{RELEASE}-sidecar-injector-ca",
        }
    else:
        assert not by_kind(docs, "Secret")
        assert secret_name == certificates["existingSecret"]["name"]
        assert webhook["clientConfig"]["caBundle"] == certificates["existingSecret"]["caBundle"]
    if mode != "certManager":
        assert "annotations" not in config["metadata"]


def test_cert_manager_can_use_a_provided_issuer(helm: str) -> None:
    docs = render(
        helm,
        SCENARIOS["certs-cert-manager-values"],
        [
            "certificates.certManager.issuerRef.name=corp-ca",
            "certificates.certManager.issuerRef.kind=ClusterIssuer",
        ],
    )
    assert not by_kind(docs, "Issuer")
    [certificate] = by_kind(docs, "Certificate")
    assert certificate["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer"}


def _pem(data: str) -> bytes:
    return base64.b64decode(data)


def test_the_generated_certificate_is_signed_by_the_ca_for_the_service_names(helm: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding

    secret = one(rendered(helm, "defaults"), "Secret")
    ca = x509.load_pem_x509_certificate(_pem(secret["data"]["ca.crt"]))
    cert = x509.load_pem_x509_certificate(_pem(secret["data"]["tls.crt"]))
    assert cert.issuer == ca.subject
    ca.public_key().verify(  # type: ignore[union-attr, call-arg]
        cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
    )
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    service = f"{RELEASE}-sidecar-injector"
    assert f"{service}.{NAMESPACE}.svc" in names and f"{service}.{NAMESPACE}.svc.cluster.local" in names


def _dry_run_server(helm: str, api: FakeKubeApi, tmp_path: Path) -> list[dict[str, Any]]:
    kubeconfig = api.kubeconfig(tmp_path)
    result = helm_run(
        helm,
        *template_args(SCENARIOS["certs-helm-values"]),
        "--dry-run=server",
        "--disable-openapi-validation",
        env={"KUBECONFIG": str(kubeconfig)},
    )
    assert result.returncode == 0, result.stderr
    return parse_manifests(result.stdout)


def test_upgrades_keep_the_ca_of_the_existing_tls_secret(helm: str, tmp_path: Path) -> None:
    """`helm template --dry-run=server` runs the chart's real `lookup` against a fake API server.

    No Secret yet: each render issues a new CA (as a first install does). Once the Secret from
    the first render exists, every later render (an upgrade) keeps its CA, certificate and key,
    and the webhook's caBundle stays the CA the running pods serve with.
    """
    secret_path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-sidecar-injector-tls"
    api = FakeKubeApi()
    with api.running():
        first = _dry_run_server(helm, api, tmp_path)
        assert secret_path in [p.split("?")[0] for p in api.requests], "the chart did not look the Secret up"
        fresh = _dry_run_server(helm, api, tmp_path)
        assert one(fresh, "Secret")["data"]["ca.crt"] != one(first, "Secret")["data"]["ca.crt"]

        installed = one(first, "Secret")
        installed["metadata"].setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}
        )
        api.put_secret(NAMESPACE, installed)
        upgrades = [_dry_run_server(helm, api, tmp_path) for _ in range(2)]

    for docs in upgrades:
        assert one(docs, "Secret")["data"] == installed["data"]
        assert webhook_of(docs)["clientConfig"]["caBundle"] == installed["data"]["ca.crt"]


def test_an_incomplete_tls_secret_is_replaced_not_reused(helm: str, tmp_path: Path) -> None:
    api = FakeKubeApi()
    with api.running():
        broken = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": f"{RELEASE}-sidecar-injector-tls",
                "namespace": NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": RELEASE,
                    "meta.helm.sh/release-namespace": NAMESPACE,
                },
            },
            "data": {"ca.crt": base64.b64encode(b"not a ca").decode()},
        }
        api.put_secret(NAMESPACE, broken)
        docs = _dry_run_server(helm, api, tmp_path)
    data = one(docs, "Secret")["data"]
    assert data["ca.crt"] != broken["data"]["ca.crt"] and {"tls.crt", "tls.key"} <= set(data)


# --- availability and shutdown -------------------------------------------------------------------


@scenario_ids
def test_replicas_spread_and_disruption_budget(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    deployment = one(docs, "Deployment")
    values = merged_values(scenario)
    if values["autoscaling"]["enabled"]:
        assert "replicas" not in deployment["spec"]  # the HorizontalPodAutoscaler owns the count
    else:
        expected_replicas = 3 if scenario == "ha-values" else 2
        assert deployment["spec"]["replicas"] == values["replicaCount"] == expected_replicas
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    budget = values["podDisruptionBudget"]
    if budget["maxUnavailable"] is None:
        assert pdb["minAvailable"] == budget["minAvailable"] == 1 and "maxUnavailable" not in pdb
    else:
        assert pdb["maxUnavailable"] == budget["maxUnavailable"] and "minAvailable" not in pdb
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@scenario_ids
def test_probes_and_graceful_shutdown(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = main_container(docs)
    # The kubelet probes the plain-HTTP probe port: with --client-ca the HTTPS port needs a certificate.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes", "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes", "scheme": "HTTP"}
    assert {"name": "https", "containerPort": 8443, "protocol": "TCP"} in container["ports"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert {"name": "probes", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    assert flag_values(container["args"], "--probe-port") == ["8081"]
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(flag_values(container["args"], "--drain-seconds")[0])
    assert sleep > 0 and drain == 5
    assert pod["terminationGracePeriodSeconds"] > sleep + drain


def test_a_grace_period_shorter_than_the_drain_is_refused(helm: str) -> None:
    result = helm_run(
        helm, *template_args(sets=["terminationGracePeriodSeconds=10", "server.drainSeconds=5"])
    )
    assert result.returncode != 0 and "terminationGracePeriodSeconds" in result.stderr


def test_the_service_maps_443_to_the_https_port_and_exposes_metrics(helm: str) -> None:
    ports = one(rendered(helm, "defaults"), "Service")["spec"]["ports"]
    assert {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"} in ports
    assert {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"} in ports


# --- server arguments and volumes ----------------------------------------------------------------


@scenario_ids
def test_server_arguments_tls_mount_and_tmp(helm: str, scenario: str) -> None:
    docs = rendered(helm, scenario)
    container = main_container(docs)
    args = container["args"]
    values = merged_values(scenario)
    assert args[0] == "serve"
    assert flag_values(args, "--cert") == ["/etc/sidecar-injector/tls/tls.crt"]
    assert flag_values(args, "--key") == ["/etc/sidecar-injector/tls/tls.key"]
    assert flag_values(args, "--port") == ["8443"] and flag_values(args, "--metrics-port") == ["9090"]
    assert flag_values(args, "--missing-template") == [values["server"]["missingTemplate"]]
    assert flag_values(args, "--log-format") == ["json"]
    assert flag_values(args, "--max-body-bytes") == [str(values["server"]["maxBodyBytes"])]
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in (
        container["env"]
    )
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/etc/sidecar-injector/tls": "tls", "/tmp": "tmp"}
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["tmp"]
    assert "items" not in volumes["tls"]["secret"]  # whole Secret: renewals show up in place
    assert not any("subPath" in m for m in container["volumeMounts"])


# --- templates -----------------------------------------------------------------------------------


def test_template_configmaps_are_templates_the_server_accepts(helm: str) -> None:
    docs = rendered(helm, "legacy-example-values")
    configmaps = [c for c in by_kind(docs, "ConfigMap") if not is_test_hook(c)]
    native = [c for c in configmaps if c["metadata"]["labels"].get("sidecar-injector.io/template") == "true"]
    assert [c["metadata"]["name"] for c in native] == ["istio-like-proxy"]
    assert set(native[0]["data"]) == {"template"}
    parsed = {}
    for configmap in configmaps:
        # The legacy example is the verbatim Initializer original (no securityContext), so it is
        # parsed as an administrator's cluster-wide template; the native example is written to pass
        # as a namespaced one, which the server holds to the restricted Pod Security level.
        legacy = configmap["metadata"]["name"].endswith("-initializer")
        for document in template_documents(configmap, "chart", None if legacy else NAMESPACE):
            parsed[document.name] = parse_template(document)
    assert set(parsed) == {"istio-like-proxy", "logging-agent"}
    assert parsed["istio-like-proxy"].native_sidecars is True


def test_the_legacy_configmap_is_the_original_initializer_example(helm: str) -> None:
    [legacy] = [
        c
        for c in by_kind(rendered(helm, "legacy-example-values"), "ConfigMap")
        if c["metadata"]["name"] == "logging-agent-initializer"
    ]
    assert "sidecar-injector.io/template" not in legacy["metadata"]["labels"]
    assert yaml.safe_load(legacy["data"]["config"]) == LEGACY_CONFIG
    seed = Path(__file__).parents[1] / "seed" / "logging-agent-initializer.yaml"
    assert yaml.safe_load(yaml.safe_load(seed.read_text())["data"]["config"]) == LEGACY_CONFIG
    assert not [c for c in by_kind(rendered(helm, "defaults"), "ConfigMap") if not is_test_hook(c)]


def test_optional_objects_appear_only_when_enabled(helm: str) -> None:
    defaults = {d["kind"] for d in rendered(helm, "defaults")}
    assert not defaults & {"ServiceMonitor", "NetworkPolicy", "PrometheusRule", "HorizontalPodAutoscaler"}
    docs = rendered(helm, "watch-all-namespaces-values")
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    ports = sorted(p["port"] for rule in policy["ingress"] for p in rule["ports"])
    assert ports == [8443, 9090]
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "metrics"
    assert (
        one(rendered(helm, "ha-values"), "Deployment")["spec"]["template"]["spec"]["priorityClassName"]
        == "system-cluster-critical"
    )


# --- values the schema or the templates must refuse ----------------------------------------------

CA_B64 = yaml.safe_load((CHART / "ci" / "certs-existing-secret-values.yaml").read_text())["certificates"][
    "existingSecret"
]["caBundle"]

BAD_VALUES = {
    "timeout zero": ["webhook.timeoutSeconds=0"],
    "timeout above 30": ["webhook.timeoutSeconds=31"],
    "timeout not a number": ["webhook.timeoutSeconds=soon"],
    "no replicas": ["replicaCount=0"],
    "replicas as text": ["replicaCount=two"],
    "failure policy Maybe": ["webhook.failurePolicy=Maybe"],
    "unknown top-level key": ["replicas=3"],
    "unknown nested key": ["webhook.failurePolicyy=Fail"],
    "unknown key deep down": ["certificates.helm.validity=10"],
    "bad certificates mode": ["certificates.mode=vault"],
    "existingSecret without caBundle": [
        "certificates.mode=existingSecret",
        "certificates.existingSecret.name=tls",
    ],
    "existingSecret without name": [
        "certificates.mode=existingSecret",
        f"certificates.existingSecret.caBundle={CA_B64}",
    ],
    "caBundle not a PEM": [
        "certificates.mode=existingSecret",
        "certificates.existingSecret.name=tls",
        "certificates.existingSecret.caBundle=aGVsbG8=",
    ],
    "bad template source": ["templates.source=git"],
    "bad missing-template answer": ["server.missingTemplate=maybe"],
    "watchAllNamespaces as text": ["watchAllNamespaces=yes please"],
    "bad namespace name": ["watchNamespaces[0]=Not_A_Namespace"],
    "unknown template field": ["templates.items.agent.sidecars[0].name=x"],
    "bad template name": ["templates.items.Agent.containers[0].name=x"],
    "bad PDB eviction policy": ["podDisruptionBudget.unhealthyPodEvictionPolicy=Never"],
    "negative preStop sleep": ["lifecycle.preStopSleepSeconds=-1"],
    "files source with watched namespaces": ["templates.source=files", "watchNamespaces[0]=team-a"],
    "files source with template items": [
        "templates.source=files",
        "templates.items.agent.containers[0].name=x",
    ],
    "files source with pod metrics": ["templates.source=files", "podMetrics.enabled=true"],
    "files source with the rolling updater": ["templates.source=files", "rollingUpdater.enabled=true"],
    "bad injection mode": ["injection.mode=pods"],
    "bad update policy": ["injection.updatePolicy=auto"],
    "no workload in flight": ["rollingUpdater.maxInFlight=0"],
}


@pytest.mark.parametrize("sets", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_bad_values_are_refused(helm: str, sets: list[str]) -> None:
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode != 0, f"rendered although {sets} is invalid"
    assert "Error" in result.stderr


def test_the_schema_forbids_unknown_keys_at_every_level_it_defines() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    open_maps = 0

    def walk(node: dict[str, Any], where: str) -> None:
        nonlocal open_maps
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} allows unknown keys"
            for key, child in node["properties"].items():
                walk(child, f"{where}.{key}")
        elif isinstance(node.get("additionalProperties"), dict):
            open_maps += 1
            walk(node["additionalProperties"], f"{where}.*")

    walk(schema, "values")
    assert open_maps > 0
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(defaults) == set(schema["properties"])


def test_the_chart_renders_with_the_kube_version_floor_and_not_below(helm: str) -> None:
    ok = helm_run(helm, *template_args(), "--kube-version", "1.30.0")
    assert ok.returncode == 0, ok.stderr
    old = helm_run(helm, *template_args(), "--kube-version", "1.29.9")
    assert old.returncode != 0 and "kubeVersion" in old.stderr


def test_helm_template_without_a_cluster_does_not_touch_one(helm: str) -> None:
    # KUBECONFIG is /dev/null in helm_run: client-side rendering must not need any cluster.
    result = subprocess.run(
        [helm, *template_args()],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
