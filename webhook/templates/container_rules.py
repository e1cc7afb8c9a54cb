"""One container of a template, checked as the API server's ``validateContainerCommon`` and friends do.

``kind`` says where the container ends up: ``container`` (an app-level container), ``init`` (a
regular init container, which may not have probes or lifecycle hooks) or ``sidecar`` (an init
container with ``restartPolicy: Always``, i.e. a native sidecar).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.templates.env_rules import check_env, check_env_from
from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, entries, integer, mapping, present, text
from webhook.templates.k8s_formats import port_name, port_number, relative_path
from webhook.templates.probe_rules import PROBES, check_lifecycle, check_probe
from webhook.templates.resource_rules import check_resources

_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """What depends on the Kubernetes version the templates are checked for."""

    relaxed_env_names: bool = True  # RelaxedEnvironmentVariableValidation, on by default since 1.32
    sleep_zero_allowed: bool = True  # PodLifecycleSleepActionAllowZero, on by default since 1.33

    @classmethod
    def for_version(cls, version: str) -> RuleOptions:
        try:
            minor = int(version.split(".")[1])
        except (IndexError, ValueError):
            return cls()
        return cls(relaxed_env_names=minor >= 32, sleep_zero_allowed=minor >= 33)


def check_container(
    container: Any,
    path: FieldPath,
    findings: Findings,
    kind: str,
    volumes: Mapping[str, Any],
    options: RuleOptions,
) -> None:
    image = text(container, "image")
    if image and image != image.strip():
        findings.add((*path, "image"), "must not have leading or trailing whitespace")
    _one_of(container, "imagePullPolicy", _PULL_POLICIES, path, findings)
    _one_of(container, "terminationMessagePolicy", _MESSAGE_POLICIES, path, findings)
    c = mapping(container)
    _check_ports(c.get("ports"), (*path, "ports"), findings)
    check_env(c.get("env"), (*path, "env"), findings, options.relaxed_env_names)
    check_env_from(c.get("envFrom"), (*path, "envFrom"), findings, options.relaxed_env_names)
    devices = {text(d, "name"): text(d, "devicePath") for d in entries(c.get("volumeDevices"))}
    privileged = mapping(c.get("securityContext")).get("privileged") is True
    check_mounts(c.get("volumeMounts"), (*path, "volumeMounts"), findings, volumes, privileged, devices)
    mounts = {text(m, "name"): text(m, "mountPath") for m in entries(c.get("volumeMounts"))}
    _check_devices(c.get("volumeDevices"), (*path, "volumeDevices"), findings, volumes, mounts)
    check_resources(c.get("resources"), (*path, "resources"), findings)
    _check_resize_policy(c.get("resizePolicy"), (*path, "resizePolicy"), findings)
    _check_security_context(c.get("securityContext"), (*path, "securityContext"), findings)
    _check_restart_and_hooks(c, path, findings, kind, options)


def check_mounts(
    mounts: Any,
    path: FieldPath,
    findings: Findings,
    volumes: Mapping[str, Any],
    privileged: bool | None,
    devices: Mapping[str | None, str | None] | None = None,
) -> None:
    """``privileged`` None: the container is not known yet (a template's mounts for app containers)."""
    device_paths = set((devices or {}).values())
    seen: set[str] = set()
    for index, mount in enumerate(entries(mounts)):
        item = (*path, index)
        name, mount_path = text(mount, "name"), text(mount, "mountPath")
        findings.extend((*item, "name"), [] if name else ["required"])
        if not mount_path:
            findings.add((*item, "mountPath"), "required")
        elif mount_path in seen:
            findings.add(
                (*item, "mountPath"), f"duplicate mountPath {show(mount_path)}: mount paths must be unique"
            )
        seen.add(mount_path or "")
        if name and name in (devices or {}):
            findings.add((*item, "name"), "must not also be used in volumeDevices")
        if mount_path and mount_path in device_paths:
            findings.add((*item, "mountPath"), "must not also be a devicePath in volumeDevices")
        _check_sub_paths(mount, item, findings, present(volumes.get(name or ""), "image"))
        _check_propagation(mount, item, findings, privileged)


def _check_sub_paths(mount: Any, item: FieldPath, findings: Findings, image_volume: bool) -> None:
    for field in ("subPath", "subPathExpr"):
        value = text(mount, field)
        if value:
            findings.extend((*item, field), relative_path(value))
            if image_volume:
                findings.add((*item, field), "not allowed for an image volume")
    if text(mount, "subPath") and text(mount, "subPathExpr"):
        findings.add((*item, "subPathExpr"), "subPathExpr and subPath are mutually exclusive")


def _check_propagation(mount: Any, item: FieldPath, findings: Findings, privileged: bool | None) -> None:
    propagation = mapping(mount).get("mountPropagation")
    if propagation is not None and propagation not in _PROPAGATIONS:
        findings.add(
            (*item, "mountPropagation"), f"{show(propagation)} is not one of {', '.join(_PROPAGATIONS)}"
        )
    if propagation == "Bidirectional" and privileged is False:
        findings.add(
            (*item, "mountPropagation"),
            "Bidirectional propagation is available only to privileged containers",
        )
    recursive = mapping(mount).get("recursiveReadOnly")
    if recursive in ("Enabled", "IfPossible"):
        if mapping(mount).get("readOnly") is not True:
            findings.add((*item, "recursiveReadOnly"), "may only be set when readOnly is true")
        if propagation not in (None, "None"):
            findings.add(
                (*item, "recursiveReadOnly"), "may only be set when mountPropagation is None or unset"
            )
    elif recursive not in (None, "Disabled"):
        findings.add(
            (*item, "recursiveReadOnly"), f"{show(recursive)} is not one of Disabled, Enabled, IfPossible"
        )


def _check_devices(
    devices: Any,
    path: FieldPath,
    findings: Findings,
    volumes: Mapping[str, Any],
    mounts: Mapping[str | None, str | None],
) -> None:
    names: set[str] = set()
    paths: set[str] = set()
    for index, device in enumerate(entries(devices)):
        item = (*path, index)
        name, device_path = text(device, "name"), text(device, "devicePath")
        if not name:
            findings.add((*item, "name"), "required")
        elif name in names:
            findings.add((*item, "name"), "must be unique")
        elif name in volumes and not (
            present(volumes[name], "persistentVolumeClaim") or present(volumes[name], "ephemeral")
        ):
            findings.add((*item, "name"), "block devices need a persistentVolumeClaim or ephemeral volume")
        if not device_path:
            findings.add((*item, "devicePath"), "required")
        elif device_path in paths:
            findings.add((*item, "devicePath"), "must be unique")
        elif ".." in device_path.split("/"):
            findings.add((*item, "devicePath"), "must not contain '..'")
        if device_path and device_path in set(mounts.values()):
            findings.add((*item, "devicePath"), "must not also be a mountPath in volumeMounts")
        names.add(name or "")
        paths.add(device_path or "")


def _check_ports(ports: Any, path: FieldPath, findings: Findings) -> None:
    names: set[str] = set()
    for index, port in enumerate(entries(ports)):
        item = (*path, index)
        name = text(port, "name")
        if name:
            errors = port_name(name)
            findings.extend(
                (*item, "name"), errors or ([f"duplicate port name {show(name)}"] if name in names else [])
            )
            names.add(name)
        container_port = integer(port, "containerPort")
        if container_port is not None:
            findings.extend(
                (*item, "containerPort"), port_number(container_port) if container_port else ["required"]
            )
        host_port = integer(port, "hostPort")
        if host_port:
            findings.extend((*item, "hostPort"), port_number(host_port))
        protocol = text(port, "protocol")
        if protocol and protocol not in _PROTOCOLS:
            findings.add((*item, "protocol"), f"{show(protocol)} is not one of {', '.join(_PROTOCOLS)}")


def _check_resize_policy(policies: Any, path: FieldPath, findings: Findings) -> None:
    seen: set[str] = set()
    for index, policy in enumerate(entries(policies)):
        resource, restart = text(policy, "resourceName"), text(policy, "restartPolicy")
        if not resource or resource not in ("cpu", "memory"):
            findings.add((*path, index, "resourceName"), f"{show(resource)} is not one of cpu, memory")
        elif resource in seen:
            findings.add((*path, index, "resourceName"), f"duplicate resource {show(resource)}")
        seen.add(resource or "")
        if restart not in ("NotRequired", "RestartContainer"):
            findings.add(
                (*path, index, "restartPolicy"),
                f"{show(restart)} is not one of NotRequired, RestartContainer",
            )


def _check_security_context(context: Any, path: FieldPath, findings: Findings) -> None:
    sc = mapping(context)
    for field in ("runAsUser", "runAsGroup"):
        value = integer(sc, field)
        if value is not None and not 0 <= value <= 0xFFFFFFFF:
            findings.add((*path, field), "must be between 0 and 4294967295, inclusive")
    _one_of(sc, "procMount", ("Default", "Unmasked"), path, findings)
    for field in ("seccompProfile", "appArmorProfile"):
        if present(sc, field):
            _check_profile(sc[field], (*path, field), findings)
    if sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged") is True:
            findings.add(path, "cannot set allowPrivilegeEscalation to false and privileged to true")
        if "CAP_SYS_ADMIN" in entries(mapping(sc.get("capabilities")).get("add")):
            findings.add(
                path, "cannot set allowPrivilegeEscalation to false and add the capability CAP_SYS_ADMIN"
            )


def _check_profile(profile: Any, path: FieldPath, findings: Findings) -> None:
    kind = text(profile, "type")
    if kind not in _PROFILE_TYPES:
        findings.add((*path, "type"), f"{show(kind)} is not one of {', '.join(_PROFILE_TYPES)}")
    local = text(profile, "localhostProfile")
    if kind == "Localhost" and not local:
        findings.add((*path, "localhostProfile"), "must be set when the type is Localhost")
    elif kind == "Localhost" and local and path[-1] == "seccompProfile":
        findings.extend((*path, "localhostProfile"), relative_path(local))
    elif kind != "Localhost" and present(profile, "localhostProfile"):
        findings.add((*path, "localhostProfile"), "can only be set when the type is Localhost")


def _check_restart_and_hooks(
    c: Mapping[str, Any], path: FieldPath, findings: Findings, kind: str, options: RuleOptions
) -> None:
    restart = c.get("restartPolicy")
    if kind == "container" and restart is not None:
        findings.add(
            (*path, "restartPolicy"), "may not be set for containers; only init containers take Always"
        )
    elif kind != "container" and restart not in (None, "Always"):
        findings.add((*path, "restartPolicy"), f"{show(restart)} is not supported; the only value is Always")
    for field in (*PROBES, "lifecycle"):
        if not present(c, field):
            continue
        if kind == "init":
            findings.add((*path, field), "may not be set for init containers without restartPolicy: Always")
        elif field == "lifecycle":
            check_lifecycle(c[field], (*path, field), findings, options.sleep_zero_allowed)
        else:
            check_probe(c[field], (*path, field), findings, field)


def _one_of(obj: Any, field: str, allowed: tuple[str, ...], path: FieldPath, findings: Findings) -> None:
    value = mapping(obj).get(field)
    if value not in (None, "", *allowed):
        findings.add((*path, field), f"{show(value)} is not one of {', '.join(allowed)}")
