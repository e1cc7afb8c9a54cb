from __future__ import annotations

from pathlib import Path

import pytest

from webhook.templates import TemplateError
from webhook.templates.parsing import TemplateDocument, load_manifests, parse_template, template_documents

# The seed files verbatim (the Initializer tutorial's ConfigMap and Deployment), kept in the repository.
SEED = Path(__file__).parents[2] / "seed"
EXAMPLES = Path(__file__).parents[3] / "examples"


def document(text: str, name: str = "t") -> TemplateDocument:
    return TemplateDocument(name, None, "ConfigMap ns/t", "template", text)


def test_the_examples_are_the_seed_byte_for_byte() -> None:
    for name in ("logging-agent-initializer.yaml", "helloworld-with-annotation.yaml"):
        assert (EXAMPLES / name).read_bytes() == (SEED / name).read_bytes(), name


def test_the_legacy_initializer_configmap_serves_the_template_named_before_its_suffix() -> None:
    [configmap] = load_manifests((SEED / "logging-agent-initializer.yaml").read_text(), "seed")
    [doc] = template_documents(configmap, "seed", None)
    template = parse_template(doc)
    assert (template.name, doc.key) == ("logging-agent", "config")
    assert [c["name"] for c in template.containers] == ["logging-agent"]
    assert [v["name"] for v in template.volumes] == ["varlog", "config-volume"]
    assert template.containers[0]["env"] == [
        {"name": "FLUENTD_ARGS", "value": "-c /etc/fluentd-config/fluentd.conf"}
    ]


def test_configmaps_that_are_not_templates_are_ignored() -> None:
    plain = {"kind": "ConfigMap", "metadata": {"name": "app-config"}, "data": {"config": "x: 1"}}
    labelled_without_key = {
        "kind": "ConfigMap",
        "metadata": {"name": "x", "labels": {"sidecar-injector.io/template": "true"}},
        "data": {},
    }
    deployment = {"kind": "Deployment", "metadata": {"name": "a-initializer"}}
    for obj in (plain, labelled_without_key, deployment):
        assert list(template_documents(obj, "s", None)) == []


def test_a_list_and_several_documents_are_read() -> None:
    text = "kind: List\nitems:\n- {kind: ConfigMap, metadata: {name: a}}\n---\n---\nkind: ConfigMap\nmetadata: {name: b}\n"
    assert [m["metadata"]["name"] for m in load_manifests(text, "f")] == ["a", "b"]


