"""tumblr/k8s-sidecar-injector: names and versions, inherits, lost pod-level fields, request rewrites."""

from __future__ import annotations

import textwrap

import pytest

from tests.unit.convert.helpers import convert, pod, template, warnings_about
from webhook.convert import ConversionError

SIDECAR = """
    name: "{name}"
    containers:
    - name: {container}
      image: registry.example.com/agent:1
"""


def config(name: str, container: str = "agent") -> str:
    return textwrap.dedent(SIDECAR.format(name=name, container=container))


@pytest.mark.parametrize(
    "name, label",
    [
        ("agent", "agent"),
        ("agent:latest", "agent"),
        ("agent:", "agent"),
        ("Agent:V1.2", "agent-v1-2"),
        ("a_b:1", "a-b-1"),
    ],
)
def test_a_version_becomes_part_of_the_template_name_and_latest_is_left_out(name: str, label: str) -> None:
    result = convert("tumblr", {"a.yaml": config(name)})
    assert [t.name for t in result.templates] == [label]


def test_requests_with_or_without_latest_both_map_to_the_same_template() -> None:
    result = convert("tumblr", {"a.yaml": config("agent")})
    assert {(r.old_value, r.new_value) for r in result.rewrites} == {
        ("agent", "agent"),
        ("agent:latest", "agent"),
    }
    assert {r.old_key for r in result.rewrites} == {"injector.tumblr.com/request"}
    assert {r.new_key for r in result.rewrites} == {"sidecar-injector.io/inject"}


def test_a_name_with_two_colons_or_none_at_all_is_not_imported_as_tumblr_refuses_it() -> None:
    result = convert(
        "tumblr", {"a.yaml": config("a:b:c"), "b.yaml": "containers: []\n", "c.yaml": config("ok")}
    )
    assert [t.name for t in result.templates] == ["ok"]
    assert warnings_about(result, "neither name nor name:version")[0].origin == "a.yaml"
    assert warnings_about(result, "missing (tumblr refuses such a configuration too)")[0].origin == "b.yaml"


def test_two_names_mapping_to_one_label_keep_apart_the_second_with_a_digest() -> None:
    workload = pod({"injector.tumblr.com/request": "a-b:latest"})
    result = convert(
        "tumblr", {"1.yaml": config("a:b", "one"), "2.yaml": config("a-b", "two"), "w.yaml": workload}
    )
    first, second = (t.name for t in result.templates)
    assert first == "a-b"
    assert second.startswith("a-b-") and len(second) == len("a-b-") + 6
    assert warnings_about(result, f"named {second} instead")
    assert dict(result.workloads[0].added) == {"sidecar-injector.io/inject": second}


