"""Validates template parts against the real Kubernetes OpenAPI schemas shipped by kubernetes-validate.

The schemas are loaded lazily, once per Kubernetes version, so a server that never loads a template
(or loads them rarely) does not pay for them on every request.

Two things are stricter than plain JSON Schema, because the API server (Go) is: an integer field
takes only integers (JSON Schema counts 1.0 as one; Go refuses to decode it into an int32), and the
``int32``/``int64`` formats are ranges, not annotations (a port of 2^64 passed the schema before and
then failed every review's JSON encoding).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import referencing
from kubernetes_validate.utils import schema_contents

from webhook.templates.errors import show
from webhook.templates.findings import FieldPath

# Our template field -> the schema file describing one item of it.
ITEM_SCHEMAS = {
    "containers": "container-v1.json",
    "initContainers": "container-v1.json",
    "volumes": "volume-v1.json",
    "volumeMounts": "volumemount-v1.json",
    "env": "envvar-v1.json",
    "imagePullSecrets": "localobjectreference-v1.json",
}
_RANGES = {"int32": 32, "int64": 64}


def _is_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _fits(bits: int) -> Any:
    def check(instance: Any) -> bool:
        return not _is_integer(None, instance) or -(2 ** (bits - 1)) <= instance < 2 ** (bits - 1)

    return check


_FORMATS = jsonschema.FormatChecker(formats=())
for _name, _bits in _RANGES.items():
    _FORMATS.checks(_name)(_fits(_bits))
_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # untyped in jsonschema
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def _validators(version: str) -> dict[str, Any]:
    folder = f"kubernetes-json-schema/v{version}.0-local-strict"
    definitions = referencing.Resource.from_contents(schema_contents(f"{folder}/_definitions.json", version))
    validators: dict[str, Any] = {}
    for field, filename in ITEM_SCHEMAS.items():
        schema = schema_contents(f"{folder}/{filename}", version)
        registry: referencing.Registry[Any] = referencing.Registry().with_resources(
            [("", definitions), ("self", referencing.Resource.from_contents(schema))]
        )
        registry = definitions @ registry
        validators[field] = _Validator(schema, registry=registry, format_checker=_FORMATS)
    return validators


def schema_errors(field: str, items: list[Any], version: str) -> Iterator[tuple[FieldPath, str]]:
    """(field path, message) for every schema violation of the items of ``field``."""
    validator = _validators(version)[field]
    for index, item in enumerate(items):
        for error in validator.iter_errors(item):
            best = jsonschema.exceptions.best_match([error])
            yield (field, index, *best.absolute_path), _message(best)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "format" and error.validator_value in _RANGES:
        return f"{show(error.instance)} does not fit in a {_RANGES[error.validator_value]}-bit integer"
    types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    if error.validator == "type" and isinstance(error.instance, float) and "integer" in types:
        return f"{show(error.instance)} is not an integer; write it without a decimal point"
    # jsonschema's messages start with the repr of the value, which may be 256 KiB: show it short.
    quoted = repr(error.instance)
    if error.message.startswith(quoted):
        return show(error.instance) + error.message[len(quoted) :]
    return error.message
