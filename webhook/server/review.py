"""Pure: AdmissionReview v1 envelopes in and out.

A body that is not a usable AdmissionReview raises ``Refusal(400, "bad-envelope", …)`` naming the
first bad field (refusal.py). An object the engine refuses is answered with a normal AdmissionReview
whose status carries the InjectionError's own code and reason.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import orjson

from webhook.core import AdmissionFacts, InjectionError, MutationResult
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.core.workloads import locate_pod_template
from webhook.server.refusal import Refusal

API_VERSION = "admission.k8s.io/v1"

# kube-apiserver truncates long warnings; keep ours readable in kubectl.
MAX_WARNING_LENGTH = 256
MAX_WARNINGS = 20
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


NamespaceFacts = Callable[[str], tuple[PodSecurityLevel | None, NamespaceMetadata | None]]
"""Namespace → its Pod Security level and its labels and annotations, each None when unknown."""


class ResponseStatus(TypedDict):
    code: int
    message: str
    reason: NotRequired[str]


class AdmissionResponse(TypedDict):
    uid: str
    allowed: bool
    patchType: NotRequired[str]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]
    status: NotRequired[ResponseStatus]


@dataclass(frozen=True, slots=True, init=False)
class ParsedReview:
    """A review whose envelope was read, waiting to be decided."""

    facts: AdmissionFacts
    reviewed: Any
    """The object under review, as the request carried it (None for a DELETE or CONNECT without one)."""
    containers: int
    """Containers in the object's pod template: the engine's work grows with them."""

    def __init__(self, facts: AdmissionFacts, reviewed: Any, containers: int) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "facts", facts)
        object.__setattr__(self, "reviewed", reviewed)
        object.__setattr__(self, "containers", containers)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _lone_surrogates(value: Any) -> bool:
    """Whether any string (key or value) holds half of a UTF-16 surrogate pair, e.g. from ``"\\ud800"``."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no duplicate keys, no NaN/Infinity, finite numbers, bounded depth,
    no lone surrogates; raises a bad-envelope Refusal saying what is wrong.

    Duplicate keys are refused because two parsers that pick different duplicates see different
    objects. orjson has no way to report them, so a body is taken from orjson only when it is the
    very encoding of what orjson read, written as orjson or as Go's encoding/json writes it (as
    kube-apiserver sends it): an encoding of a value has one member per key, so such a body has no
    duplicate. Any other body, valid or not, goes through the stdlib parser with a pairs hook (about
    six times orjson's cost, docs/design.md "The hot path"), which decides and says why.
    """
    value = _read_canonical(body)
    return value if value is not _NOT_CANONICAL else _decode_strictly(body)


_NOT_CANONICAL: Any = object()
# Go's encoding/json escapes these (HTML safety; the JavaScript line separators), orjson does not.
_GO_ESCAPES = [(b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026")]
_GO_ESCAPES += [(c.encode(), f"\\u{ord(c):04x}".encode()) for c in "\u2028\u2029"]


def _read_canonical(body: bytes) -> Any:
    """What orjson reads from ``body`` when ``body`` is its canonical encoding, else _NOT_CANONICAL.

    orjson refuses what the strict parser refuses (bad UTF-8, lone surrogates, NaN, infinite
    numbers) or reads it into a value whose encoding differs (a big integer becomes a float), and it
    encodes no deeper than 254 levels, so only bodies the strict parser reads the same way pass.
    """
    try:
        value = orjson.loads(body)
        encoded = orjson.dumps(value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _NOT_CANONICAL
    sent = body.rstrip(b" \t\r\n")  # a Go encoder ends the body with a newline
    if encoded != sent and b"\\u" in sent:
        for raw, escaped in _GO_ESCAPES:
            encoded = encoded.replace(raw, escaped)
    return value if encoded == sent else _NOT_CANONICAL


def _decode_strictly(body: bytes) -> Any:
    """The stdlib parser, refusing duplicates as it reads. A lone surrogate escape decodes to a
    string that is not Unicode text and that orjson refuses to encode into the answer; the strings
    are searched for one only when the body has a surrogate escape at all."""
    try:
        text = body.decode("utf-8")
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_no_constants
        )
        if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _lone_surrogates(value):
            raise _bad("request body is not valid JSON: a \\u escape is a lone surrogate")
        return value
    except UnicodeDecodeError as undecodable:
        raise _bad(f"request body is not valid JSON: not UTF-8 at byte {undecodable.start}") from undecodable
    except RecursionError as too_deep:
        raise _bad("request body is not valid JSON: nested too deeply") from too_deep
    except ValueError as invalid:
        raise _bad(f"request body is not valid JSON: {invalid}") from invalid


def parse_review(body: bytes, namespace_facts: NamespaceFacts | None = None) -> ParsedReview:
    """Decode and check the envelope; raises a bad-envelope Refusal naming the first bad field.

    ``namespace_facts`` adds what the server knows of the review's namespace to its facts, which
    are built once: a second, ``dataclasses.replace``'d copy cost 6 % of a reference review."""
    review = decode_json(body)
    if not isinstance(review, dict):
        raise _bad("request body must be a JSON object (an AdmissionReview)")
    if review.get("kind") != "AdmissionReview" or review.get("apiVersion") != API_VERSION:
        raise _bad(f"expected kind AdmissionReview with apiVersion {API_VERSION}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise _bad("request: missing or not an object")
    uid, kind_name, operation, namespace, name, dry_run, sub_resource = _request_fields(request)
    # DELETE and CONNECT reviews carry no object (DELETE sends oldObject): the engine admits them
    # before looking at it, so only CREATE and UPDATE need one.
    obj = request.get("object")
    if operation in ("CREATE", "UPDATE") and not isinstance(obj, dict):
        raise _bad(f"request.object: a {operation} review must carry the object")
    if not namespace and isinstance(obj, dict):
        metadata = obj.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("namespace"), str):
            namespace = metadata["namespace"]
    level, metadata = namespace_facts(namespace) if namespace_facts is not None else (None, None)
    facts = AdmissionFacts(uid, operation, kind_name, namespace, name, dry_run, sub_resource, level, metadata)
    return ParsedReview(facts, obj, _containers_in(obj, kind_name))


def _containers_in(obj: Any, kind: str) -> int:
    tokens = locate_pod_template(kind)
    node = obj
    for token in (*tokens, "spec") if tokens is not None else ():
        node = node.get(token) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return 0
    containers, init_containers = node.get("containers"), node.get("initContainers")
    return (len(containers) if isinstance(containers, list) else 0) + (
        len(init_containers) if isinstance(init_containers, list) else 0
    )


_Fields = tuple[str, str, str, str, str, bool, str]


def _request_fields(request: dict[str, Any]) -> _Fields:
    """uid, kind.kind, operation, namespace, name, dryRun and subResource (absent ones empty);
    raises naming the first bad field."""
    uid = _field(request, "uid", str)
    if not uid:
        raise _bad("request.uid: must not be empty")
    kind = _field(request, "kind", dict)
    kind_name = kind.get("kind")
    if not isinstance(kind_name, str) or not kind_name:
        raise _bad("request.kind.kind: missing or not a string")
    operation = _field(request, "operation", str)
    namespace = _field(request, "namespace", str, required=False) or ""
    name = _field(request, "name", str, required=False) or ""
    dry_run = _field(request, "dryRun", bool, required=False) or False
    sub_resource = _field(request, "subResource", str, required=False) or ""
    return uid, kind_name, operation, namespace, name, dry_run, sub_resource


def _bad(message: str) -> Refusal:
    return Refusal(400, "bad-envelope", message)


def _field(request: dict[str, Any], key: str, kind: type, *, required: bool = True) -> Any:
    value = request.get(key)
    if value is None:
        if required:
            raise _bad(f"request.{key}: missing")
        return None
    if not isinstance(value, kind):
        raise _bad(f"request.{key}: expected {_json_type(kind)}, found {_json_type(type(value))}")
    return value


def _json_type(kind: type) -> str:
    names = {str: "a string", dict: "an object", bool: "a boolean", list: "an array", int: "a number"}
    return names.get(kind, kind.__name__)


def allow(uid: str, result: MutationResult) -> AdmissionResponse:
    response: AdmissionResponse = {"uid": uid, "allowed": True}
    if result.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(list(result.patch))).decode()
    if result.warnings:
        response["warnings"] = _trim(result.warnings)
    return response


def deny(uid: str, error: InjectionError) -> AdmissionResponse:
    return {
        "uid": uid,
        "allowed": False,
        "status": {"code": error.code, "message": error.message, "reason": error.reason},
    }


def internal_failure(uid: str, allowed: bool) -> AdmissionResponse:
    response: AdmissionResponse = {"uid": uid, "allowed": allowed}
    message = f"sidecar injector failed internally on review {uid}; see its logs"
    if allowed:
        response["warnings"] = [message + "; admitted without injection"]
    else:
        response["status"] = {"code": 500, "message": message, "reason": "internal-error"}
    return response


def encode_review(response: AdmissionResponse) -> bytes:
    return orjson.dumps({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response})


def _trim(warnings: tuple[str, ...]) -> list[str]:
    trimmed = [w if len(w) <= MAX_WARNING_LENGTH else w[: MAX_WARNING_LENGTH - 1] + "…" for w in warnings]
    if len(trimmed) > MAX_WARNINGS:
        trimmed = [*trimmed[: MAX_WARNINGS - 1], f"… and {len(trimmed) - MAX_WARNINGS + 1} more warnings"]
    return trimmed
