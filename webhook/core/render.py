"""Template variables: references to the workload in a template's strings, parsed once when the
template loads and substituted per request, with no I/O.

Syntax: ``$[labels.app]``, with a default after ``|``: ``$[labels.version|latest]`` (an empty default,
``$[labels.team|]``, is allowed). ``$$[`` writes a literal ``$[``. Kubernetes expands only ``$(VAR)``
(and ``$$``) in command, args and env values, and Helm only ``{{ }}``, so a template that ships
inside a chart, or whose args use ``$(VAR)``, reaches us with its references intact, and what we
write back is left alone by both.

Variables (``VARIABLES``, plus ``labels.<key>`` and ``annotations.<key>``):

- ``namespace``: the object's namespace; ``name``: its name, or its ``generateName`` when it has
  none yet (a ReplicaSet's pods);
- ``labels.<key>``, ``annotations.<key>``: the pod template's (a Pod's own), else the object's own;
- ``serviceAccount``: the pod's service account (``default`` when unset, as Kubernetes defaults it);
- ``workload.kind``, ``workload.name``: the workload the pods belong to: a Pod's controller
  (``ownerReferences`` with ``controller: true``, e.g. a ReplicaSet; absent for a bare Pod), or the
  object itself for a Deployment, StatefulSet, ... .

Where (``SITES``): a container's or init container's ``image``, ``command`` and ``args`` items and
``env`` values; the template's ``env`` values and ``annotations`` values. Any string is valid
there, so a template validated at load with its references in place stays valid once rendered,
except an image, whose rendered value is checked (not empty, no surrounding whitespace). A value
longer than ``MAX_VALUE_CHARS`` is refused, and a template holds at most ``MAX_REFERENCES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_FIXED = {
    "namespace": "namespace",
    "name": "name",
    "serviceAccount": "service_account",
    "workload.kind": "workload_kind",
    "workload.name": "workload_name",
}
VARIABLES = tuple(_FIXED)
KEYED = ("labels.", "annotations.")
SITES = "image, command, args and env values of containers and init containers, env values, annotation values"
MAX_REFERENCES = 64
MAX_VALUE_CHARS = 4096
ESCAPE = "$$["
OPENER = "$["
_TOKEN = re.compile(r"\$\$\[|\$\[([^\]]*)\]|\$\[")
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    variable: str
    default: str | None = None
    keyed: str = field(init=False, repr=False, compare=False)
    """``labels``, ``annotations`` or "" (a fixed variable): split once, not per request."""
    key: str = field(init=False, repr=False, compare=False)
    """The label or annotation key, or the WorkloadValues attribute of a fixed variable."""

    def __post_init__(self) -> None:
        keyed, dot, key = self.variable.partition(".")
        is_keyed = keyed in ("labels", "annotations") and bool(dot)
        object.__setattr__(self, "keyed", keyed if is_keyed else "")
        object.__setattr__(self, "key", key if is_keyed else _FIXED.get(self.variable, ""))

    @property
    def written(self) -> str:
        return f"$[{self.variable}]" if self.default is None else f"$[{self.variable}|{self.default}]"


@dataclass(frozen=True, slots=True)
class VariableSite:
    """One string of a template that references the workload: its path in the template body
    (``("containers", 0, "image")``) and its pieces, literal text and references in order."""

    path: FieldPath
    pieces: tuple[str | Reference, ...]
    is_image: bool = field(init=False, repr=False, compare=False)
    head: str = field(init=False, repr=False, compare=False)
    """The literal text before the first reference; ``segments`` pair each reference with the text
    after it, so substituting is one loop without a type test."""
    segments: tuple[tuple[Reference, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_image", self.path[-1] == "image")
        pieces = list(self.pieces)
        head = pieces.pop(0) if pieces and isinstance(pieces[0], str) else ""
        segments: list[tuple[Reference, str]] = []
        for piece in pieces:
            if isinstance(piece, Reference):
                segments.append((piece, ""))
            else:
                segments[-1] = (segments[-1][0], segments[-1][1] + piece)
        object.__setattr__(self, "head", head)
        object.__setattr__(self, "segments", tuple(segments))


Branch = tuple[tuple[str | int, "Branch | VariableSite"], ...]


@dataclass(frozen=True, slots=True)
class Variables:
    """A template's references, parsed once at load: the sites, and the same as a tree of the paths
    they sit on, so that rendering copies each container or list it changes once, walking no path
    twice. Iterating gives the sites; an empty one is false (a template without variables)."""

    sites: tuple[VariableSite, ...] = ()
    tree: Branch = ()

    @classmethod
    def of(cls, sites: tuple[VariableSite, ...]) -> Variables:
        root: dict[str | int, Any] = {}
        for site in sites:
            node = root
            for key in site.path[:-1]:
                node = node.setdefault(key, {})
            node[site.path[-1]] = site
        return cls(sites, _frozen(root))

    def __bool__(self) -> bool:
        return bool(self.sites)

    def __iter__(self) -> Iterator[VariableSite]:
        return iter(self.sites)


def _frozen(node: dict[str | int, Any]) -> Branch:
    return tuple(
        (key, value if isinstance(value, VariableSite) else _frozen(value)) for key, value in node.items()
    )


NO_VARIABLES = Variables()


class VariableSyntaxError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unresolved(Exception):
    """A site that cannot be rendered for this workload, and why (for the denial's message)."""

    def __init__(self, site: VariableSite, problem: str) -> None:
        super().__init__(problem)
        self.site = site
        self.problem = problem


def parse_text(text: str) -> tuple[str | Reference, ...]:
    """The pieces of one string; escapes are unescaped. Raises VariableSyntaxError."""
    pieces: list[str | Reference] = []
    literal, start = [], 0
    for match in _TOKEN.finditer(text):
        literal.append(text[start : match.start()])
        start = match.end()
        token = match.group(0)
        if token == ESCAPE:
            literal.append(OPENER)
        elif token == OPENER:
            raise VariableSyntaxError(f"unclosed {OPENER!r}; write {ESCAPE!r} for a literal {OPENER!r}")
        else:
            if "".join(literal):
                pieces.append("".join(literal))
            literal = []
            pieces.append(_reference(match.group(1)))
    literal.append(text[start:])
    if "".join(literal):
        pieces.append("".join(literal))
    return tuple(pieces)


def _reference(inside: str) -> Reference:
    variable, bar, default = inside.partition("|")
    variable = variable.strip()
    known = variable in VARIABLES or any(variable.startswith(p) and variable[len(p) :] for p in KEYED)
    if not known:
        choices = ", ".join([*VARIABLES, "labels.<key>", "annotations.<key>"])
        raise VariableSyntaxError(
            f"unknown variable {variable!r} in {OPENER}{inside}]; expected one of {choices} "
            f"(write {ESCAPE!r} for a literal {OPENER!r})"
        )
    return Reference(variable, default if bar else None)


def site_allowed(path: FieldPath) -> bool:
    match path:
        case ("containers" | "initContainers", int(), "image"):
            return True
        case ("containers" | "initContainers", int(), "command" | "args", int()):
            return True
        case ("containers" | "initContainers", int(), "env", int(), "value"):
            return True
        case ("env", int(), "value") | ("annotations", str()):
            return True
    return False


def compile_variables(body: Any) -> tuple[Any, tuple[VariableSite, ...], list[tuple[FieldPath, str]]]:
    """Find every string holding ``$[`` in a template body: the body with escapes undone (copied
    only where something changed), the sites with references, and the problems (path, message)."""
    sites: list[VariableSite] = []
    problems: list[tuple[FieldPath, str]] = []

    def walk(node: Any, path: FieldPath) -> Any:
        if isinstance(node, dict):
            changed = {key: walk(value, (*path, key)) for key, value in node.items()}
            return changed if any(changed[k] is not node[k] for k in node) else node
        if isinstance(node, list):
            items = [walk(value, (*path, index)) for index, value in enumerate(node)]
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        if not isinstance(node, str) or OPENER not in node:
            return node
        try:
            pieces = parse_text(node)
        except VariableSyntaxError as exc:
            problems.append((path, exc.message))
            return node
        literal = [piece for piece in pieces if isinstance(piece, str)]
        if len(literal) == len(pieces):
            return "".join(literal)  # escapes only: undone once, here
        if not site_allowed(path):
            problems.append((path, f"variables are allowed only in {SITES}"))
        else:
            sites.append(VariableSite(path, pieces))
        return node

    unescaped = walk(body, ())
    references = sum(1 for site in sites for piece in site.pieces if isinstance(piece, Reference))
    if references > MAX_REFERENCES:
        problems.append(((), f"{references} variable references; at most {MAX_REFERENCES} are allowed"))
    return unescaped, tuple(sites), problems


class WorkloadValues:
    """What variables read, for one object (built once per request, only when a template has any).
    ``labels`` and ``annotations`` are the raw maps to look in, in order (the pod template's, then
    the object's): nothing is copied, a reference reads one key. A plain class: it lives for one
    request, and a frozen dataclass's construction alone cost a tenth of a rendering."""

    __slots__ = (
        "annotations",
        "labels",
        "name",
        "namespace",
        "service_account",
        "workload_kind",
        "workload_name",
    )

    def __init__(
        self,
        namespace: str,
        name: str,
        service_account: str,
        workload_kind: str | None,
        workload_name: str | None,
        labels: tuple[Mapping[str, Any], ...] = (),
        annotations: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.service_account = service_account
        self.workload_kind = workload_kind
        self.workload_name = workload_name
        self.labels = labels
        self.annotations = annotations

    def value(self, reference: Reference) -> str | None:
        if reference.keyed:
            for entries in self.labels if reference.keyed == "labels" else self.annotations:
                found = entries.get(reference.key)
                if isinstance(found, str):
                    return found
            return None
        value: str | None = getattr(self, reference.key)
        return value or None


def substitute(site: VariableSite, values: WorkloadValues, subject: str) -> str:
    """The site's string for this workload (``subject``: "Pod", "Deployment", ... for messages);
    raises Unresolved."""
    text = site.head
    for piece, tail in site.segments:
        value = values.value(piece)
        if value is None:
            value = piece.default
        if value is None:
            raise Unresolved(
                site,
                f"needs {piece.variable}, which this {subject} does not have, and {piece.written} gives "
                f"no default (write $[{piece.variable}|<default>])",
            )
        if len(value) > MAX_VALUE_CHARS:
            raise Unresolved(
                site,
                f"{piece.variable} has {len(value)} characters; at most {MAX_VALUE_CHARS} are substituted",
            )
        text += value + tail
    if site.is_image and (not text or text != text.strip()):
        raise Unresolved(
            site, f"renders to {text!r}, which is not an image (empty, or surrounded by whitespace)"
        )
    return text


def describe_path(path: FieldPath) -> str:
    """``containers[0].env[1].value``, ``annotations['example.com/x']``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text
