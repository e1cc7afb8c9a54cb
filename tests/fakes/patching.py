"""PATCH bodies as kube-apiserver applies them, with its errors for each kind of bad patch.

- ``application/json-patch+json`` (RFC 6902, ``test`` included): a body that is not a JSON array of
  operations is a 400; an operation that cannot apply (failed ``test``, missing path) is a 422 whose
  message says nothing more than "the server rejected our request due to an error in our request", as
  the apiserver's generic response does; more than 10,000 operations is a 413.
- ``application/merge-patch+json`` (RFC 7386): a body that is not JSON (or is ``null``) is a 400
  "Invalid JSON Patch".
- ``application/strategic-merge-patch+json``: see ``strategic``.

An unknown Content-Type never reaches here: the router refuses it first (see ``handler``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import jsonpointer

from tests.fakes import strategic
from tests.fakes.status import ApiError, bad_request, generic

JsonObject = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
MAX_JSON_PATCH_OPERATIONS = 10_000


def go_json_error(text: str, exc: json.JSONDecodeError) -> str:
    """Go's encoding/json wording for the common syntax errors."""
    if exc.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    return f"invalid character {text[exc.pos]!r} looking for beginning of value"


def _decode(body: bytes) -> Any:
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(go_json_error(text, exc)) from None


def apply_patch(
    content_type: str, original: JsonObject, body: bytes, pod_spec_paths: strategic.Schema
) -> Any:
    """The patched object (a JSON value: the caller checks it is still an object of the right kind)."""
    if content_type == JSON_PATCH:
        return _json_patch(original, body)
    if content_type == MERGE_PATCH:
        return _merge_patch(original, body)
    if content_type == STRATEGIC_MERGE_PATCH:
        patch = _decode(body)
        if not isinstance(patch, dict):
            raise bad_request(
                f"json: cannot unmarshal {_go_kind(patch)} into Go value of type map[string]interface {{}}"
            )
        return strategic.merge(original, patch, pod_spec_paths)
    # Server-side apply: routed, but not implemented by the fake (say so rather than pretend).
    raise ApiError(415, "UnsupportedMediaType", "the fake API server does not implement server-side apply")


def _json_patch(original: JsonObject, body: bytes) -> Any:
    operations = _decode(body)
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {_go_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        message = (
            f"Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}"
        )
        raise ApiError(413, "RequestEntityTooLarge", message)
    try:
        return jsonpatch.JsonPatch(operations).apply(copy.deepcopy(original))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, TypeError, IndexError):
        raise generic(422) from None


def _merge_patch(original: JsonObject, body: bytes) -> Any:
    try:
        patch = json.loads(body)
    except ValueError:
        raise bad_request("Invalid JSON Patch") from None
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    return merge_patch(original, patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _go_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"
