"""An exported MutatingAdmissionPolicy evaluated as kube-apiserver evaluates it, with a CEL
implementation from PyPI (common-expression-language, the Rust ``cel`` crate's binding).

What kube-apiserver does and this module does the same way: the policy's resourceRules (group,
resource, operation; a subresource never matches) and namespaceSelector, every matchCondition, then
the mutations one after another, each on the object as the ones before left it, applied as JSON
patches (jsonpatch). The object is the one the API server would decode: null fields are absent.

Where the Python implementation differs from Kubernetes' CEL environment, and how that is bridged:
- it cannot construct messages (``JSONPatch{op: ..., path: ..., value: ...}``: "struct feature not
  enabled"): each such construction is rewritten into the map ``{"op": ..., "path": ..., "value":
  ...}`` with the same three expressions, before compiling; ``rewrite_struct`` checks that the
  number of constructions rewritten is the number written;
- it lacks the Kubernetes string library (cel-go ext.Strings): ``substring``, ``indexOf``,
  ``split``, ``replace`` and ``join`` are given here as functions with that library's meaning (code
  points; ``substring``'s end exclusive; ``indexOf`` -1 when absent).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

cel = __import__("pytest").importorskip("cel", reason="pip package common-expression-language evaluates CEL")

STRUCT = "JSONPatch{op: "
RESOURCES = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}


def rewrite_struct(expression: str) -> str:
    """``JSONPatch{op: A, path: B, value: C}`` -> ``{"op": A, "path": B, "value": C}``: the exporter
    writes ``op`` as a string literal and ``path`` without ", value: ", so the first separators after
    each construction are its own."""
    parts = expression.split(STRUCT)
    rewritten = [parts[0]]
    for part in parts[1:]:
        assert part.count(", path: ") >= 1 and part.count(", value: ") >= 1, part[:200]
        part = part.replace(", path: ", ', "path": ', 1).replace(", value: ", ', "value": ', 1)
        rewritten.append('{"op": ' + part)
    result = "".join(rewritten)
    assert "JSONPatch{" not in result
    return result


def _substring(text: str, start: int, end: int) -> str:
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"substring: index out of range: {start}, {end}")
    return text[start:end]


def _index_of(text: str, part: str) -> int:
    return text.find(part)


def _split(text: str, separator: str) -> list[str]:
    return text.split(separator)


def _replace(text: str, old: str, new: str) -> str:
    return text.replace(old, new)


def _join(items: list[str], separator: str = "") -> str:
    return separator.join(items)


STRINGS_LIBRARY = {
    "substring": _substring,
    "indexOf": _index_of,
    "split": _split,
    "replace": _replace,
    "join": _join,
}


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        assert operator in ("In", "NotIn"), operator
        if (labels.get(key) in values) != (operator == "In"):
            return False
    return True


class Request:
    """One admission request: the object, the operation and the namespace, as CEL sees them."""

    def __init__(
        self,
        obj: dict[str, Any],
        operation: str,
        namespace: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        sub_resource: str = "",
    ) -> None:
        self.object = without_nulls(obj)
        self.operation = operation
        self.sub_resource = sub_resource
        self.namespace_labels = {**labels, "kubernetes.io/metadata.name": namespace}
        metadata = {"name": namespace, "labels": self.namespace_labels, "annotations": dict(annotations)}
        self.namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}

    def context(self, policy: Mapping[str, Any] | None = None) -> Any:
        """The activation; with ``policy``, its ``variables`` evaluated in order on this object (as
        kube-apiserver evaluates them for each expression, lazily: each is defined everywhere)."""
        variables = {
            "object": self.object,
            "oldObject": None,
            "request": {"operation": self.operation, "subResource": self.sub_resource},
            "namespaceObject": self.namespace_object,
        }
        if policy is not None and policy["spec"].get("variables"):
            computed: dict[str, Any] = {}
            for variable in policy["spec"]["variables"]:
                context = cel.Context(
                    variables={**variables, "variables": computed}, functions=STRINGS_LIBRARY
                )
                computed[variable["name"]] = evaluate(variable["expression"], context)
            variables["variables"] = computed
        return cel.Context(variables=variables, functions=STRINGS_LIBRARY)

    def matched_by(self, policy: Mapping[str, Any]) -> bool:
        constraints = policy["spec"]["matchConstraints"]
        group, resource = RESOURCES[self.object["kind"]]
        if self.sub_resource or not any(
            group in rule["apiGroups"]
            and resource in rule["resources"]
            and self.operation in rule["operations"]
            for rule in constraints["resourceRules"]
        ):
            return False
        if not selects(constraints.get("namespaceSelector") or {}, self.namespace_labels):
            return False
        return all(
            evaluate(condition["expression"], self.context()) is True
            for condition in policy["spec"].get("matchConditions", [])
        )

    def apply(self, policy: Mapping[str, Any]) -> bool:
        """Mutate the object with the policy when it matches; True when it did."""
        if not self.matched_by(policy):
            return False
        for mutation in policy["spec"]["mutations"]:
            assert mutation["patchType"] == "JSONPatch"
            operations = evaluate(mutation["jsonPatch"]["expression"], self.context(policy))
            assert isinstance(operations, list), operations
            self.object = jsonpatch.apply_patch(copy.deepcopy(self.object), operations)
        return True


def compile_expression(expression: str) -> Any:
    return cel.compile(rewrite_struct(expression))


def evaluate(expression: str, context: Any) -> Any:
    return compile_expression(expression).execute(context)


def expressions(policy: Mapping[str, Any]) -> list[str]:
    spec = policy["spec"]
    found = [c["expression"] for c in spec.get("matchConditions", [])]
    found += [v["expression"] for v in spec.get("variables", [])]
    found += [m["jsonPatch"]["expression"] for m in spec["mutations"]]
    return found
