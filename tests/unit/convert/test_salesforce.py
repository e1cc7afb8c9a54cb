"""salesforce/generic-sidecar-injector: picking by name, {% %} pod data, triggers, what is lost."""

from __future__ import annotations

import textwrap

import pytest

from tests.unit.convert.helpers import convert, pod, template, warnings_about
from webhook.convert import ConversionError

SIDECARS = """
    initContainers:
    - {name: init-a, image: "init-a:1"}
    - {name: init-b, image: "init-b:1"}
    containers:
    - {name: second, image: "second:1"}
    - {name: first, image: "first:1"}
    volumes:
    - {name: v, emptyDir: {}}
    volumeMounts:
    - {name: v, mountPath: /v}
"""


def mutations(*entries: str) -> str:
    return "mutationConfigs:\n" + "".join(textwrap.indent(textwrap.dedent(e), "  ") for e in entries)


ONE = """
- name: agents
  annotationNamespace: agents.example.com
  annotationTrigger: inject
  containers: [first, second]
  volumes: [v]
"""


def extend(entry: str, extra: str) -> str:
    """A mutation config entry with more fields."""
    return textwrap.dedent(entry) + textwrap.indent(textwrap.dedent(extra), "  ")


def files(sidecars: str = SIDECARS, *entries: str, **more: str) -> dict[str, str]:
    return {"sidecarconfig.yaml": sidecars, "mutationconfig.yaml": mutations(*(entries or (ONE,))), **more}


def test_items_are_picked_in_the_sidecar_configs_order_not_the_mutation_configs() -> None:
    body = template(convert("salesforce", files()), "agents")
    assert [c["name"] for c in body["containers"]] == ["second", "first"]
    assert body["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert body["annotations"] == {"agents.example.com/status": "injected"}
    assert "initContainers" not in body and "volumeMounts" not in body


def test_the_chart_configmap_holds_both_files_under_their_keys() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sidecarinjector-webhook-configmap"},
        "data": {"sidecarconfig.yaml": textwrap.dedent(SIDECARS), "mutationconfig.yaml": mutations(ONE)},
    }
    import yaml

    result = convert("salesforce", {"cm.yaml": yaml.safe_dump(configmap)})
    assert [t.name for t in result.templates] == ["agents"]
    assert result.templates[0].origin.startswith('cm.yaml: ConfigMap "sidecarinjector-webhook-configmap" key')


