"""The one error a template source reports: where the broken template lives and everything wrong with it.

A template author may be a tenant, so every part of an error is bounded: a hostile template cannot
turn one error into a huge log line, ``/templates`` answer or terminal page. Each problem carries
its own field path and, when known, its line (in the file for the folder source, in the ConfigMap
key's text for the API source).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_PART = 300  # characters of a source, key or field path
MAX_MESSAGE = 400  # characters of one problem's message
MAX_PROBLEMS = 50  # problems listed; the rest are counted


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters: its start and its end (where a reason often is)."""
    if len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[: limit - tail]} … ({len(text) - limit} characters left out) … {text[-tail:]}"


def show(value: object, limit: int = 80) -> str:
    """A value as a message quotes it: repr, clipped (a hostile value may be a megabyte long)."""
    if isinstance(value, str):
        return f"{value[:limit]!r}… ({len(value)} characters)" if len(value) > limit else repr(value)
    if isinstance(value, dict | list):
        return f"a {'map' if isinstance(value, dict) else 'list'} of {len(value)} items"
    return clip(repr(value), limit)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a template: the field path, what is wrong, and where (1-based line)."""

    field: str
    message: str
    line: int | None = None


class TemplateError(Exception):
    """A template that cannot be served; its previous good version (if any) stays in service.

    ``source`` names the ConfigMap (``ConfigMap ns/name``); ``file``, when the template comes from
    a file, is its path, and problem lines are lines of that file. ``field``/``message``/``line``
    are those of the first problem, for callers that show one.
    """

    def __init__(
        self,
        source: str,
        key: str,
        field: str,
        message: str,
        *,
        line: int | None = None,
        file: str | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        listed = [Problem(field, message, line)] if not problems else list(problems)
        self.source = clip(source, MAX_PART)
        self.key = clip(key, MAX_PART)
        self.file = clip(file, MAX_PART) if file else None
        self.omitted = max(0, len(listed) - MAX_PROBLEMS)
        self.problems = tuple(
            Problem(clip(p.field, MAX_PART), clip(p.message, MAX_MESSAGE), p.line)
            for p in listed[:MAX_PROBLEMS]
        )
        first = self.problems[0]
        self.field, self.message, self.line = first.field, first.message, first.line
        super().__init__(self._render())

    def lines(self) -> list[str]:
        """One complete line per problem: file and line, ConfigMap, key, field and message."""
        rendered = [f"{self._where(p.line)}: {self._what(p)}" for p in self.problems]
        if self.omitted:
            rendered.append(f"{self._where(None)}: … and {self.omitted} more problems")
        return rendered

    def _render(self) -> str:
        if len(self.problems) == 1 and not self.omitted:
            return self.lines()[0]
        count = len(self.problems) + self.omitted
        items = [f"  {self._short(p)}" for p in self.problems]
        if self.omitted:
            items.append(f"  … and {self.omitted} more")
        return "\n".join([f"{self._where(None)}: {count} problems:", *items])

    def _where(self, line: int | None) -> str:
        key = f", key {self.key!r}" if self.key else ""
        if self.file:
            at = f"{self.file}:{line}" if line else self.file
            return f"{at}: {self.source}{key}" if self.source else at
        return f"{self.source}{key}, line {line}" if line else f"{self.source}{key}"

    def _short(self, problem: Problem) -> str:
        if problem.line and self.file:
            return f"{self.file}:{problem.line}: {self._what(problem)}"
        return f"line {problem.line}: {self._what(problem)}" if problem.line else self._what(problem)

    @staticmethod
    def _what(problem: Problem) -> str:
        return f"{problem.field}: {problem.message}" if problem.field else problem.message
