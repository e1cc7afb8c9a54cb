"""Why an injection cannot go ahead.

Every error carries a stable ``reason`` token for logs and metrics, and the ``code`` its denial
carries in the AdmissionReview's status, next to each other; nothing branches on message text or on
the error's class.

    InjectionError                  403  injection-error
    ├── TemplateNotFound            403  template-not-found  a requested template is not loaded
    │                                    (a denial only when the policy says so)
    ├── InvalidObject               400  invalid-object      the object is not shaped like its kind
    └── TemplateConflict            403  template-conflict   a template cannot be applied to this object
        ├── PodSecurityConflict     403  pod-security        it needs a lower Pod Security level than
        │                                                    the namespace enforces
        ├── VolumeNotFound          403  volume-not-found    a mount it adds names a volume the pod lacks
        ├── OverrideRejected        403  override-rejected   the workload's overrides name a field the
        │                                                    template does not let it override, an
        │                                                    unknown container, or an invalid value
        └── VariableUnresolved      403  variable-unresolved a template variable has no value for this
                                                             workload and no default, or an unusable one
"""

from __future__ import annotations

from typing import ClassVar


class InjectionError(Exception):
    """Base of every refusal the engine can return."""

    # Class-level facts, read from the class as well as from instances (ClassVar: so also to mypyc).
    reason: ClassVar[str] = "injection-error"
    code: ClassVar[int] = 403
    """Forbidden: the object is well formed, and admitting it with this injection is refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateNotFound(InjectionError):
    reason = "template-not-found"

    def __init__(self, names: tuple[str, ...], namespace: str) -> None:
        listed = ", ".join(repr(n) for n in names)
        super().__init__(f"requested sidecar template(s) {listed} not found for namespace {namespace!r}")
        self.names = names


class InvalidObject(InjectionError):
    reason = "invalid-object"
    code = 400
    """Bad request: the object itself is malformed, whatever the templates."""

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"{field_path}: {problem}")
        self.field_path = field_path


class TemplateConflict(InjectionError):
    reason = "template-conflict"


class PodSecurityConflict(TemplateConflict):
    reason = "pod-security"

    def __init__(self, message: str, templates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.templates = templates


class VolumeNotFound(TemplateConflict):
    reason = "volume-not-found"

    def __init__(self, message: str, templates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.templates = templates


class OverrideRejected(TemplateConflict):
    reason = "override-rejected"


class VariableUnresolved(TemplateConflict):
    reason = "variable-unresolved"

    def __init__(self, message: str, template: str) -> None:
        super().__init__(message)
        self.templates = (template,)
