"""JSON shapes the core works on: raw Kubernetes objects stay untyped JSON so no field is ever lost."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# Objects from the API are kept as plain JSON: converting them to typed models would drop
# fields this version does not know about (controller-runtime's round-trip warning).
JsonValue = Any
JsonObject = dict[str, Any]


class PatchOp(TypedDict):
    """One RFC 6902 operation; the engine only ever emits ``add``."""

    op: Literal["add", "remove", "replace", "test"]
    path: str
    value: NotRequired[JsonValue]
