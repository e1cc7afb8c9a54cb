"""Probes and lifecycle hooks, as the API server validates them after applying its defaults.

Defaults first: an empty ``httpGet.path`` becomes ``/``, an empty scheme ``HTTP``, a zero
``successThreshold`` 1; only what is still wrong after that is reported.
"""

from __future__ import annotations

from typing import Any

from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, entries, integer, mapping, present, text
from webhook.templates.k8s_formats import http_header_name, port_name, port_number

PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_COUNTS = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")


def check_probe(probe: Any, path: FieldPath, findings: Findings, kind: str) -> None:
    """``kind``: the container field, one of PROBES."""
    _check_handler(probe, path, findings, PROBE_HANDLERS, sleep_zero_allowed=True)
    for field in _COUNTS:
        value = integer(probe, field)
        if value is not None and value < 0:
            findings.add((*path, field), "must be greater than or equal to 0")
    success = integer(probe, "successThreshold")
    if kind in ("livenessProbe", "startupProbe") and success not in (None, 0, 1):
        findings.add((*path, "successThreshold"), "must be 1")
    grace = mapping(probe).get("terminationGracePeriodSeconds")
    if kind == "readinessProbe" and grace is not None:
        findings.add((*path, "terminationGracePeriodSeconds"), "must not be set for readiness probes")
    elif isinstance(grace, int) and grace <= 0:
        findings.add((*path, "terminationGracePeriodSeconds"), "must be greater than 0")


def check_lifecycle(lifecycle: Any, path: FieldPath, findings: Findings, sleep_zero_allowed: bool) -> None:
    for hook in ("postStart", "preStop"):
        if present(lifecycle, hook):
            _check_handler(
                mapping(lifecycle)[hook], (*path, hook), findings, LIFECYCLE_HANDLERS, sleep_zero_allowed
            )


def check_port(port: Any, path: FieldPath, findings: Findings) -> None:
    """An IntOrString port: a number 1-65535 or an IANA port name (unset reads as 0)."""
    if isinstance(port, str):
        findings.extend(path, port_name(port))
    elif isinstance(port, int) and not isinstance(port, bool):
        findings.extend(path, port_number(port))
    elif port is None:
        findings.add(path, "required: a port number or name")


def _check_handler(
    handler: Any, path: FieldPath, findings: Findings, kinds: tuple[str, ...], sleep_zero_allowed: bool
) -> None:
    found = [kind for kind in kinds if present(handler, kind)]
    if not found:
        findings.add(path, f"must specify exactly one handler: {', '.join(kinds)}")
        return
    for extra in found[1:]:
        findings.add((*path, extra), f"may not specify more than one handler (already has {found[0]})")
    kind, action = found[0], mapping(handler)[found[0]]
    action_path = (*path, kind)
    if kind == "exec" and not entries(mapping(action).get("command")):
        findings.add((*action_path, "command"), "required")
    elif kind == "httpGet":
        check_port(mapping(action).get("port"), (*action_path, "port"), findings)
        scheme = text(action, "scheme")
        if scheme not in (None, "", "HTTP", "HTTPS"):
            findings.add((*action_path, "scheme"), f"{show(scheme)} is not supported; use HTTP or HTTPS")
        for index, header in enumerate(entries(mapping(action).get("httpHeaders"))):
            findings.extend(
                (*action_path, "httpHeaders", index, "name"), http_header_name(text(header, "name") or "")
            )
    elif kind in ("tcpSocket", "grpc"):
        check_port(mapping(action).get("port"), (*action_path, "port"), findings)
    elif kind == "sleep":
        seconds = integer(action, "seconds")
        if seconds is not None and (seconds < 0 or (seconds == 0 and not sleep_zero_allowed)):
            bound = "0 or more" if sleep_zero_allowed else "greater than 0"
            findings.add((*action_path, "seconds"), f"must be {bound}")
