"""RBAC refusals a test switches on: 403 Forbidden with the message the authorizer gives."""

from __future__ import annotations

import threading

from tests.fakes.resources import Target
from tests.fakes.status import forbidden


class Access:
    def __init__(self, user: str) -> None:
        self.user = user
        self._lock = threading.Lock()
        self._forbidden: dict[str, frozenset[str] | None] = {}  # resource → verbs (None: all)

    def forbid(self, resource: str, refused: bool = True, verbs: set[str] | None = None) -> None:
        with self._lock:
            if refused:
                self._forbidden[resource] = frozenset(verbs) if verbs else None
            else:
                self._forbidden.pop(resource, None)

    def check(self, verb: str, target: Target) -> None:
        resource = target.resource
        with self._lock:
            if resource.qualified not in self._forbidden:
                return
            verbs = self._forbidden[resource.qualified]
        if verbs is not None and verb not in verbs:
            return
        plural = f"{resource.plural}/{target.subresource}" if target.subresource else resource.plural
        scope = f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
        cause = (
            f'User "{self.user}" cannot {verb} resource "{plural}" in API group "{resource.group}" {scope}'
        )
        raise forbidden(resource.group, resource.plural, target.name or "", cause)
