"""Everything the API server would refuse in a template that is decidable from the template alone.

Runs every check and returns every finding: a user fixes a template in one round, not one error per
round. The schema (``schema.py``) has already checked types and field names; these are the rules the
API server's Go validation adds on top (``pkg/apis/core/validation``), plus our own: an image for
every container, unique names and mount paths, and a mount path or env name given once.

A template mount (of a container or for the app containers) may name a volume the template does
not define: the workload may have it. Whether it does is only known at injection time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.templates.container_rules import RuleOptions, check_container, check_mounts
from webhook.templates.env_rules import check_env
from webhook.templates.errors import show
from webhook.templates.findings import Findings, entries, integer, mapping, text
from webhook.templates.k8s_formats import dns_label
from webhook.templates.metadata_rules import check_annotations, check_labels
from webhook.templates.volume_rules import check_volume


def check_template(parts: Mapping[str, Any], native_sidecars: bool, options: RuleOptions) -> Findings:
    """``parts``: the template's fields, lists and maps already known to be lists and maps."""
    findings = Findings()
    _check_names(parts, findings)
    volumes = {name: volume for volume in parts["volumes"] if (name := text(volume, "name"))}
    for field in ("containers", "initContainers"):
        for index, container in enumerate(parts[field]):
            kind = _kind(field, container, native_sidecars)
            check_container(container, (field, index), findings, kind, volumes, options)
    _check_host_ports(parts, native_sidecars, findings)
    for index, volume in enumerate(parts["volumes"]):
        check_volume(volume, ("volumes", index), findings)
    check_env(parts["env"], ("env",), findings, options.relaxed_env_names)
    check_mounts(parts["volumeMounts"], ("volumeMounts",), findings, volumes, privileged=None)
    check_annotations(parts["annotations"], ("annotations",), findings)
    check_labels(parts["labels"], ("labels",), findings)
    return findings


def _kind(field: str, container: Any, native_sidecars: bool) -> str:
    if field == "containers":
        return "sidecar" if native_sidecars else "container"
    return "sidecar" if mapping(container).get("restartPolicy") == "Always" else "init"


def _check_names(parts: Mapping[str, Any], findings: Findings) -> None:
    seen: set[str] = set()
    for field in ("containers", "initContainers", "volumes"):
        group = "volume" if field == "volumes" else "container"
        for index, item in enumerate(parts[field]):
            name = mapping(item).get("name")  # the schema lets a null through
            if not isinstance(name, str) or not name:
                findings.add((field, index, "name"), "required")
                continue
            findings.extend((field, index, "name"), [f"{show(name)} {m}" for m in dns_label(name)])
            if f"{group}:{name}" in seen:
                findings.add((field, index, "name"), f"duplicate {group} name {show(name)}")
            seen.add(f"{group}:{name}")
    for field in ("containers", "initContainers"):
        for index, item in enumerate(parts[field]):
            if not mapping(item).get("image"):
                findings.add((field, index, "image"), "an injected container needs an image")
    for index, item in enumerate(parts["imagePullSecrets"]):
        if not mapping(item).get("name"):  # optional in the schema, but a reference to nothing is a mistake
            findings.add(("imagePullSecrets", index, "name"), "an image pull secret needs a name")
    names = [mapping(item).get("name") for item in parts["env"]]
    for index, name in enumerate(names):
        if isinstance(name, str) and name and name in names[:index]:
            findings.add(("env", index, "name"), f"duplicate name {show(name)}")


def _check_host_ports(parts: Mapping[str, Any], native_sidecars: bool, findings: Findings) -> None:
    """Host ports must not collide: across app containers, and within each init container."""
    shared: set[tuple[str, str, int]] = set()
    for field in ("containers", "initContainers"):
        for index, container in enumerate(parts[field]):
            own: set[tuple[str, str, int]] = set()
            pool = shared if _kind(field, container, native_sidecars) == "container" else own
            for number, port in enumerate(entries(mapping(container).get("ports"))):
                host_port = integer(port, "hostPort")
                if not host_port:
                    continue
                key = (text(port, "protocol") or "TCP", text(port, "hostIP") or "", host_port)
                if key in pool:
                    findings.add(
                        (field, index, "ports", number, "hostPort"), f"duplicate host port {key[2]}/{key[0]}"
                    )
                pool.add(key)
