"""ExpediaGroup/kubernetes-sidecar-injector: one template per ConfigMap, in its namespace; rewrites."""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

import pytest
import yaml

from tests.unit.convert.helpers import convert, pod, template, warnings_about
from webhook.convert import ConversionError

RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def configmap(name: str, sidecars: Any, namespace: str | None = "shop", key: str = "sidecars.yaml") -> str:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    text = sidecars if isinstance(sidecars, str) else yaml.safe_dump(sidecars)
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {key: text}}
    )


def sidecar(container: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": container,
        "containers": [{"name": container, "image": f"{container}:1", "securityContext": RESTRICTED}],
        **fields,
    }


def test_every_sidecar_of_the_list_goes_into_one_template_of_the_configmaps_namespace() -> None:
    sidecars = [
        sidecar("a", imagePullSecrets=[{"name": "registry"}], labels={"x": "1"}),
        sidecar("b", volumes=[{"name": "v", "emptyDir": {}}], annotations={"k": "v"}),
    ]
    result = convert("expedia", {"cm.yaml": configmap("agents", sidecars)})
    [imported] = result.templates
    assert (imported.name, imported.namespace) == ("agents", "shop")
    assert dict(imported.body) == {
        "containers": [sidecars[0]["containers"][0], sidecars[1]["containers"][0]],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "imagePullSecrets": [{"name": "registry"}],
        "annotations": {"k": "v"},
        "labels": {"x": "1"},
    }
    assert result.warnings == ()


def test_an_annotation_set_twice_keeps_the_first_value_as_expedia_does() -> None:
    sidecars = [sidecar("a", annotations={"k": "first"}), sidecar("b", annotations={"k": "second"})]
    result = convert("expedia", {"cm.yaml": configmap("agents", sidecars)})
    assert template(result, "agents")["annotations"] == {"k": "first"}
    assert warnings_about(result, 'annotations "k" set by an earlier sidecar too')


def test_a_configmap_name_that_is_no_label_is_served_under_one() -> None:
    result = convert("expedia", {"cm.yaml": configmap("agents.v2", [sidecar("a")])})
    assert [t.name for t in result.templates] == ["agents-v2"]
    assert warnings_about(result, "served as template agents-v2")


def test_the_same_name_in_two_namespaces_is_two_templates_of_one_name() -> None:
    files = {
        "a.yaml": configmap("agents", [sidecar("a")], "one"),
        "b.yaml": configmap("agents", [sidecar("b")], "two"),
    }
    result = convert("expedia", files)
    assert [(t.name, t.namespace) for t in result.templates] == [("agents", "one"), ("agents", "two")]


def test_a_template_that_is_not_restricted_says_why_a_namespace_template_must_be() -> None:
    plain = {"name": "a", "containers": [{"name": "a", "image": "a:1"}]}
    result = convert("expedia", {"cm.yaml": configmap("agents", [plain])})
    assert [t.name for t in result.templates] == ["agents"]
    assert len(warnings_about(result, "serves namespace shop only, so it must meet the restricted")) == 1
    assert warnings_about(result, "will be refused when loaded: containers[0].securityContext")
    cluster_wide = convert("expedia", {"cm.yaml": configmap("agents", [plain], namespace=None)})
    assert cluster_wide.warnings == ()


@pytest.mark.parametrize(
    "sidecars, warning",
    [
        ("", "lists no sidecar, so Expedia injects nothing"),
        ("[]", "lists no sidecar, so Expedia injects nothing"),
        ("{a: 1}", "not imported: sidecars.yaml: expected a list of sidecars"),
        ("- {containers: 5}", "not imported: containers: expected a list of objects"),
        ("- [unclosed", "not imported: not valid YAML"),
    ],
)
def test_a_sidecar_list_expedia_would_inject_nothing_from_is_a_warning(sidecars: str, warning: str) -> None:
    files = {"bad.yaml": configmap("bad", sidecars), "good.yaml": configmap("good", [sidecar("g")])}
    result = convert("expedia", files)
    assert [t.name for t in result.templates] == ["good"]
    assert warnings_about(result, warning)


