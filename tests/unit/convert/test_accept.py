"""Accepted annotations go through ``core.optin.decide``: the same sources, the same precedence, on
pods and pod templates only (the old injectors never read a Deployment's own metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.convert import ConversionError, import_configs
from webhook.convert.accept import Accepted, accepted_annotations
from webhook.core import InjectionPolicy
from webhook.core.optin import Source, decide

POLICY = InjectionPolicy(accepted_annotations=accepted_annotations(["tumblr", "expedia"]))
TUMBLR = {"injector.tumblr.com/request": "Logger:v1.2"}
EXPEDIA = {"sidecar-injector.expedia.com/inject": "tracing, log-agent.v2"}


def pod(annotations: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations, "labels": labels or {}}, "spec": {"containers": []}}


def deployment(own: dict[str, str], template: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"annotations": own}, "spec": {"template": pod(template)}}


def test_a_pods_tumblr_request_names_the_imported_template() -> None:
    decision = decide(pod(TUMBLR), "Pod", None, POLICY)
    assert decision.templates == ("logger-v1-2",)
    assert decision.decided_by is not None and decision.decided_by.source is Source.OBJECT_ANNOTATION
    assert "injector.tumblr.com/request: 'Logger:v1.2'" in decision.decided_by.written


def test_expedia_names_become_template_names_in_order_after_ours() -> None:
    annotations = {**EXPEDIA, "sidecar-injector.io/inject": "agent"}
    assert decide(pod(annotations), "Pod", None, POLICY).templates == ("agent", "tracing", "log-agent-v2")


def test_only_the_pod_template_counts_on_a_workload() -> None:
    assert decide(deployment(TUMBLR, {}), "Deployment", None, POLICY).templates == ()
    assert decide(deployment({}, TUMBLR), "Deployment", None, POLICY).templates == ("logger-v1-2",)


@pytest.mark.parametrize(
    ("annotations", "labels"),
    [
        ({**TUMBLR, "injector.tumblr.com/status": "injected"}, {}),
        (EXPEDIA, {"sidecar-injector.expedia.com/inject": "skip"}),
        (EXPEDIA, {"sidecar-injector.expedia.com/disable-inject": "true"}),
    ],
)
def test_what_the_old_injector_skipped_asks_for_nothing(
    annotations: dict[str, str], labels: dict[str, str]
) -> None:
    assert decide(pod(annotations, labels), "Pod", None, POLICY).signals == ()


def test_off_by_default_and_an_object_label_still_outranks_a_pod_template_request() -> None:
    assert decide(pod(TUMBLR), "Pod", None, InjectionPolicy()).signals == ()
    workload = deployment({}, TUMBLR)
    workload["metadata"]["labels"] = {"sidecar-injector.io/inject": "false"}
    assert decide(workload, "Deployment", None, POLICY).opted_out


SIDECARS = """
containers:
- {name: first, image: "first:1"}
- {name: second, image: "second:1"}
volumes:
- name: token
  secret: {secretName: "token-{% .Spec.ServiceAccountName %}"}
"""
# Three names that map to one label (the second one not imported: it reads the pod), a config no pod
# can ask for, one named after its trigger, and two sharing an annotation namespace.
MUTATIONS = """
mutationConfigs:
- {name: Agents, annotationNamespace: a.example.com, annotationTrigger: inject, containers: [first]}
- {name: agents!, annotationNamespace: b.example.com, annotationTrigger: inject, volumes: [token]}
- {name: AGENTS, annotationNamespace: c.example.com, annotationTrigger: inject, containers: [second]}
- {name: lost, annotationTrigger: inject, containers: [first]}
- {annotationNamespace: d.example.com, annotationTrigger: want, containers: [first]}
- {name: also-d, annotationNamespace: d.example.com, annotationTrigger: also, containers: [second]}
"""


@pytest.fixture
def salesforce(tmp_path: Path) -> Accepted:
    (tmp_path / "mutationconfig.yaml").write_text(MUTATIONS)
    [reader] = accepted_annotations(["salesforce"], {"salesforce": str(tmp_path / "mutationconfig.yaml")})
    return reader


def test_each_salesforce_trigger_names_the_template_import_made_of_its_mutation_config(
    salesforce: Accepted,
) -> None:
    result = import_configs("salesforce", {"sidecarconfig.yaml": SIDECARS, "mutationconfig.yaml": MUTATIONS})
    assert len(result.templates) == 4 and len({r.new_value for r in result.rewrites}) == 4
    for rewrite in result.rewrites:
        assert salesforce.read({rewrite.old_key: rewrite.old_value}, {}) == (
            f"{rewrite.old_key}: {rewrite.old_value!r}",
            (rewrite.new_value,),
        )
    # The config import could not make still claimed its name, so the next one's agrees with import's;
    # a pod asking for it names a template that does not exist (the missing-template policy decides).
    request = salesforce.read({"b.example.com/inject": "true"}, {})
    assert request is not None and request[1][0].startswith("agents-")
    assert request[1][0] not in {t.name for t in result.templates}


@pytest.mark.parametrize(
    "annotations",
    [
        {"a.example.com/inject": "false"},
        {"a.example.com/inject": "true", "a.example.com/status": "injected"},
        {"lost/inject": "true"},
        {"unrelated.example.com/inject": "true"},
    ],
)
def test_what_salesforce_skipped_asks_for_nothing(salesforce: Accepted, annotations: dict[str, str]) -> None:
    assert salesforce.read(annotations, {}) is None


def test_a_pod_asking_twice_in_one_annotation_namespace_gets_the_first_as_salesforce_gave_it(
    salesforce: Accepted,
) -> None:
    request = salesforce.read({"d.example.com/want": "enabled", "d.example.com/also": "true"}, {})
    assert request is not None and request[1] == ("d-example-com-want",)


def test_the_chart_configmap_is_read_for_its_mutation_config_alone(tmp_path: Path) -> None:
    """Its sidecarconfig.yaml key is not even parsed: which pods ask for what is the mutation config's."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sidecarinjector-webhook-configmap"},
        "data": {"sidecarconfig.yaml": "{not yaml: [", "mutationconfig.yaml": MUTATIONS},
    }
    (tmp_path / "configmap.yaml").write_text(yaml.safe_dump(configmap))
    [reader] = accepted_annotations(["salesforce"], {"salesforce": str(tmp_path / "configmap.yaml")})
    assert reader.read({"c.example.com/inject": "true"}, {}) is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("containers: []", "no mutation config in it"),
        ("mutationConfigs: {a: 1}", "mutationConfigs: expected a list"),
        ("mutationConfigs: [\n", "not valid YAML"),
        ("mutationConfigs: []\n---\nmutationConfigs: []", "reads one mutation config, and 2 were given"),
    ],
)
def test_a_mutation_config_that_cannot_be_read_is_an_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mutationconfig.yaml"
    path.write_text(text)
    with pytest.raises(ConversionError, match=message) as raised:
        accepted_annotations(["salesforce"], {"salesforce": str(path)})
    assert str(path) in str(raised.value)


def test_salesforce_needs_its_configuration_and_only_salesforce_takes_one() -> None:
    with pytest.raises(ValueError, match="salesforce needs its configuration: salesforce=PATH"):
        accepted_annotations(["salesforce"])
    with pytest.raises(ValueError, match="only salesforce takes a configuration"):
        accepted_annotations(["tumblr"], {"tumblr": "sidecars.yaml"})
