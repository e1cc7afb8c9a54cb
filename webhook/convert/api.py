"""import_configs(): another injector's configuration in, our templates, rewrites and warnings out.

Pure: texts in, data out. The command that reads files and prints is ``webhook.convert.command``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace

from webhook.bounded_yaml import TEMPLATE_LIMITS
from webhook.convert import expedia, output, salesforce, tumblr
from webhook.convert.gotemplate import Expressions
from webhook.convert.model import (
    FORMATS,
    Conversion,
    ConversionError,
    ImportedTemplate,
    ImportResult,
    ImportWarning,
)
from webhook.convert.reading import Inputs, read_inputs
from webhook.convert.workloads import rewrite_workload

MIB = 1024 * 1024
# Each template is refused by our loader past 256 KiB anyway; all of them together stay printable.
MAX_OUTPUT_BYTES = 32 * MIB


def import_configs(
    source_format: str, files: Mapping[str, str], *, annotation_prefix: str | None = None
) -> ImportResult:
    """Convert the configuration in ``files`` (name -> text) from ``source_format``.

    Workload manifests among the files get their annotation rewrite. ``annotation_prefix`` replaces
    the source's default annotation prefix (tumblr's ``--annotation-namespace``, Expedia's
    ``--injectPrefix``). Raises ConversionError when the input is unreadable or is not that format;
    configurations that cannot be converted are warnings (the result may hold no template at all).
    """
    if source_format not in FORMATS:
        raise ConversionError("", f"unknown format {source_format!r}: one of {', '.join(FORMATS)}")
    convert, prepare = _converter(source_format, annotation_prefix)
    inputs = read_inputs(files, prepare)
    conversion = convert(inputs)
    warnings = [*inputs.warnings, *conversion.warnings, *_validated(conversion)]
    workloads = []
    for document in inputs.workloads:
        rewrite, notes = rewrite_workload(document, conversion.translator)
        warnings.extend(notes)
        if rewrite is not None:
            workloads.append(rewrite)
    return ImportResult(
        source_format,
        conversion.templates,
        tuple(conversion.translator.generic_rewrites()),
        tuple(workloads),
        tuple(warnings),
    )


def _converter(
    source_format: str, prefix: str | None
) -> tuple[Callable[[Inputs], Conversion], Callable[[str, str], str] | None]:
    if source_format == "tumblr":
        return (lambda inputs: tumblr.convert(inputs, prefix)), None
    if source_format == "expedia":
        return (lambda inputs: expedia.convert(inputs, prefix)), None
    expressions = Expressions()
    return (lambda inputs: salesforce.convert(inputs, expressions)), expressions.substitute


def _validated(conversion: Conversion) -> list[ImportWarning]:
    """A warning per problem our loader would refuse a template for (printed all the same: it is the
    closest translation, and the problems say what to fix); an error when the output grows too large.

    Sizes are measured as JSON (fast) before any template is validated, so a fan of large templates
    is refused before it costs a validation each.
    """
    sizes = [len(json.dumps(dict(t.body))) for t in conversion.templates]
    if sum(sizes) > MAX_OUTPUT_BYTES:
        raise ConversionError("", f"the templates would exceed {MAX_OUTPUT_BYTES // MIB} MiB together")
    warnings = []
    for template, size in zip(conversion.templates, sizes, strict=True):
        if size > TEMPLATE_LIMITS.text_bytes:
            limit = TEMPLATE_LIMITS.text_bytes // 1024
            warnings.append(
                ImportWarning(
                    template.origin,
                    f"template {template.name} will be refused when loaded: larger than {limit} KiB",
                )
            )
            continue
        found = output.problems(template)
        if found and template.namespace and not output.problems(replace(template, namespace=None)):
            warnings.append(ImportWarning(template.origin, _tenant_hint(template)))
        warnings.extend(
            ImportWarning(template.origin, f"template {template.name} will be refused when loaded: {problem}")
            for problem in found
        )
    return warnings


def _tenant_hint(template: ImportedTemplate) -> str:
    return (
        f"template {template.name} serves namespace {template.namespace} only, so it must meet the "
        "restricted Pod Security level, as every template kept in a workload namespace must; set the "
        "securityContext fields below, or apply it in the injector's namespace, from where it serves "
        "every namespace"
    )