def test_the_revision_is_a_content_hash_independent_of_key_order() -> None:
    a = parse_template(document("containers: [{name: x, image: i}]\nvolumes: [{name: v, emptyDir: {}}]"))
    b = parse_template(document("volumes: [{emptyDir: {}, name: v}]\ncontainers: [{image: i, name: x}]"))
    c = parse_template(document("containers: [{name: x, image: j}]"))
    assert a.revision == b.revision != c.revision


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("containers: [{name: x, image: i, bogus: 1}]", "containers[0]", "'bogus' was unexpected"),
        (
            "containers: [{name: x, image: i, resources: {limits: {cpu: [1]}}}]",
            "containers[0].resources.limits.cpu",
            "not valid",
        ),
        ("volumes: [{name: v, hostPath: {}}]", "volumes[0].hostPath", "'path' is a required property"),
        ("containers: [{name: Bad_Name, image: i}]", "containers[0].name", "DNS-1123"),
        ("containers: [{name: x}]", "containers[0].image", "needs an image"),
        (
            "containers: [{name: x, image: i}, {name: x, image: j}]",
            "containers[1].name",
            "duplicate container",
        ),
        ("env: [{name: A, value: '1'}, {name: A, value: '2'}]", "env[1].name", "duplicate name"),
        ("containers: {name: x}", "containers", "expected a list"),
        ("sidecars: []", "sidecars", "unknown field"),
        ("annotations: {a: 1}", "annotations", "map of strings"),
        ("nativeSidecars: 'yes'\ncontainers: [{name: x, image: i}]", "nativeSidecars", "true or false"),
        ("{}", "", "injects nothing"),
        ("- a list", "", "expected a mapping"),
        ("containers: [{name: x, image: i}", "", "not valid YAML"),
        # Found by tests/fuzz: these raised IndexError, ValueError and KeyError (the last at injection).
        ("env: [{name: A, value: !!float ''}]", "", "not valid YAML: IndexError"),
        ("env: [{name: A, value: !!int 0x}]", "", "not valid YAML: ValueError"),
        ("imagePullSecrets: [{}]", "imagePullSecrets[0].name", "needs a name"),
        ("env: [{name: A, value: !!timestamp 2001-01-01x}]", "", "not valid YAML: AttributeError"),
        ("containers: [{name: null, image: i}]", "containers[0].name", "required"),
        ("volumeMounts: [{name: v, mountPath: null}]", "volumeMounts[0].mountPath", "required"),
        (
            "volumes: [{name: v, csi: {driver: d, volumeAttributes: {1: x, a: y}}}]",
            "volumes[0].csi.volumeAttributes",
            "key 1 is not a string",
        ),
        (
            "containers: [{name: c, image: i, resources: {limits: {cpu: .inf}}}]",
            "containers[0].resources.limits.cpu",
            "inf is not",
        ),
        ("{1: x, containers: []}", "", "key 1 is not a string"),
        ("env: [{name: A, value: !!binary aGk=}]", "env[0].value", "bytes is not JSON"),
    ],
)
def test_a_broken_template_names_the_source_key_and_field(text: str, field: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(document(text))
    assert caught.value.field == field
    assert message in caught.value.message
    assert str(caught.value).startswith("ConfigMap ns/t, key 'template'")


def test_the_security_policy_rejects_templates_at_load_time() -> None:
    from webhook.core.security import TemplateSecurityPolicy

    text = "containers: [{name: x, image: i, securityContext: {privileged: true}}]"
    parse_template(document(text))  # the default policy allows it
    with pytest.raises(
        TemplateError, match=r"containers\[0\]\.securityContext\.privileged: privileged container"
    ):
        parse_template(document(text), security=TemplateSecurityPolicy(allow_privileged=False))


def test_templates_from_a_tenant_namespace_must_be_restricted() -> None:
    text = "volumes: [{name: logs, hostPath: {path: /var/log}}]"
    parse_template(document(text))
    tenant = TemplateDocument("t", "team-a", "ConfigMap team-a/t", "template", text)
    with pytest.raises(TemplateError, match="hostPath volume: forbidden"):
        parse_template(tenant)


def test_a_manifest_file_that_pyyaml_cannot_construct_is_a_template_error() -> None:
    for text in ("a: !!float ''", "[" * 1000):
        with pytest.raises(TemplateError, match="not valid YAML"):
            load_manifests(text, "file.yaml")


def test_injection_and_update_policy_are_read_and_checked() -> None:
    body = "containers: [{name: s, image: 's:1'}]\n"
    plain = parse_template(document(body))
    assert (plain.injection, plain.update_policy) == (None, None)  # the server's defaults apply
    chosen = parse_template(document("injection: pod\nupdatePolicy: rolling\n" + body))
    assert (chosen.injection, chosen.update_policy) == ("pod", "rolling")
    with pytest.raises(TemplateError) as refused:
        parse_template(document("injection: pods\nupdatePolicy: auto\n" + body))
    text = str(refused.value)
    assert "injection" in text and "expected one of workload, pod" in text
    assert "updatePolicy" in text and "expected one of manual, rolling" in text


def test_how_a_template_is_applied_is_not_part_of_its_revision() -> None:
    """Switching a template to pod injection or rolling updates must not make every workload outdated."""
    body = "containers: [{name: s, image: 's:1'}]\n"
    revisions = {
        parse_template(document(prefix + body)).revision
        for prefix in ("", "injection: pod\n", "updatePolicy: rolling\n", "injection: workload\n")
    }
    assert len(revisions) == 1
    assert parse_template(document("containers: [{name: s, image: 's:2'}]\n")).revision not in revisions


def test_a_legacy_template_keeps_workload_injection_unless_it_says_otherwise() -> None:
    [configmap] = load_manifests((SEED / "logging-agent-initializer.yaml").read_text(), "seed")
    [doc] = template_documents(configmap, "seed", None)
    assert parse_template(doc).injection == "workload"
