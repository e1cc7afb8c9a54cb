"""salesforce's sidecar config, and the items one mutation config picks from it by name.

salesforce picks items in the sidecar config's order (not the mutation config's), and silently
injects nothing for a name the sidecar config does not define; here that gets a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webhook.convert import gotemplate
from webhook.convert.gotemplate import Expressions
from webhook.convert.items import ConfigProblem, item_key, object_list, string_list
from webhook.convert.model import ConversionError, ImportWarning
from webhook.convert.names import quote

FIELDS = ("initContainers", "containers", "volumes", "volumeMounts")


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    origin: str
    items: dict[str, list[dict[str, Any]]]
    warnings: tuple[str, ...] = ()

    @classmethod
    def read(cls, origin: str, body: Any) -> SidecarConfig:
        """Raises ConversionError: without a readable sidecar config salesforce does not start either."""
        if not isinstance(body, dict):
            raise ConversionError(
                origin, "expected a mapping with initContainers, containers, volumes, volumeMounts"
            )
        try:
            items = {name: object_list(body, name) for name in FIELDS}
        except ConfigProblem as exc:
            raise ConversionError(origin, str(exc)) from exc
        unknown = sorted(k for k in body if isinstance(k, str) and k not in FIELDS)
        warnings = (
            (f"unknown fields ignored, as salesforce ignores them: {', '.join(unknown)}",) if unknown else ()
        )
        return cls(origin, items, warnings)


@dataclass
class Picked:
    """The items of one mutation config, by field, as the template will hold them."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def names(self, field_name: str) -> list[str]:
        return [item_key(item) for item in self.items.get(field_name, [])]

    def fields(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self.items)

    def convert_pod_data(self, expressions: Expressions, warnings: list[ImportWarning], origin: str) -> None:
        """Env values that are one pod field read through the downward API instead (in place)."""
        for field_name in ("initContainers", "containers"):
            for container in self.items.get(field_name, []):
                env = container.get("env")
                if not isinstance(env, list):
                    continue
                for index, variable in enumerate(env):
                    converted = _from_downward_api(variable, expressions)
                    if converted is None:
                        continue
                    env[index], path = converted
                    note = gotemplate.caveat(path)
                    warnings.append(
                        ImportWarning(
                            origin,
                            f"container {quote(container.get('name'))} env {quote(variable.get('name'))}: "
                            f"{expressions.restore(variable['value'])} is read by the container through the "
                            f"downward API (fieldRef {path}) instead of written in at admission"
                            + (f"; {note}" if note else ""),
                        )
                    )


def _from_downward_api(variable: Any, expressions: Expressions) -> tuple[dict[str, Any], str] | None:
    if not isinstance(variable, dict) or not isinstance(variable.get("value"), str):
        return None
    path = expressions.field_path(variable["value"])
    if path is None:
        return None
    rest = {k: v for k, v in variable.items() if k != "value"}
    return {**rest, "valueFrom": {"fieldRef": {"fieldPath": path}}}, path


def pick(
    sidecars: SidecarConfig, mutation: dict[str, Any], warnings: list[ImportWarning], origin: str
) -> Picked:
    picked = Picked()
    for field_name in FIELDS:
        wanted = string_list(mutation, field_name)
        chosen = [item for item in sidecars.items[field_name] if item_key(item) in wanted]
        missing = [name for name in wanted if name not in {item_key(item) for item in chosen}]
        if missing:
            shown = ", ".join(quote(name) for name in missing)
            warnings.append(
                ImportWarning(
                    origin,
                    f"{field_name}: {shown} not in the sidecar config; salesforce injects nothing for "
                    "it either",
                )
            )
        picked.items[field_name] = [dict(item) for item in chosen]
    return picked