def test_unknown_fields_are_ignored_with_a_warning() -> None:
    result = convert("expedia", {"cm.yaml": configmap("agents", [sidecar("a", env=[{"name": "X"}])])})
    assert warnings_about(result, "unknown fields ignored, as Expedia ignores them: env")


def test_a_configmap_without_the_key_is_ignored_and_a_kindless_file_is_an_error() -> None:
    result = convert(
        "expedia",
        {"a.yaml": configmap("other", "x: 1", key="app.conf"), "b.yaml": configmap("g", [sidecar("g")])},
    )
    assert warnings_about(result, "no key sidecars.yaml")
    with pytest.raises(ConversionError, match="not an Expedia sidecar ConfigMap"):
        convert("expedia", {"a.yaml": "name: agents\ncontainers: []\n"})


class TestWorkloadRewrites:
    FILES: ClassVar[dict[str, str]] = {
        "cm.yaml": configmap("agents", [sidecar("a")]) + "---\n" + configmap("log.v2", [sidecar("l")])
    }

    def rewrite(
        self, annotations: dict[str, str], labels: dict[str, str] | None = None, **options: Any
    ) -> Any:
        return convert("expedia", {**self.FILES, "w.yaml": pod(annotations, labels=labels)}, **options)

    def test_the_list_keeps_its_order_with_names_made_labels(self) -> None:
        result = self.rewrite({"sidecar-injector.expedia.com/inject": " log.v2 ,agents,,agents"})
        assert dict(result.workloads[0].added) == {"sidecar-injector.io/inject": "log-v2, agents"}

    @pytest.mark.parametrize(
        "labels",
        [
            {"sidecar-injector.expedia.com/inject": "skip"},
            {"sidecar-injector.expedia.com/disable-inject": "true"},
        ],
    )
    def test_a_pod_labelled_to_skip_is_left_as_is(self, labels: dict[str, str]) -> None:
        result = self.rewrite({"sidecar-injector.expedia.com/inject": "agents"}, labels)
        assert result.workloads == ()
        assert warnings_about(result, "labelled to skip injection")

    def test_a_name_not_given_is_rewritten_by_rule_and_one_not_imported_is_dropped(self) -> None:
        files = {**self.FILES, "bad.yaml": configmap("broken", "{a: 1}")}
        workload = pod({"sidecar-injector.expedia.com/inject": "agents, Other.One, broken"})
        result = convert("expedia", {**files, "w.yaml": workload})
        assert dict(result.workloads[0].added) == {"sidecar-injector.io/inject": "agents, other-one"}
        assert warnings_about(result, 'asks for "Other.One", which none of the files given defines')
        assert warnings_about(result, 'asks for "broken", which was not imported')

    def test_other_annotations_of_the_prefix_are_named(self) -> None:
        result = self.rewrite(
            {"sidecar-injector.expedia.com/inject": "agents", "sidecar-injector.expedia.com/api-key": "k"}
        )
        assert warnings_about(result, "sidecar-injector.expedia.com/api-key is not an opt-in annotation")

    def test_another_prefix_is_read(self) -> None:
        result = self.rewrite({"inject.example.com/inject": "agents"}, annotation_prefix="inject.example.com")
        assert dict(result.workloads[0].removed) == {"inject.example.com/inject": "agents"}


def test_the_configmap_comes_out_in_its_namespace_labelled_as_ours() -> None:
    from webhook.convert import manifest

    [imported] = convert("expedia", {"cm.yaml": configmap("agents", [sidecar("a")])}).templates
    written = manifest(imported)
    assert written["metadata"] == {
        "name": "agents",
        "namespace": "shop",
        "labels": {"sidecar-injector.io/template": "true"},
    }
    assert yaml.safe_load(written["data"]["template"]) == dict(imported.body)
    assert textwrap.dedent(written["data"]["template"]).startswith("containers:")
