"""A structure-aware libFuzzer mutator for JSON inputs (used by the review and engine targets).

Byte-level mutation of a JSON document almost always yields a syntax error, which the review target
already covers in its first microseconds; reaching the engine needs documents that stay JSON. So when
the input parses, most mutations edit the tree (replace, delete, insert, splice a subtree, mutate one
string or number), using Kubernetes and injector vocabulary, and re-encode it. The rest, and any input
that does not parse, go to libFuzzer's own byte mutator so the parser keeps being fuzzed too.

No atheris import here: the byte mutator is passed in, and the pytest replay never needs this module.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

ByteMutator = Callable[[bytes, int], bytes]

KEYS = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "generateName",
    "annotations",
    "labels",
    "ownerReferences",
    "controller",
    "deletionTimestamp",
    "spec",
    "template",
    "jobTemplate",
    "containers",
    "initContainers",
    "volumes",
    "volumeMounts",
    "mountPath",
    "env",
    "value",
    "imagePullSecrets",
    "image",
    "restartPolicy",
    "emptyDir",
    "request",
    "uid",
    "operation",
    "object",
    "oldObject",
    "subResource",
    "volumeClaimTemplates",
    "volumeDevices",
    "devicePath",
    "dryRun",
    "policy",
    "templates",
    "body",
    "nativeSidecars",
    "injected",
    "revision",
    "legacy_annotations",
    "deny_missing_templates",
    "pod_security_check",
    "podSecurityLevel",
    "securityContext",
    "seccompProfile",
    "type",
    "runAsNonRoot",
    "runAsUser",
    "privileged",
    "allowPrivilegeEscalation",
    "capabilities",
    "add",
    "drop",
    "hostPath",
    "hostNetwork",
    "ports",
    "hostPort",
    "args",
    "resources",
    "sidecar-injector.io/inject",
    "sidecar-injector.io/status",
    "initializer.kubernetes.io/logging-agent",
    "initializer.kubernetes.io/",
    "example.com/agent",
    "odd~key",
    "a/b~1c",
    "",
]
STRINGS = [
    "",
    " ",
    "true",
    "True",
    "false",
    "none",
    "agent",
    "log-shipper",
    "logging-agent",
    "env-only",
    "tenant",
    "node-agent",
    "setup",
    "shared",
    "varlog",
    "app-logs",
    "agent, log-shipper",
    " agent ,, tenant ,",
    "missing",
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Service",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CONNECT",
    "status",
    "scale",
    "ephemeralcontainers",
    "/shared/",
    "//var/log/./app",
    "default",
    "shop",
    "Always",
    "privileged",
    "baseline",
    "restricted",
    "warn",
    "deny",
    "off",
    "RuntimeDefault",
    "Unconfined",
    "Localhost",
    "ALL",
    "NET_ADMIN",
    "/shared",
    "/var/log",
    "AGENT",
    "LOG_DIR",
    "pull",
    "2024-01-01T00:00:00Z",
    '{"injected":[{"name":"agent","revision":"0"}]}',
    '{"injected":[{"name":"log-shipper"}]}',
    '{"injected":{}}',
    '{"injected":[1]}',
    "{",
    "~",
    "/",
    "~1",
    "~0",
    "-",
    "0",
    "\ud800",
    "\x00",
    "é",
    "x" * 300,
]
NUMBERS = [0, 1, -1, 2, 255, 256, 2**31, 2**63, -(2**63), 10**30, 0.5, -0.0, 1e308]


def interesting_value(rng: random.Random) -> Any:
    choice = rng.randrange(8)
    if choice < 3:
        return rng.choice(STRINGS)
    if choice == 3:
        return rng.choice(NUMBERS)
    if choice == 4:
        return rng.choice([None, True, False])
    if choice == 5:
        return [] if rng.random() < 0.5 else [rng.choice(STRINGS)]
    if choice == 6:
        return {} if rng.random() < 0.5 else {rng.choice(KEYS): rng.choice(STRINGS)}
    return {"name": rng.choice(STRINGS), "image": "x:1"}


def _nodes(root: Any) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) slot of the tree, found without recursion."""
    slots: list[tuple[Any, Any]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                slots.append((node, key))
                stack.append(child)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                slots.append((node, index))
                stack.append(child)
        if len(slots) > 5000:
            break
    return slots


def _mutate_scalar(value: Any, rng: random.Random, byte_mutate: ByteMutator) -> Any:
    if isinstance(value, str) and rng.random() < 0.7:
        if rng.random() < 0.5:
            mutated = byte_mutate(value.encode("utf-8", "surrogatepass"), len(value) * 2 + 16)
            return mutated.decode("utf-8", "replace")
        position = rng.randrange(len(value) + 1)
        return value[:position] + rng.choice(STRINGS) + value[position:]
    if isinstance(value, bool) or value is None:
        return rng.choice([None, True, False, 0, "true"])
    if isinstance(value, int | float) and rng.random() < 0.7:
        return rng.choice([value + 1, value - 1, -value, rng.choice(NUMBERS), str(value)])
    return interesting_value(rng)


def mutate_tree(root: Any, rng: random.Random, byte_mutate: ByteMutator) -> Any:
    slots = _nodes(root)
    if not slots:
        return (
            {rng.choice(KEYS): interesting_value(rng)} if isinstance(root, dict) else interesting_value(rng)
        )
    container, key = rng.choice(slots)
    action = rng.randrange(10)
    if action == 0 and isinstance(container, dict):  # delete a key / an item
        del container[key]
    elif action == 0:
        container.pop(key)
    elif action == 1 and isinstance(container, dict):  # add a key
        container[rng.choice(KEYS)] = interesting_value(rng)
    elif action == 1:
        container.insert(rng.randrange(len(container) + 1), interesting_value(rng))
    elif action == 2 and isinstance(container, dict):  # rename a key
        value = container.pop(key)
        renamed = _mutate_scalar(key, rng, byte_mutate) if rng.random() < 0.3 else None
        container[renamed if isinstance(renamed, str) else rng.choice(KEYS)] = value
    elif action == 2:  # duplicate an item (same names twice)
        container.insert(key, copy.deepcopy(container[key]))
    elif action == 3:  # splice: a copy of another subtree of the same document
        other_container, other_key = rng.choice(slots)
        # deepcopy, not a JSON round trip: YAML trees hold keys JSON cannot (!!binary bytes, dates).
        container[key] = copy.deepcopy(other_container[other_key])
    elif action == 4:  # wrap in a list or an object
        container[key] = [container[key]] if rng.random() < 0.5 else {rng.choice(KEYS): container[key]}
    elif action == 5:
        container[key] = interesting_value(rng)
    else:
        container[key] = _mutate_scalar(container[key], rng, byte_mutate)
    return root


def mutate_json(data: bytes, max_size: int, seed: int, byte_mutate: ByteMutator) -> bytes:
    """libFuzzer custom mutator: tree edits for JSON inputs, byte edits otherwise (and sometimes)."""
    rng = random.Random(seed)
    if rng.random() < 0.15:
        return byte_mutate(data, max_size)
    try:
        root = json.loads(data)
    except (ValueError, RecursionError):
        return byte_mutate(data, max_size)
    for _ in range(1 + int(rng.expovariate(1.0))):
        root = mutate_tree(root, rng, byte_mutate)
    try:
        encoded = json.dumps(root, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return byte_mutate(data, max_size)
    return encoded if len(encoded) <= max_size else byte_mutate(data, max_size)


TEMPLATE_KEYS = ("template", "config")


def mutate_template_manifest(data: bytes, max_size: int, seed: int, byte_mutate: ByteMutator) -> bytes:
    """Tree edits of the template body inside a ConfigMap manifest, or byte edits of the whole text.

    A manifest holds its template as a YAML string under ``data.template`` (or ``data.config``), so
    tree edits of the manifest alone would only ever change that string as a whole.
    """
    import yaml  # here, so that the templates harness imports (and instruments) it first

    from webhook.bounded_yaml import FILE_LIMITS, TEMPLATE_LIMITS, load_one

    rng = random.Random(seed)
    if rng.random() < 0.4:
        return byte_mutate(data, max_size)
    try:
        # Bounded, like the parser: a billion-laughs seed must not expand in the mutator either.
        manifest = load_one(data.decode("utf-8"), FILE_LIMITS).value
        key = next(k for k in TEMPLATE_KEYS if isinstance(manifest["data"][k], str))
        body = load_one(manifest["data"][key], TEMPLATE_LIMITS).value
    except Exception:  # anything unusual: leave it to the byte mutator
        return byte_mutate(data, max_size)
    target = manifest["data"] if rng.random() < 0.1 else None
    try:
        for _ in range(1 + int(rng.expovariate(1.0))):
            if target is not None:
                mutate_tree(manifest, rng, byte_mutate)
            else:
                body = mutate_tree(body, rng, byte_mutate)
    except (ValueError, RecursionError):  # copies of a subtree too deep to copy
        return byte_mutate(data, max_size)
    try:
        if target is None:
            manifest["data"][key] = yaml.safe_dump(body, default_flow_style=rng.random() < 0.5)
        encoded = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True).encode()
    except Exception:
        return byte_mutate(data, max_size)
    return encoded if len(encoded) <= max_size else byte_mutate(data, max_size)


MUTATORS: dict[str, Callable[[bytes, int, int, ByteMutator], bytes]] = {
    "json": mutate_json,
    "templates": mutate_template_manifest,
}
