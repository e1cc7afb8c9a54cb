"""A small cluster on the fake apiserver for the day-2 commands: a kubeconfig pointing at it,
template ConfigMaps, and workloads written as the webhook would have admitted them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.fakes import FakeApiServer
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.offline import inject_object

INJECTOR, SHOP = "injector", "shop"
TEMPLATE_LABEL = {"sidecar-injector.io/template": "true"}


@contextmanager
def fake_cluster(*extra_namespaces: str, rollout_delay: float | None = None) -> Iterator[FakeApiServer]:
    """The fake apiserver with the injector's and the shop's namespaces (and ``extra_namespaces``);
    with ``rollout_delay``, its rollout controller completes rollouts after that many seconds. It
    must end without an internal error of its own."""
    with FakeApiServer() as server:
        for namespace in (INJECTOR, SHOP, *extra_namespaces):
            server.create_namespace(namespace)
        if rollout_delay is not None:
            server.start_rollout_controller(delay=rollout_delay)
        yield server
    assert not server.internal_errors, server.internal_errors[0]


def write_kubeconfig(fake: FakeApiServer, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": fake.host}}],
                "users": [{"name": "admin", "user": {"token": "not-checked"}}],
                "contexts": [
                    {"name": "fake", "context": {"cluster": "fake", "user": "admin", "namespace": SHOP}}
                ],
            }
        )
    )
    return path


def shipper_body(image: str, mode: str = "workload") -> str:
    return (
        f"injection: {mode}\ncontainers:\n- name: log-shipper\n  image: {image}\n"
        "volumes:\n- name: shipper-buffer\n  emptyDir: {}\n"
        "env:\n- name: LOG_SHIPPER\n  value: 'on'\n"
    )


def put_template(fake: FakeApiServer, name: str, body: str, namespace: str = INJECTOR) -> None:
    """Create or change a native template ConfigMap."""
    try:
        fake.update(namespace, name, data={"template": body})
    except KeyError:
        fake.create(namespace, name, {"template": body}, TEMPLATE_LABEL)


def admitted(fake: FakeApiServer, obj: dict[str, Any], namespace: str = INJECTOR) -> dict[str, Any]:
    """``obj`` as the webhook would admit it on CREATE with the templates the fake holds now."""
    configmaps = fake.list_objects("configmaps", namespace)
    text = yaml.safe_dump_all(
        [
            {**c, "metadata": {"name": c["metadata"]["name"], "labels": c["metadata"].get("labels", {})}}
            for c in configmaps
        ]
    )
    templates = template_set(text) if configmaps else template_set("")
    return inject_object(copy.deepcopy(obj), templates, InjectionPolicy(), SHOP).mutated


def opted_in(obj: dict[str, Any], names: str, on_pod_template: bool = True) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    where = obj["spec"]["template"]["metadata"] if on_pod_template else obj["metadata"]
    where.setdefault("annotations", {})["sidecar-injector.io/inject"] = names
    return obj
