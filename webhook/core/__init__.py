"""The pure mutation engine: no I/O, no clock, no environment, no logging."""

from webhook.core.engine import mutate
from webhook.core.errors import (
    InjectionError,
    InvalidObject,
    PodSecurityConflict,
    TemplateConflict,
    TemplateNotFound,
    VolumeNotFound,
)
from webhook.core.jsontypes import JsonObject, PatchOp
from webhook.core.model import (
    AdmissionFacts,
    InjectionPolicy,
    MutationResult,
    Template,
    TemplateSet,
)
from webhook.core.verification import verify_patch
from webhook.core.workloads import SUPPORTED_KINDS

__all__ = [
    "SUPPORTED_KINDS",
    "AdmissionFacts",
    "InjectionError",
    "InjectionPolicy",
    "InvalidObject",
    "JsonObject",
    "MutationResult",
    "PatchOp",
    "PodSecurityConflict",
    "Template",
    "TemplateConflict",
    "TemplateNotFound",
    "TemplateSet",
    "VolumeNotFound",
    "mutate",
    "verify_patch",
]
