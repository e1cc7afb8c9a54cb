"""The ``Status`` bodies kube-apiserver answers failures with, and the exception that carries one.

Every constructor mirrors one in k8s.io/apimachinery/pkg/api/errors (message wording, reason, the
``details`` it fills), so a client under test meets exactly what a cluster sends it:

- resource errors (NotFound, AlreadyExists, Conflict) name the resource as ``details.kind`` (the
  plural, "Yes we set Kind field to resource" in the apiserver) and its API group;
- ``Invalid`` lists one cause per field error and names the Kind (``ListOptions.meta.k8s.io``…);
- errors that do not come from a REST handler (an unknown route, a method or a Content-Type the router
  refuses) are "generic server responses" with a canned message and empty ``details``;
- an error the apiserver does not convert (a strategic-merge-patch failure, an unparsable
  resourceVersion) is a 500 with no ``reason`` at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]

OPTIMISTIC_LOCK = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """An HTTP failure with its Status body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JsonObject | None = None,
        list_meta: JsonObject | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_meta = list_meta or {}

    @property
    def status(self) -> JsonObject:
        body: JsonObject = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def resource_details(group: str, plural: str, name: str = "", **extra: Any) -> JsonObject:
    details: JsonObject = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if plural:
        details["kind"] = plural
    details.update(extra)
    return details


def qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{qualified(group, plural)} "{name}" not found',
        resource_details(group, plural, name),
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    message = f'{qualified(group, plural)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, resource_details(group, plural, name))


def conflict(group: str, plural: str, name: str, cause: str = OPTIMISTIC_LOCK) -> ApiError:
    message = f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {cause}'
    return ApiError(409, "Conflict", message, resource_details(group, plural, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(group: str, plural: str, name: str, cause: str) -> ApiError:
    subject = f'{qualified(group, plural)} "{name}"' if name else qualified(group, plural)
    return ApiError(
        403, "Forbidden", f"{subject} is forbidden: {cause}", resource_details(group, plural, name)
    )


def method_not_supported(group: str, plural: str, action: str) -> ApiError:
    message = f'{action} is not supported on resources of kind "{qualified(group, plural)}"'
    return ApiError(405, "MethodNotAllowed", message, resource_details(group, plural))


def expired(message: str, continue_token: str | None = None) -> ApiError:
    list_meta = {"continue": continue_token} if continue_token else None
    return ApiError(410, "Expired", message, list_meta=list_meta)


def gone(message: str) -> ApiError:
    return ApiError(410, "Gone", message)


def not_acceptable(message: str) -> ApiError:
    return ApiError(406, "NotAcceptable", message)


def too_large_resource_version(requested: int, current: int) -> ApiError:
    message = f"Timeout: Too large resource version: {requested}, current: {current}"
    details = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return ApiError(504, "Timeout", message, details)


def unconverted(message: str) -> ApiError:
    """An error the apiserver passes through unconverted: 500, no reason."""
    return ApiError(500, "", message)


# Generic server responses (apierrors.NewGenericServerResponse with no resource): what the router's own
# refusals (go-restful) and a few handlers turn into.
_GENERIC = {
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
}


def generic(code: int) -> ApiError:
    reason, message = _GENERIC.get(
        code, ("", f"the server responded with the status code {code} but did not return more information")
    )
    return ApiError(code, reason, message, {})


# ---------------------------------------------------------------------------------------------------
# Field errors (k8s.io/apimachinery/pkg/util/validation/field) and the Invalid status built from them


def go_value(value: Any) -> str:
    """How field.Invalid prints a value: strings quoted, numbers bare (close to Go's %#v for scalars)."""
    if isinstance(value, GoLiteral):
        return value.text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class GoLiteral:
    """A value whose Go rendering is given verbatim (e.g. ``0x0`` for a uint64 zero)."""

    text: str


@dataclass(frozen=True)
class FieldError:
    type: str  # Required | Invalid | Forbidden | NotSupported | Duplicate | NotFound | TooLong
    field: str
    value: Any = None
    detail: str = ""
    supported: Sequence[str] = ()

    def body(self) -> str:
        if self.type == "Required":
            text = "Required value"
        elif self.type == "Forbidden":
            text = "Forbidden"
        elif self.type == "NotSupported":
            text = f"Unsupported value: {go_value(self.value)}"
            if self.supported:
                text += ": supported values: " + ", ".join(json.dumps(s) for s in self.supported)
        elif self.type == "TooLong":
            text = "Too long"
        else:
            label = {"Invalid": "Invalid value", "Duplicate": "Duplicate value", "NotFound": "Not found"}
            text = f"{label[self.type]}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def error(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> JsonObject:
        reasons = {"NotSupported": "FieldValueNotSupported", "NotFound": "FieldValueNotFound"}
        return {
            "reason": reasons.get(self.type, f"FieldValue{self.type}"),
            "message": self.body(),
            "field": self.field,
        }


def invalid(kind: str, group: str, name: str, errors: Iterable[FieldError]) -> ApiError:
    """apierrors.NewInvalid: ``<Kind>[.<group>] "<name>" is invalid: <error>`` or ``[<e1>, <e2>]``."""
    errors = list(errors)
    texts = [e.error() for e in errors]
    aggregate = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    message = f'{_group_kind(group, kind)} "{name}" is invalid: {aggregate}'
    details: JsonObject = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [e.cause() for e in errors]
    return ApiError(422, "Invalid", message, details)


def _group_kind(group: str, kind: str) -> str:
    return f"{kind}.{group}" if group else kind