def test_inherits_merges_a_chain_of_parents_by_name_relative_to_each_file() -> None:
    files = {
        "conf/base.yaml": """
            name: base
            containers: [{name: a, image: "a:1"}, {name: b, image: "b:1"}]
            env: [{name: X, value: base}]
            hostAliases: [{ip: 10.0.0.1, hostnames: [one]}]
            serviceAccountName: base-account
        """,
        "conf/team/middle.yaml": """
            name: middle
            inherits: ../base.yaml
            containers: [{name: b, image: "b:2"}]
            volumes: [{name: v, emptyDir: {}}]
        """,
        "conf/team/leaf.yaml": """
            name: leaf:v3
            inherits: middle.yaml
            containers: [{name: c, image: "c:1"}]
            env: [{name: X, value: leaf}, {name: Y, value: leaf}]
        """,
    }
    leaf = template(convert("tumblr", files), "leaf-v3")
    assert [(c["name"], c["image"]) for c in leaf["containers"]] == [("a", "a:1"), ("b", "b:2"), ("c", "c:1")]
    assert leaf["env"] == [{"name": "X", "value": "leaf"}, {"name": "Y", "value": "leaf"}]
    assert leaf["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert all(c["env"] == leaf["env"] for c in leaf["containers"])


def test_a_parent_not_given_or_a_loop_of_parents_is_not_imported() -> None:
    result = convert(
        "tumblr",
        {
            "orphan.yaml": config("orphan") + "inherits: ../elsewhere/base.yaml\n",
            "a.yaml": config("a") + "inherits: b.yaml\n",
            "b.yaml": config("b") + "inherits: a.yaml\n",
            "fine.yaml": config("fine"),
        },
    )
    assert [t.name for t in result.templates] == ["fine"]
    assert "not among the files given" in warnings_about(result, "../elsewhere/base.yaml")[0].message
    assert {w.origin for w in warnings_about(result, "comes back to a file already in it")} == {
        "a.yaml",
        "b.yaml",
    }


def test_inherits_in_a_configmap_is_ignored_as_tumblr_ignores_it_there() -> None:
    configmap = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: sidecars}
        data:
          one: |
            name: one
            inherits: base.yaml
            containers: [{name: one, image: "one:1"}]
          readme: "not a configuration: just text"
    """
    result = convert("tumblr", {"cm.yaml": configmap})
    assert [c["name"] for c in template(result, "one")["containers"]] == ["one"]
    assert warnings_about(result, "inherits ignored")
    assert warnings_about(result, "not a tumblr sidecar configuration; ignored")[0].origin.endswith(
        'key "readme"'
    )


def test_env_and_mounts_go_into_the_templates_own_containers_whose_values_win() -> None:
    body = template(
        convert(
            "tumblr",
            {
                "a.yaml": """
                    name: a
                    containers:
                    - {name: c, image: "c:1", env: [{name: X, value: own}], volumeMounts: [{name: v, mountPath: /own}]}
                    initContainers: [{name: i, image: "i:1"}]
                    env: [{name: X, value: shared}, {name: Y, value: shared}]
                    volumeMounts: [{name: v, mountPath: /shared}, {name: w, mountPath: /w}]
                """
            },
        ),
        "a",
    )
    container, init = body["containers"][0], body["initContainers"][0]
    assert container["env"] == [{"name": "X", "value": "own"}, {"name": "Y", "value": "shared"}]
    assert container["volumeMounts"] == [{"name": "v", "mountPath": "/own"}, {"name": "w", "mountPath": "/w"}]
    assert init["env"] == body["env"] and init["volumeMounts"] == body["volumeMounts"]
    assert body["annotations"] == {"injector.tumblr.com/status": "injected"}


@pytest.mark.parametrize(
    "line, warning",
    [
        ("hostNetwork: true", "hostNetwork: true not imported"),
        ("hostPID: true", "hostPID: true not imported"),
        ("serviceAccountName: robot", 'serviceAccountName "robot" not imported'),
        ("hostAliases: [{ip: 1.2.3.4, hostnames: [x]}]", "hostAliases not imported"),
        ("prependContainers: true", "appended after the app's containers instead"),
        ("colour: blue", "unknown fields ignored, as tumblr ignores them: colour"),
    ],
)
def test_each_field_a_template_cannot_hold_is_a_warning_and_the_rest_is_imported(
    line: str, warning: str
) -> None:
    result = convert("tumblr", {"a.yaml": config("a") + line + "\n"})
    assert [t.name for t in result.templates] == ["a"]
    assert len(warnings_about(result, warning)) == 1
    assert set(template(result, "a")) == {"containers", "annotations"}


def test_a_false_flag_is_no_warning() -> None:
    result = convert("tumblr", {"a.yaml": config("a") + "hostNetwork: false\nprependContainers: false\n"})
    assert result.warnings == ()


def test_only_the_first_document_of_a_file_is_read_as_tumblr_reads_it() -> None:
    result = convert("tumblr", {"a.yaml": config("first") + "---\n" + config("second")})
    assert [t.name for t in result.templates] == ["first"]
    assert warnings_about(result, "reads only the first YAML document")


def test_the_same_full_name_twice_keeps_the_later_one_as_tumblrs_map_does() -> None:
    result = convert("tumblr", {"a.yaml": config("x:1", "early"), "b.yaml": config("X:1", "late")})
    assert [c["name"] for c in template(result, "x-1")["containers"]] == ["late"]
    assert warnings_about(result, "this later one is used")[0].origin == "b.yaml"


def test_a_wrongly_typed_field_skips_that_configuration_only() -> None:
    result = convert("tumblr", {"a.yaml": "name: a\ncontainers: {not: a list}\n", "b.yaml": config("b")})
    assert [t.name for t in result.templates] == ["b"]
    assert "containers: expected a list of objects" in warnings_about(result, "not imported")[0].message


def test_a_kindless_document_that_is_not_a_tumblr_configuration_is_an_error() -> None:
    with pytest.raises(ConversionError, match="not a tumblr sidecar configuration"):
        convert("tumblr", {"a.yaml": "mutationConfigs: []\n"})


class TestWorkloadRewrites:
    def test_the_request_on_a_deployments_pod_template_is_replaced_by_ours(self) -> None:
        workload = pod({"injector.tumblr.com/request": "agent:v2", "keep": "me"}, kind="Deployment")
        [rewrite] = convert("tumblr", {"a.yaml": config("agent:v2"), "w.yaml": workload}).workloads
        assert rewrite.location == "spec.template.metadata.annotations"
        assert rewrite.rewritten["spec"]["template"]["metadata"]["annotations"] == {
            "keep": "me",
            "sidecar-injector.io/inject": "agent-v2",
        }

    def test_a_request_on_the_deployments_own_metadata_did_nothing_and_is_left_alone(self) -> None:
        workload = pod({}, kind="Deployment").replace(
            "metadata:\n  name: app",
            "metadata:\n  name: app\n  annotations: {injector.tumblr.com/request: agent}",
        )
        result = convert("tumblr", {"a.yaml": config("agent"), "w.yaml": workload})
        assert result.workloads == ()
        assert warnings_about(result, "did nothing (the old injector read pods only); not rewritten")

    def test_a_pod_tumblr_marked_injected_is_left_as_is(self) -> None:
        workload = pod({"injector.tumblr.com/request": "agent", "injector.tumblr.com/status": "Injected"})
        result = convert("tumblr", {"a.yaml": config("agent"), "w.yaml": workload})
        assert result.workloads == ()
        assert warnings_about(result, "so tumblr injected nothing; left as is")

    def test_a_request_for_a_configuration_not_given_is_rewritten_by_the_same_rule(self) -> None:
        workload = pod({"injector.tumblr.com/request": "Other:V9"})
        result = convert("tumblr", {"a.yaml": config("agent"), "w.yaml": workload})
        assert dict(result.workloads[0].added) == {"sidecar-injector.io/inject": "other-v9"}
        assert warnings_about(result, "none of the files given defines")

    def test_a_request_for_a_configuration_that_was_not_imported_is_left_as_is(self) -> None:
        workload = pod({"injector.tumblr.com/request": "broken"})
        files = {"a.yaml": "name: broken\nvolumes: 7\n", "b.yaml": config("fine"), "w.yaml": workload}
        result = convert("tumblr", files)
        assert result.workloads == ()
        assert warnings_about(result, "whose configuration was not imported")

    def test_our_annotation_already_present_keeps_its_templates_first(self) -> None:
        workload = pod({"injector.tumblr.com/request": "agent", "sidecar-injector.io/inject": "mine"})
        [rewrite] = convert("tumblr", {"a.yaml": config("agent"), "w.yaml": workload}).workloads
        assert dict(rewrite.added) == {"sidecar-injector.io/inject": "mine, agent"}

    def test_another_annotation_prefix_is_read_and_marked(self) -> None:
        workload = pod({"injector.example.com/request": "agent"})
        result = convert(
            "tumblr",
            {"a.yaml": config("agent"), "w.yaml": workload},
            annotation_prefix="injector.example.com",
        )
        assert dict(result.workloads[0].removed) == {"injector.example.com/request": "agent"}
        assert template(result, "agent")["annotations"] == {"injector.example.com/status": "injected"}
