"""The string formats the Kubernetes API server checks, as its apimachinery validation defines them.

Each function returns the API server's complaints about a value (empty when it is valid), so a
template is refused with the reason the API server would give, before any workload meets it.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_KEY_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_HTTP_HEADER_NAME = re.compile(r"[-A-Za-z0-9]+")


def dns_label(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not DNS1123_LABEL.fullmatch(value):
        errors.append(
            "must not contain dots"
            if DNS1123_SUBDOMAIN.fullmatch(value)
            else "must be a DNS-1123 label: lower case alphanumeric characters or '-', "
            "starting and ending with an alphanumeric character (e.g. 'my-name')"
        )
    return errors


def dns_subdomain(value: str) -> list[str]:
    errors = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not DNS1123_SUBDOMAIN.fullmatch(value):
        errors.append(
            "must be a DNS-1123 subdomain: lower case alphanumeric characters, '-' or '.', "
            "starting and ending with an alphanumeric character (e.g. 'example.com')"
        )
    return errors


def object_name(value: str, prefix: bool = False) -> list[str]:
    """A ConfigMap or Secret name; ``prefix`` allows a trailing '-' (a name used for generation)."""
    if prefix and value.endswith("-"):
        value = value[:-1] + "a"
    return dns_subdomain(value)


def qualified_name(value: str) -> list[str]:
    """A label key, an annotation key, a resource name: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["must be a name with an optional DNS subdomain prefix and '/' (e.g. 'example.com/my-name')"]
    errors = []
    if len(parts) == 2:
        if not parts[0]:
            errors.append("prefix part must be non-empty")
        errors += [f"prefix part {message}" for message in dns_subdomain(parts[0]) if parts[0]]
    name = parts[-1]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if name and not _LABEL_KEY_NAME.fullmatch(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return errors


def label_value(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    if value and not _LABEL_KEY_NAME.fullmatch(value):
        errors.append(
            "must be empty or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return errors


def port_name(value: str) -> list[str]:
    """An IANA service name, as ports and probe ports use it."""
    errors = ["must be no more than 15 characters"] if len(value) > 15 else []
    if not _PORT_NAME_CHARS.fullmatch(value):
        errors.append("must contain only lower case alphanumeric characters and '-'")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def env_var_name(value: str, relaxed: bool) -> list[str]:
    """Relaxed (Kubernetes 1.32+ by default): any printable ASCII but '='; else a C-like identifier."""
    if relaxed:
        if not value:
            return ["must be non-empty"]
        if any(not (" " <= c <= "~") or c == "=" for c in value):
            return ["must consist only of printable ASCII characters other than '='"]
        return []
    errors = []
    if not _ENV_VAR_NAME.fullmatch(value):
        errors.append(
            "must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
        )
    return errors + _dot_prefix(value)


def config_map_key(value: str) -> list[str]:
    errors = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not _CONFIG_MAP_KEY.fullmatch(value):
        errors.append("must consist of alphanumeric characters, '-', '_' or '.'")
    return errors + _dot_prefix(value)


def http_header_name(value: str) -> list[str]:
    return [] if _HTTP_HEADER_NAME.fullmatch(value) else ["must consist of alphanumeric characters or '-'"]


def no_backsteps(path: str) -> list[str]:
    return ["must not contain '..'"] if ".." in path.split("/") else []


def relative_path(path: str) -> list[str]:
    """``validateLocalDescendingPath``: relative, without '..' elements."""
    return (["must be a relative path"] if path.startswith("/") else []) + no_backsteps(path)


def relative_unreserved_path(path: str) -> list[str]:
    """``ValidateLocalNonReservedPath``: relative, no '..' element, not starting with '..'."""
    errors = relative_path(path)
    if path.startswith("..") and not path.startswith("../"):
        errors.append("must not start with '..'")
    return errors


def _dot_prefix(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"must not be {value!r}"]
    return ["must not start with '..'"] if value.startswith("..") else []
