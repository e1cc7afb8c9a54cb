"""An opted-in pod beyond the container or volume bound is refused before any work is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.templates import template_set
from webhook.core import AdmissionFacts, InjectionPolicy, InvalidObject, mutate
from webhook.core.bounds import MAX_CONTAINERS, MAX_VOLUMES

TEMPLATES = template_set((Path(__file__).parents[3] / "examples" / "log-shipper.yaml").read_text())
FACTS = AdmissionFacts("uid", "CREATE", "Pod", "default", "p")


def pod(containers: int, init: int = 0, volumes: int = 0, inject: str = "log-shipper") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"sidecar-injector.io/inject": inject}},
        "spec": {
            "containers": [{"name": f"c{i}", "image": "i"} for i in range(containers)],
            "initContainers": [{"name": f"i{i}", "image": "i"} for i in range(init)],
            "volumes": [{"name": f"v{i}", "emptyDir": {}} for i in range(volumes)],
        },
    }


def test_a_pod_at_the_bounds_is_injected() -> None:
    result = mutate(
        pod(MAX_CONTAINERS - 10, init=10, volumes=MAX_VOLUMES - 1), FACTS, TEMPLATES, InjectionPolicy()
    )
    assert result.injected == ("log-shipper",)


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        ({"containers": MAX_CONTAINERS + 1}, "spec.containers"),
        ({"containers": MAX_CONTAINERS, "init": 1}, "spec.containers"),
        ({"containers": 1, "volumes": MAX_VOLUMES + 1}, "spec.volumes"),
        ({"containers": 88_000}, "spec.containers"),
    ],
)
def test_a_pod_beyond_the_bounds_is_refused_naming_the_field(shape: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidObject) as refused:
        mutate(pod(**shape), FACTS, TEMPLATES, InjectionPolicy())
    assert refused.value.field_path == field and refused.value.reason == "invalid-object"


def test_a_pod_that_did_not_opt_in_is_never_counted() -> None:
    result = mutate(pod(MAX_CONTAINERS + 1, inject="false"), FACTS, TEMPLATES, InjectionPolicy())
    assert result.patch == () and result.skip_reason is not None
