"""Option value types that refuse a bad value at once, with a reason rather than a traceback later.

Each is a callable argparse runs on the option's text; an ArgumentTypeError becomes the usual
"usage: …" plus "error: argument --days: …" and exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import math
import re
from collections.abc import Callable

from webhook.core.model import AcceptedAnnotations

# RFC 1123 label: what Kubernetes requires of namespace and Service names.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bounds}")
        return value

    parse.__name__ = "integer"
    return parse


def seconds(minimum: float, *, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds")
        if value < minimum or (value == minimum and not inclusive):
            bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bound} seconds")
        return value

    parse.__name__ = "seconds"
    return parse


port = integer(1, 65535)
port_or_zero = integer(0, 65535)


def dns_label(text: str) -> str:
    """A namespace or Service name as Kubernetes accepts it."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    if len(text) > 63 or not _DNS_LABEL.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid name: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return text


def dns_name_or_ip(text: str) -> str:
    """A subject alternative name: an IP address, or a DNS name (its first label may be '*')."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.lower().split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(text) > 253 or not labels or not all(len(x) <= 63 and _DNS_LABEL.match(x) for x in labels):
        raise argparse.ArgumentTypeError(f"{text!r} is neither an IP address nor a DNS name")
    return text


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# The formats whose annotations serve may accept (webhook.convert.accept.ACCEPTABLE; a test keeps
# them equal), written here so that --help does not load the converters.
ACCEPTABLE_ANNOTATIONS = ("tumblr", "expedia", "salesforce")


def accepted_formats(text: str) -> tuple[AcceptedAnnotations, ...]:
    """``tumblr,expedia,salesforce=PATH``: each an injector whose opt-in annotations count as ours,
    salesforce with its mutation config (read now, so that a bad file is a usage error)."""
    names: list[str] = []
    configs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        name, _, config = (s.strip() for s in part.partition("="))
        if not name:
            continue
        if config and configs.setdefault(name, config) != config:
            raise argparse.ArgumentTypeError(f"{name} is given twice: it reads one configuration")
        names.append(name)
    unknown = [n for n in dict.fromkeys(names) if n not in ACCEPTABLE_ANNOTATIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            "expected a comma-separated list of tumblr, expedia, salesforce=PATH"
            + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    from webhook.convert.accept import accepted_annotations

    try:
        return accepted_annotations(names, configs)
    except ValueError as exc:  # ConversionError too: the configuration cannot be read
        raise argparse.ArgumentTypeError(" ".join(str(exc).split())) from None


def log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


@functools.cache
def _kubernetes_versions() -> tuple[str, ...]:
    from kubernetes_validate.utils import all_versions

    found = {tuple(int(p) for p in v.split(".")[:2]) for v in all_versions()}
    return tuple(f"{major}.{minor}" for major, minor in sorted(found))


def kubernetes_version(text: str) -> str:
    """A Kubernetes minor version whose schemas kubernetes-validate ships (``1.33``)."""
    known = _kubernetes_versions()
    if text not in known:
        raise argparse.ArgumentTypeError(f"{text!r} is not a known version: one of {known[0]} to {known[-1]}")
    return text
