"""``--accept-annotations``: another injector's opt-in annotations read, at admission, as a request
for the templates ``import`` made of its configuration, so workloads move over unchanged.

The translation is the import's own (each format's ``Requests``, the RequestTranslator the workload
rewrite uses). tumblr and Expedia need no configuration: their annotation keys are fixed, and a
request names a template by the name ``import`` gives it (tumblr ``name:v1`` -> ``name-v1``, Expedia
``log.agent`` -> ``log-agent``). salesforce's trigger keys are whatever each mutation config
declares, so it is accepted with its mutation config named (``salesforce=PATH``: the
``mutationconfig.yaml``, or the ConfigMap holding it, that ``import`` read), which the importer's
own readers parse: the triggers it lists request the templates ``import`` named after them. The
file is read once, when the flag is parsed; a changed mutation config needs a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webhook.convert import expedia, salesforce_files, salesforce_requests, tumblr, tumblr_requests
from webhook.convert.command import read_files
from webhook.convert.gotemplate import Expressions
from webhook.convert.model import ConversionError, RequestTranslator
from webhook.convert.reading import read_inputs

ACCEPTABLE = ("tumblr", "expedia", "salesforce")
CONFIGURED = ("salesforce",)  # accepted only with their configuration's path: NAME=PATH


class Accepted:
    """One format's requests, as ``core.model.AcceptedAnnotations``."""

    def __init__(self, translator: RequestTranslator) -> None:
        self.translator = translator

    def read(
        self, annotations: Mapping[str, str], labels: Mapping[str, str]
    ) -> tuple[str, tuple[str, ...]] | None:
        translation = self.translator.translate(annotations, labels)
        if not translation.removed or not translation.names:
            return None  # no request, or one the old injector would have skipped (status, skip label)
        written = "; ".join(f"{key}: {annotations[key]!r}" for key in translation.removed)
        return written, translation.names


def accepted_annotations(
    formats: Iterable[str], configs: Mapping[str, str] | None = None
) -> tuple[Accepted, ...]:
    """The readers of ``formats`` (each one of ACCEPTABLE), in the order given; ``configs``: the
    configuration path of each format in CONFIGURED. Raises ValueError saying what is wrong (a
    ConversionError when the configuration cannot be read)."""
    configs = configs or {}
    formats = tuple(dict.fromkeys(formats))
    for name in configs:
        if name not in CONFIGURED or name not in formats:
            raise ValueError(f"{name}={configs[name]}: only {', '.join(CONFIGURED)} takes a configuration")
    readers = []
    for name in formats:
        if name in CONFIGURED and name not in configs:
            raise ValueError(f"{name} needs its configuration: {name}=PATH")
        if name == "tumblr":
            translator: RequestTranslator = tumblr_requests.Requests(tumblr.DEFAULT_PREFIX, {}, {}, set())
        elif name == "expedia":
            translator = expedia.Requests(expedia.DEFAULT_PREFIX, {}, set())
        elif name == "salesforce":
            translator = salesforce_triggers(configs[name])
        else:
            raise ValueError(f"annotations of {name!r} cannot be accepted: one of {', '.join(ACCEPTABLE)}")
        readers.append(Accepted(translator))
    return tuple(readers)


def salesforce_triggers(path: str) -> RequestTranslator:
    """The triggers of the salesforce mutation config in ``path``, read as ``import`` reads it.

    Raises ConversionError when the file cannot be read or holds no one mutation config.
    """
    try:
        inputs = read_inputs(read_files([path]), Expressions().substitute)
        return salesforce_requests.triggers_of(salesforce_files.mutation_config(inputs))
    except ConversionError as exc:
        if exc.origin:
            raise
        raise ConversionError(path, exc.message) from exc  # the one file given is where it is wrong