@pytest.mark.parametrize(
    "given, message",
    [
        ({"sidecarconfig.yaml": SIDECARS}, "no mutationconfig.yaml among the files given"),
        ({"mutationconfig.yaml": mutations(ONE)}, "no sidecarconfig.yaml among the files given"),
        ({**files(), "more.yaml": SIDECARS}, "reads one sidecar config, and 2 were given"),
        (
            {**files(), "odd.yaml": "colour: blue\n"},
            "neither a salesforce sidecarconfig.yaml nor a mutationconfig.yaml",
        ),
        (
            {"sidecarconfig.yaml": "containers: 3\n", "mutationconfig.yaml": mutations(ONE)},
            "containers: expected a list",
        ),
        (
            {"sidecarconfig.yaml": SIDECARS, "mutationconfig.yaml": "mutationConfigs: {a: 1}\n"},
            "expected a list of mutation",
        ),
    ],
)
def test_input_the_injector_could_not_start_with_is_an_error(given: dict[str, str], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        convert("salesforce", given)


def test_a_name_the_sidecar_config_does_not_define_is_a_warning() -> None:
    entry = ONE.replace("containers: [first, second]", "containers: [first, ghost]")
    result = convert("salesforce", files(SIDECARS, entry))
    assert [c["name"] for c in template(result, "agents")["containers"]] == ["first"]
    assert warnings_about(result, 'containers: "ghost" not in the sidecar config')


class TestPodData:
    @pytest.mark.parametrize(
        "expression, field",
        [
            ('index .Annotations "team.example.com/role"', "metadata.annotations['team.example.com/role']"),
            ('index .ObjectMeta.Labels "app"', "metadata.labels['app']"),
            (".Namespace", "metadata.namespace"),
            (".ObjectMeta.Name", "metadata.name"),
            (".Spec.NodeName", "spec.nodeName"),
            (".Spec.ServiceAccountName", "spec.serviceAccountName"),
        ],
    )
    def test_a_whole_env_value_from_the_pod_is_read_through_the_downward_api(
        self, expression: str, field: str
    ) -> None:
        sidecars = SIDECARS.replace(
            '- {name: first, image: "first:1"}',
            f'- name: first\n      image: "first:1"\n      env:\n      - name: FROM_POD\n        value: {{% {expression} %}}',
        )
        result = convert("salesforce", files(sidecars))
        [variable] = next(c for c in template(result, "agents")["containers"] if c["name"] == "first")["env"]
        assert variable == {"name": "FROM_POD", "valueFrom": {"fieldRef": {"fieldPath": field}}}
        assert warnings_about(result, f"downward API (fieldRef {field})")

    def test_the_name_and_node_carry_what_salesforce_saw_instead(self) -> None:
        sidecars = SIDECARS.replace(
            '- {name: first, image: "first:1"}',
            '- name: first\n      image: "first:1"\n      env:\n      - {name: N, value: {% .Name %}}',
        )
        assert warnings_about(convert("salesforce", files(sidecars)), "empty for a Deployment's pods")

    def test_pod_data_anywhere_else_keeps_that_mutation_config_out(self) -> None:
        sidecars = SIDECARS.replace(
            "- {name: v, emptyDir: {}}", "- name: v\n      secret: {secretName: s-{% .Namespace %}}"
        )
        result = convert("salesforce", files(sidecars))
        assert result.templates == ()
        [warning] = warnings_about(result, "reads the pod where a template cannot")
        assert 'volumes[0].secret.secretName: "s-{% .Namespace %}"' in warning.message

    def test_pod_data_in_an_item_no_mutation_config_picks_does_not_matter(self) -> None:
        sidecars = SIDECARS.replace(
            '- {name: init-a, image: "init-a:1"}', '- {name: init-a, image: "{% .Namespace %}"}'
        )
        assert [t.name for t in convert("salesforce", files(sidecars)).templates] == ["agents"]

    @pytest.mark.parametrize(
        "action, message",
        [
            (
                "{% if .Annotations %}",
                r"line 2: \{% if %\} makes the configuration's shape depend on the pod",
            ),
            ("{% range .Spec.Containers %}", r"\{% range %\}"),
            ("{%- .Namespace -%}", "whitespace trimming is not supported"),
            ("{%   %}", "an empty action"),
        ],
    )
    def test_an_action_that_shapes_the_file_is_an_error_naming_its_line(
        self, action: str, message: str
    ) -> None:
        with pytest.raises(ConversionError, match=message):
            convert("salesforce", files("containers:\n" + action + "\n- {name: a, image: b}\n"))

    def test_a_comment_is_dropped(self) -> None:
        sidecars = "{%/* injected by team A */%}\n" + textwrap.dedent(SIDECARS)
        assert convert("salesforce", files(sidecars)).warnings == convert("salesforce", files()).warnings


class TestLosses:
    @pytest.mark.parametrize(
        "extra, warning",
        [
            (
                "initContainers: [init-b]\ninitContainersBeforePodInitContainers: [init-b]\n",
                '"init-b" are appended after',
            ),
            ("volumeMounts: [v]\n", "not to its own init containers"),
            ("implementsSidecarLifecycle: true\n", "the sidecar-lifecycle volume"),
            (
                "annotationConfig: {volumeMounts: [{name: mounts, containerRefs: [first]}]}\n",
                "annotationConfig not imported",
            ),
            ("ignoreNamespaces: [ops]\n", 'ignoreNamespaces "ops" not imported'),
            ("whitelistNamespaces: [shop]\n", "never reads it either"),
            ("colour: blue\n", "unknown fields ignored, as salesforce ignores them: colour"),
        ],
    )
    def test_each_is_one_warning_and_the_template_is_imported(self, extra: str, warning: str) -> None:
        result = convert("salesforce", files(SIDECARS, extend(ONE, extra)))
        assert [t.name for t in result.templates] == ["agents"]
        assert len(warnings_about(result, warning)) == 1

    def test_sidecars_without_the_lifecycle_warn_that_job_pods_got_none(self) -> None:
        assert warnings_about(convert("salesforce", files()), "restartPolicy is not Always")
        lifecycle = convert("salesforce", files(SIDECARS, extend(ONE, "implementsSidecarLifecycle: true\n")))
        assert not warnings_about(lifecycle, "restartPolicy is not Always")


class TestTriggers:
    TWO = """
    - name: logs
      annotationNamespace: logs.example.com
      annotationTrigger: inject
      containers: [second]
    """

    def test_true_and_enabled_both_ask_and_the_order_is_the_mutation_configs(self) -> None:
        workload = pod(
            {"logs.example.com/inject": "enabled", "agents.example.com/inject": "true"}, kind="Deployment"
        )
        result = convert("salesforce", files(SIDECARS, ONE, self.TWO, **{"w.yaml": workload}))
        [rewrite] = result.workloads
        assert dict(rewrite.added) == {"sidecar-injector.io/inject": "agents, logs"}
        assert set(rewrite.removed) == {"logs.example.com/inject", "agents.example.com/inject"}
        assert {(r.old_key, r.old_value) for r in result.rewrites} >= {
            ("agents.example.com/inject", "true"),
            ("agents.example.com/inject", "enabled"),
        }

    def test_another_value_asked_salesforce_for_nothing_and_is_left_as_is(self) -> None:
        result = convert("salesforce", files(**{"w.yaml": pod({"agents.example.com/inject": "yes"})}))
        assert result.workloads == ()
        assert warnings_about(result, "is neither true nor enabled")

    def test_a_pod_marked_injected_is_left_as_is(self) -> None:
        annotations = {"agents.example.com/inject": "true", "agents.example.com/status": "injected"}
        result = convert("salesforce", files(**{"w.yaml": pod(annotations)}))
        assert result.workloads == ()

    def test_two_configs_sharing_an_annotation_namespace_gave_a_pod_only_the_first(self) -> None:
        shared = self.TWO.replace("logs.example.com", "agents.example.com").replace("inject\n", "logs\n")
        workload = pod({"agents.example.com/inject": "true", "agents.example.com/logs": "true"})
        result = convert("salesforce", files(SIDECARS, ONE, shared, **{"w.yaml": workload}))
        assert warnings_about(result, "shares its annotationNamespace")
        assert dict(result.workloads[0].added) == {"sidecar-injector.io/inject": "agents"}
        assert warnings_about(result, "says injected, so salesforce skipped logs")

    def test_a_trigger_of_a_config_not_imported_is_left_as_is(self) -> None:
        broken = extend(self.TWO, "volumes: 3\n")
        workload = pod({"logs.example.com/inject": "true"})
        result = convert("salesforce", files(SIDECARS, ONE, broken, **{"w.yaml": workload}))
        assert result.workloads == ()
        assert warnings_about(result, "asks for a mutation config that was not imported")

    def test_the_annotation_mounts_of_a_pod_are_named_in_its_rewrite(self) -> None:
        entry = extend(ONE, "annotationConfig: {volumeMounts: [{name: mounts}]}\n")
        workload = pod({"agents.example.com/inject": "true", "agents.example.com/mounts": "[]"})
        result = convert("salesforce", files(SIDECARS, entry, **{"w.yaml": workload}))
        assert warnings_about(result, "agents.example.com/mounts is read by salesforce at admission")

    def test_a_config_without_a_name_is_named_after_its_trigger(self) -> None:
        entry = ONE.replace("- name: agents\n  annotationNamespace", "- annotationNamespace")
        assert [t.name for t in convert("salesforce", files(SIDECARS, entry)).templates] == [
            "agents-example-com-inject"
        ]
