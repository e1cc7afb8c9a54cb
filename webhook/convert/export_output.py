"""The exported policies as the YAML stream a user reviews and applies, and the stderr lines.

Each template's objects are preceded by a comment naming the template and every loss, so the loss
travels with the policy into the repository it is committed to, not only into a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from webhook.convert.export import ExportResult


class _Dumper(yaml.SafeDumper):
    """No anchors: the rules share lists in memory, a reader should not have to follow ``*id001``."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def render(result: ExportResult) -> str:
    documents = []
    for exported in result.exported:
        comment = [f"# Template {exported.name} ({exported.source}), exported by sidecar-injector."]
        comment += [f"# Not as the webhook does it: {loss}." for loss in exported.losses]
        for index, obj in enumerate(exported.objects):
            body = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
            head = "\n".join(line.replace("\n", " ") for line in comment) + "\n" if index == 0 else ""
            documents.append(head + body)
    return "---\n".join(documents)


def messages(result: ExportResult) -> Iterator[str]:
    for refusal in result.refused:
        for reason in refusal.reasons:
            yield f"refused: template {refusal.name} ({refusal.source}): {reason}; keep it on the webhook"
    for exported in result.exported:
        for loss in exported.losses:
            yield f"warning: template {exported.name}: {loss}"
    yield f"{len(result.exported)} exported, {len(result.refused)} refused"
