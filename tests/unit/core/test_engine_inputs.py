"""Objects the engine met first in fuzz runs (tests/fuzz/): each once produced an internal error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from tests.support.templates import template_set
from webhook.core import AdmissionFacts, InjectionPolicy, InvalidObject, mutate

# Two containers' worth of volumes: the second is appended to the list the first op creates.
TEMPLATES = template_set(
    (Path(__file__).parents[3] / "examples" / "logging-agent-initializer.yaml").read_text()
)
FACTS = AdmissionFacts("uid", "CREATE", "Deployment", "default")


def deployment(**spec: Any) -> dict[str, Any]:
    pod_spec = {"containers": [{"name": "app", "image": "app:1"}], **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"initializer.kubernetes.io/logging-agent": "true"}},
        "spec": {"selector": {}, "template": {"metadata": {}, "spec": pod_spec}},
    }


def test_a_null_volume_list_gets_every_template_volume() -> None:
    obj = deployment(volumes=None)
    result = mutate(obj, FACTS, TEMPLATES, InjectionPolicy())
    patched = jsonpatch.apply_patch(obj, list(result.patch))
    assert [v["name"] for v in patched["spec"]["template"]["spec"]["volumes"]] == ["varlog", "config-volume"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"initContainers": [{}]}, "initContainers[0].name"),
        ({"containers": [{"name": 1, "image": "a"}]}, "containers[0].name"),
        ({"initContainers": [{"name": "app", "image": "a"}]}, "initContainers[0].name"),
        ({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}, "volumes[1].name"),
    ],
)
def test_missing_or_duplicate_names_in_the_pod_are_an_invalid_object(
    spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidObject) as raised:
        mutate(deployment(**spec), FACTS, TEMPLATES, InjectionPolicy())
    assert raised.value.field_path == f"spec.template.spec.{field}"


def test_env_names_and_mount_paths_that_are_not_strings_are_passed_over() -> None:
    templates = template_set(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: mounts, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    volumeMounts: [{name: shared, mountPath: /shared}]
    env: [{name: A, value: b}]
"""
    )
    obj = deployment(
        containers=[
            {"name": "app", "image": "a", "env": [{"name": ["A"]}], "volumeMounts": [{"mountPath": {}}]}
        ],
        volumes=[{"name": "shared", "emptyDir": {}}],
    )
    obj["metadata"]["annotations"] = {"sidecar-injector.io/inject": "mounts"}
    result = mutate(obj, FACTS, templates, InjectionPolicy())
    container = jsonpatch.apply_patch(obj, list(result.patch))["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][-1] == {"name": "A", "value": "b"}
    assert container["volumeMounts"][-1] == {"name": "shared", "mountPath": "/shared"}
