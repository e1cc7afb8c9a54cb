"""Validates template parts against the real Kubernetes OpenAPI schemas shipped by kubernetes-validate.

The schemas are loaded lazily, once per Kubernetes version, so a server that never loads a template
(or loads them rarely) does not pay for them on every request.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import referencing
from kubernetes_validate.utils import schema_contents

DEFAULT_KUBERNETES_VERSION = "1.33"

# Our template field -> the schema file describing one item of it.
ITEM_SCHEMAS = {
    "containers": "container-v1.json",
    "initContainers": "container-v1.json",
    "volumes": "volume-v1.json",
    "volumeMounts": "volumemount-v1.json",
    "env": "envvar-v1.json",
    "imagePullSecrets": "localobjectreference-v1.json",
}


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
        validators[field] = jsonschema.Draft202012Validator(schema, registry=registry)
    return validators


def schema_errors(field: str, items: list[Any], version: str) -> Iterator[tuple[str, str]]:
    """(field path, message) for each schema violation of the items of ``field``; best match first."""
    validator = _validators(version)[field]
    for index, item in enumerate(items):
        error = jsonschema.exceptions.best_match(validator.iter_errors(item))
        if error is not None:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            yield f"{field}[{index}]{path}", error.message
