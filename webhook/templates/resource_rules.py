"""Container resource requirements, checked as the API server's ``validateResourceRequirements`` does.

Quantity syntax, non-negative values, resource names, requests no higher than limits, requests equal
to limits for resources that cannot be overcommitted (extended resources, huge pages), integer
extended resources, and huge pages that are whole pages and come with cpu or memory.
"""

from __future__ import annotations

from typing import Any

from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, entries, mapping, text
from webhook.templates.k8s_formats import dns_label, qualified_name
from webhook.templates.quantity import Quantity, QuantityError, is_whole, parse_quantity, whole_multiple

STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
HUGEPAGES = "hugepages-"


def check_quantity(
    raw: Any, path: FieldPath, findings: Findings, *, positive: bool = False
) -> Quantity | None:
    """The quantity at ``path``, or None after reporting why it is not one (null counts as unset)."""
    if raw is None:
        return None
    try:
        quantity = parse_quantity(raw)
    except QuantityError as exc:
        findings.add(path, f"{show(raw)} is not a valid quantity: {exc}")
        return None
    if positive and quantity.value <= 0:
        findings.add(path, "must be greater than zero")
    elif quantity.value < 0:
        findings.add(path, "must be greater than or equal to 0")
    return quantity


def check_resources(resources: Any, path: FieldPath, findings: Findings) -> None:
    limits_raw, requests_raw = (
        mapping(mapping(resources).get("limits")),
        mapping(mapping(resources).get("requests")),
    )
    limits = {
        name: q
        for name, raw in limits_raw.items()
        if (q := _entry(name, raw, (*path, "limits", name), findings)) is not None
    }
    for name, raw in requests_raw.items():
        request = _entry(name, raw, (*path, "requests", name), findings)
        if request is None:
            continue
        limit = limits.get(name)
        if limit is not None and not _overcommit_allowed(name) and request.value != limit.value:
            findings.add(
                (*path, "requests", name), f"must be equal to the {name} limit of {show(limits_raw[name])}"
            )
        elif limit is not None and request.value > limit.value:
            findings.add(
                (*path, "requests", name),
                f"must be less than or equal to the {name} limit of {show(limits_raw[name])}",
            )
        elif name not in limits_raw and not _overcommit_allowed(name):
            findings.add(
                (*path, "limits"), f"must set {name}: a resource that cannot be overcommitted needs a limit"
            )
    names = {*limits_raw, *requests_raw}
    if any(n.startswith(HUGEPAGES) for n in names) and not names & {"cpu", "memory"}:
        findings.add(path, "huge pages require a cpu or memory request or limit")
    _check_claims(mapping(resources).get("claims"), (*path, "claims"), findings)


def _entry(name: str, raw: Any, path: FieldPath, findings: Findings) -> Quantity | None:
    findings.extend(path, _resource_name(name))
    quantity = check_quantity(raw, path, findings)
    if quantity is None:
        return None
    if _extended(name) and not is_whole(quantity.value):
        findings.add(path, "must be an integer")
    if name.startswith(HUGEPAGES) and not _whole_pages(name, quantity):
        findings.add(path, f"{show(raw)} is not a positive integer multiple of the page size of {name}")
    return quantity


def _resource_name(name: str) -> list[str]:
    errors = qualified_name(name)
    if errors:
        return [f"resource name {show(name)} {message}" for message in errors]
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not name.startswith(HUGEPAGES):
            return [
                f"{show(name)} is not a standard resource for containers "
                "(cpu, memory, ephemeral-storage, hugepages-<size>) nor a domain-qualified extended resource"
            ]
    elif not _native(name) and not _extended(name):
        return [f"{show(name)} does not follow the extended resource name standard"]
    return []


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _extended(name: str) -> bool:
    return not _native(name) and not name.startswith("requests.") and not qualified_name(f"requests.{name}")


def _overcommit_allowed(name: str) -> bool:
    return _native(name) and not name.startswith(HUGEPAGES)


def _whole_pages(name: str, quantity: Quantity) -> bool:
    try:
        page = parse_quantity(name[len(HUGEPAGES) :])
    except QuantityError:
        return False
    if page.value <= 0 or not is_whole(page.value):
        return False
    return whole_multiple(quantity.value, page.value)


def _check_claims(claims: Any, path: FieldPath, findings: Findings) -> None:
    seen: set[str] = set()
    for index, claim in enumerate(entries(claims)):
        name = text(claim, "name")
        if not name:
            findings.add((*path, index, "name"), "required")
            continue
        request = text(claim, "request")
        if request:
            findings.extend((*path, index, "request"), dns_label(request))
        key = f"{name}/{request}" if request else name
        if key in seen or name in seen:
            findings.add((*path, index), f"duplicate claim {show(key)}")
        seen.add(key)
