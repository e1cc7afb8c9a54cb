"""``--accept-annotations``: another injector's opt-in annotations read, at admission, as a request
for the templates ``import`` made of its configuration, so workloads move over unchanged.

The translation is the import's own (each format's ``Requests``, the RequestTranslator the workload
rewrite uses), given no configuration: a request names a template by the name ``import`` gives
it (tumblr ``name:v1`` -> ``name-v1``, Expedia ``log.agent`` -> ``log-agent``). salesforce's
triggers are not accepted: its annotation keys are whatever each mutation config declares, so
nothing identifies them without the configuration (rewrite those workloads as ``import`` says).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webhook.convert import expedia, tumblr, tumblr_requests
from webhook.convert.model import RequestTranslator

ACCEPTABLE = ("tumblr", "expedia")


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


def accepted_annotations(formats: Iterable[str]) -> tuple[Accepted, ...]:
    """The readers of ``formats`` (each one of ACCEPTABLE), in the order given."""
    readers = []
    for name in dict.fromkeys(formats):
        if name == "tumblr":
            translator: RequestTranslator = tumblr_requests.Requests(tumblr.DEFAULT_PREFIX, {}, {}, set())
        elif name == "expedia":
            translator = expedia.Requests(expedia.DEFAULT_PREFIX, {}, set())
        else:
            raise ValueError(f"annotations of {name!r} cannot be accepted: one of {', '.join(ACCEPTABLE)}")
        readers.append(Accepted(translator))
    return tuple(readers)
