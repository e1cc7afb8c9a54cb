"""Migration in: other injectors' configurations converted to our templates (``sidecar-injector import``).

    import_configs(source_format, files) -> ImportResult   templates, annotation rewrites, warnings
    detect_format(configmap) -> "tumblr" | "salesforce" | "expedia" | None

ConversionError     the input cannot be imported (unreadable, not that format, nothing in it)

One module per source format (``tumblr``, ``salesforce``, ``expedia``), shared reading, naming and
item merging, and ``command`` for the CLI's file reading and printing.
"""

from webhook.convert.api import import_configs
from webhook.convert.detect import detect_format
from webhook.convert.model import (
    FORMATS,
    AnnotationRewrite,
    ConversionError,
    ImportedTemplate,
    ImportResult,
    ImportWarning,
    WorkloadRewrite,
)
from webhook.convert.output import manifest, render

__all__ = [
    "FORMATS",
    "AnnotationRewrite",
    "ConversionError",
    "ImportResult",
    "ImportWarning",
    "ImportedTemplate",
    "WorkloadRewrite",
    "detect_format",
    "import_configs",
    "manifest",
    "render",
]
