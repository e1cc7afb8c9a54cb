"""Environment variables, ``envFrom`` and downward API selectors, as the API server validates them."""

from __future__ import annotations

import re
from typing import Any

from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, entries, mapping, present, text
from webhook.templates.k8s_formats import config_map_key, env_var_name, object_name, qualified_name
from webhook.templates.quantity import QuantityError, parse_quantity
from webhook.templates.resource_rules import check_quantity

ENV_FIELD_PATHS = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
VOLUME_FIELD_PATHS = frozenset(
    {"metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid"}
)
RESOURCE_FIELD_PATHS = frozenset(
    f"{kind}.{name}" for kind in ("limits", "requests") for name in ("cpu", "memory", "ephemeral-storage")
)
_SUBSCRIPTED = re.compile(r"(metadata\.(?:annotations|labels))\['(.*)'\]", re.DOTALL)
_ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
# Divisors the API server accepts, by value and by the suffix family that writes them canonically.
_DECIMAL_DIVISORS = {10**e for e in range(3, 19, 3)}
_BINARY_DIVISORS = {2**e for e in range(10, 61, 10)}


def check_env(env: Any, path: FieldPath, findings: Findings, relaxed_names: bool) -> None:
    for index, item in enumerate(entries(env)):
        item_path = (*path, index)
        name = text(item, "name")
        if not name:
            findings.add((*item_path, "name"), "required")
        else:
            findings.extend((*item_path, "name"), env_var_name(name, relaxed_names))
        if present(item, "valueFrom"):
            _check_value_from(
                mapping(item).get("valueFrom"), (*item_path, "valueFrom"), findings, bool(text(item, "value"))
            )


def check_env_from(env_from: Any, path: FieldPath, findings: Findings, relaxed_names: bool) -> None:
    for index, item in enumerate(entries(env_from)):
        item_path = (*path, index)
        prefix = text(item, "prefix")
        if prefix:
            findings.extend((*item_path, "prefix"), env_var_name(prefix, relaxed_names))
        sources = [key for key in ("configMapRef", "secretRef") if present(item, key)]
        if len(sources) != 1:
            findings.add(item_path, "must specify exactly one of configMapRef or secretRef")
        for key in sources:
            name = text(mapping(item)[key], "name")
            if not name:
                findings.add((*item_path, key, "name"), "required")
            else:
                findings.extend((*item_path, key, "name"), object_name(name, prefix=True))


def check_field_selector(selector: Any, path: FieldPath, findings: Findings, allowed: frozenset[str]) -> None:
    version = text(selector, "apiVersion")
    if version not in (None, "", "v1"):
        findings.add(
            (*path, "apiVersion"), f"unsupported version {show(version)}; the downward API speaks v1"
        )
    field_path = text(selector, "fieldPath")
    if not field_path:
        findings.add((*path, "fieldPath"), "required")
        return
    subscripted = _SUBSCRIPTED.fullmatch(field_path)
    if subscripted:
        key = subscripted.group(2)
        findings.extend(path, qualified_name(key.lower() if "annotations" in subscripted.group(1) else key))
    elif field_path not in allowed:
        findings.add(
            (*path, "fieldPath"),
            f"{show(field_path)} is not supported; use one of {', '.join(sorted(allowed))}",
        )


def check_resource_selector(selector: Any, path: FieldPath, findings: Findings, volume: bool) -> None:
    resource = text(selector, "resource")
    if volume and not text(selector, "containerName"):
        findings.add((*path, "containerName"), "required")
    elif not resource:
        findings.add((*path, "resource"), "required")
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(
        ("limits.hugepages-", "requests.hugepages-")
    ):
        findings.add(
            (*path, "resource"),
            f"{show(resource)} is not supported; use one of {', '.join(sorted(RESOURCE_FIELD_PATHS))}",
        )
    divisor = mapping(selector).get("divisor")
    quantity = check_quantity(divisor, (*path, "divisor"), findings)
    if quantity is not None and quantity.value != 0 and resource and not _divisor_allowed(resource, divisor):
        findings.add((*path, "divisor"), f"{show(divisor)} is not a supported divisor for {resource}")


def _check_value_from(value_from: Any, path: FieldPath, findings: Findings, has_value: bool) -> None:
    sources = [key for key in _ENV_SOURCES if present(value_from, key)]
    if not sources:
        findings.add(path, f"must specify one of {', '.join(_ENV_SOURCES)}")
    elif has_value:
        findings.add(path, "may not be specified when value is not empty")
    elif len(sources) > 1:
        findings.add(path, f"may not have more than one source; found {', '.join(sources)}")
    selectors = mapping(value_from)
    if "fieldRef" in sources:
        check_field_selector(selectors["fieldRef"], (*path, "fieldRef"), findings, ENV_FIELD_PATHS)
    if "resourceFieldRef" in sources:
        check_resource_selector(selectors["resourceFieldRef"], (*path, "resourceFieldRef"), findings, False)
    for key in ("configMapKeyRef", "secretKeyRef"):
        if key in sources:
            selector = selectors[key]
            name = text(selector, "name")
            findings.extend((*path, key, "name"), object_name(name) if name else ["required"])
            key_name = text(selector, "key")
            findings.extend((*path, key, "key"), config_map_key(key_name) if key_name else ["required"])


def _divisor_allowed(resource: str, raw: Any) -> bool:
    try:
        divisor = parse_quantity(raw)
    except QuantityError:
        return False
    if divisor.value == 1:
        return True
    if resource.endswith(".cpu"):
        return divisor.value == parse_quantity("1m").value and divisor.format == "DecimalSI"
    if divisor.value.adjusted() > 18 or divisor.value != int(divisor.value):
        return False
    whole = int(divisor.value)
    return (divisor.format == "DecimalSI" and whole in _DECIMAL_DIVISORS) or (
        divisor.format == "BinarySI" and whole in _BINARY_DIVISORS
    )
