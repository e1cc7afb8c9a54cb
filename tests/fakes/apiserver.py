"""A protocol-faithful fake kube-apiserver for ConfigMaps and Namespaces, over real HTTP on 127.0.0.1.

What it reproduces (the parts a list/watch client depends on):

- ``GET /api/v1/namespaces/{ns}/configmaps`` and ``GET /api/v1/configmaps`` (all namespaces), plus
  ``GET /api/v1/namespaces/{ns}/configmaps/{name}``;
- ``GET /api/v1/namespaces`` (cluster-scoped: list and watch) and ``GET /api/v1/namespaces/{name}``;
- ``labelSelector`` with ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
  ``key in (a,b)`` and ``key notin (a,b)``;
- Lists as ``{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"N"},"items":[...]}``
  whose items carry no ``kind`` or ``apiVersion``, as kube-apiserver serves them (watch events and
  single GETs do carry them);
- ``watch=true|1`` streams chunked ``{"type":..., "object":...}\\n`` lines starting after
  ``resourceVersion`` (no resourceVersion, or "0": synthetic ADDED events for the current state first);
- one global, monotonically increasing resourceVersion stamped into ``metadata.resourceVersion``, shared
  by both resources as etcd's revision is;
- an event history window: watching from a resourceVersion older than the window yields HTTP 200 and one
  ERROR event whose object is a Status with code 410, reason "Expired" (as the watch cache does), then
  the stream ends; ``gone_as_http_status=True`` answers HTTP 410 instead (older servers, and the
  case the client must handle as well);
- ``timeoutSeconds``: the server ends the stream cleanly (terminating chunk) after that many seconds;
- ``allowWatchBookmarks``: BOOKMARK events every ``bookmark_interval`` seconds whose object holds only
  kind, apiVersion and metadata.resourceVersion;
- label-selector transitions as the cacher does: an object that stops matching is sent as DELETED
  (previous content, new resourceVersion), one that starts matching as ADDED.

Test controls: ``create``/``update``/``delete`` (ConfigMaps), ``create_namespace``/``label_namespace``/
``delete_namespace``, ``forbid(resource)`` (answer 403 Forbidden as RBAC does for a missing grant),
``compact()`` (forget history: resuming from any
older resourceVersion gets 410), ``drop_watches()`` (abruptly close open streams, no terminating
chunk), ``refuse_connections(seconds)`` (close the listening socket and every connection, then listen
again on the same port), and counters of list and watch requests received.

Every response carries ``Connection: close`` so that "refuse connections" really means no request
gets through: a pooled keep-alive connection would otherwise outlive the listening socket.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JsonObject = dict[str, Any]

_NAMESPACED = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/configmaps(?:/(?P<name>[^/]+))?/?$")
_CLUSTER = re.compile(r"^/api/v1/configmaps/?$")
_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?/?$")
CONFIGMAPS, NAMESPACES = "configmaps", "namespaces"
_KINDS = {CONFIGMAPS: "ConfigMap", NAMESPACES: "Namespace"}
_TRUE = frozenset({"1", "t", "true"})
_POLL = 0.05


# ---------------------------------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # exists | !exists | in | notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values  # notin, !=


def parse_label_selector(text: str) -> tuple[Requirement, ...]:
    """Kubernetes label selector syntax (the subset listed in the module docstring)."""
    requirements: list[Requirement] = []
    for part in _split_selector(text):
        part = part.strip()
        if not part:
            continue
        if part.startswith("!"):
            requirements.append(Requirement(part[1:].strip(), "!exists"))
        elif m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)", part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            requirements.append(Requirement(m.group(1), m.group(2), values))
        elif m := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", part):
            operator = "notin" if m.group(2) == "!=" else "in"
            requirements.append(Requirement(m.group(1), operator, frozenset({m.group(3)})))
        elif re.fullmatch(r"[\w./-]+", part):
            requirements.append(Requirement(part, "exists"))
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return tuple(requirements)


def _split_selector(text: str) -> Iterable[str]:
    depth, start = 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


# ---------------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class _Event:
    resource: str
    rv: int
    type: str
    obj: JsonObject
    prev: JsonObject | None


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    params: Mapping[str, str]

    @property
    def watch(self) -> bool:
        return self.params.get("watch", "").lower() in _TRUE


@dataclass
class _Scope:
    resource: str
    namespace: str | None
    selector: tuple[Requirement, ...] = ()

    def key_matches(self, obj: Mapping[str, Any]) -> bool:
        return self.namespace is None or obj["metadata"].get("namespace") == self.namespace

    def matches(self, obj: Mapping[str, Any]) -> bool:
        labels = _labels(obj)
        return self.key_matches(obj) and all(r.matches(labels) for r in self.selector)


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    rv: int = 1000
    compacted_rv: int = 1000
    objects: dict[tuple[str, str, str], JsonObject] = field(default_factory=dict)
    """(resource, namespace, name) → object; namespace is "" for Namespaces."""
    history: deque[_Event] = field(default_factory=deque)
    drop_generation: int = 0
    server_generation: int = 0
    open_watches: int = 0
    list_requests: int = 0
    watch_requests: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)


def _status(code: int, reason: str, message: str) -> JsonObject:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(): stopping the fake leaves no thread behind.
    daemon_threads = False
    block_on_close = True
    fake: FakeApiServer
    generation: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.close_connection = True
        fake = self.server.fake
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with fake.state.lock:
            fake.state.requests.append(RecordedRequest(url.path, params))
        if m := _NAMESPACED.match(url.path):
            resource, namespace, name = CONFIGMAPS, m.group("ns"), m.group("name")
        elif _CLUSTER.match(url.path):
            resource, namespace, name = CONFIGMAPS, None, None
        elif m := _NAMESPACES.match(url.path):
            resource, namespace, name = NAMESPACES, None, m.group("name")
        else:
            self._send_json(404, _status(404, "NotFound", f"the server could not find {url.path}"))
            return
        with fake.state.lock:
            forbidden = resource in fake.state.forbidden
        if forbidden:
            verb = "get" if name else "watch" if params.get("watch", "").lower() in _TRUE else "list"
            message = (
                f'{resource} is forbidden: User "system:serviceaccount:injector:sidecar-injector" '
                f'cannot {verb} resource "{resource}" in API group "" at the cluster scope'
            )
            self._send_json(403, _status(403, "Forbidden", message))
            return
        if name is not None:
            self._get_one(resource, namespace or "", name)
            return
        try:
            selector = parse_label_selector(params.get("labelSelector", ""))
        except ValueError as exc:
            self._send_json(400, _status(400, "BadRequest", str(exc)))
            return
        scope = _Scope(resource, namespace, selector)
        if params.get("watch", "").lower() in _TRUE:
            self._watch(scope, params)
        else:
            self._list(scope)

    # -- responses ----------------------------------------------------------------------------------

    def _send_json(self, code: int, body: JsonObject) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _get_one(self, resource: str, namespace: str, name: str) -> None:
        state = self.server.fake.state
        with state.lock:
            obj = copy.deepcopy(state.objects.get((resource, namespace, name)))
        if obj is None:
            self._send_json(404, _status(404, "NotFound", f'{resource} "{name}" not found'))
        else:
            self._send_json(200, obj)

    def _list(self, scope: _Scope) -> None:
        state = self.server.fake.state
        with state.lock:
            state.list_requests += 1
            # kube-apiserver serves list items without kind and apiVersion: only the List has a kind.
            items = [
                _without_type(copy.deepcopy(o))
                for o in _sorted_objects(state, scope.resource)
                if scope.matches(o)
            ]
            rv = state.rv
        body = {
            "kind": f"{_KINDS[scope.resource]}List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }
        self._send_json(200, body)

    def _watch(self, scope: _Scope, params: Mapping[str, str]) -> None:
        fake = self.server.fake
        state = fake.state
        bookmarks = params.get("allowWatchBookmarks", "").lower() in _TRUE
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        requested = params.get("resourceVersion", "")
        initial: list[tuple[str, JsonObject]] = []
        with state.lock:
            state.watch_requests += 1
            if requested in ("", "0"):
                # No version: "start at most recent", preceded by the current state as ADDED events.
                cursor = state.rv
                initial = [
                    ("ADDED", copy.deepcopy(o))
                    for o in _sorted_objects(state, scope.resource)
                    if scope.matches(o)
                ]
            else:
                try:
                    cursor = int(requested)
                except ValueError:
                    cursor = -1
            expired = cursor < state.compacted_rv
            compacted = state.compacted_rv
            drop_generation = state.drop_generation
        if expired:
            message = f"too old resource version: {requested} ({compacted})"
            if fake.gone_as_http_status:
                self._send_json(410, _status(410, "Gone", message))
                return
            self._start_stream()
            self._chunk({"type": "ERROR", "object": _status(410, "Expired", message)})
            self._end_stream()
            return
        self._start_stream()
        with state.lock:
            state.open_watches += 1
        try:
            self._stream(scope, cursor, initial, bookmarks, timeout, drop_generation)
        except OSError:
            pass  # the client went away mid-write
        finally:
            with state.lock:
                state.open_watches -= 1
                state.lock.notify_all()

    def _stream(
        self,
        scope: _Scope,
        cursor: int,
        initial: list[tuple[str, JsonObject]],
        bookmarks: bool,
        timeout: float | None,
        drop_generation: int,
    ) -> None:
        fake = self.server.fake
        state = fake.state
        start = time.monotonic()
        deadline = start + timeout if timeout is not None else None
        next_bookmark = start + fake.bookmark_interval
        for kind, obj in initial:
            self._chunk({"type": kind, "object": obj})
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._end_stream()
                return

            def woken(since: int = cursor) -> bool:
                return (
                    state.rv > since
                    or state.drop_generation != drop_generation
                    or state.server_generation != self.server.generation
                )

            with state.lock:
                wake = min(t for t in (deadline, next_bookmark, now + _POLL) if t is not None)
                state.lock.wait_for(woken, timeout=max(0.0, wake - now))
                if (
                    state.drop_generation != drop_generation
                    or state.server_generation != self.server.generation
                ):
                    self._abort()
                    return
                if cursor < state.compacted_rv:
                    # A slow reader whose events were compacted away: same answer as a late resume.
                    events = [("ERROR", _status(410, "Expired", f"too old resource version: {cursor}"))]
                    cursor = -1
                else:
                    events = [
                        converted for e in state.history if e.rv > cursor if (converted := _convert(e, scope))
                    ]
                    cursor = state.rv
                rv = state.rv
            for kind, obj in events:
                self._chunk({"type": kind, "object": obj})
            if cursor < 0:
                self._end_stream()
                return
            if bookmarks and time.monotonic() >= next_bookmark:
                bookmark = {
                    "kind": _KINDS[scope.resource],
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(rv)},
                }
                self._chunk({"type": "BOOKMARK", "object": bookmark})
                next_bookmark = time.monotonic() + fake.bookmark_interval
            if self._client_gone():
                return

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _chunk(self, event: JsonObject) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        """Close without the terminating chunk: the client sees a broken stream, as on a network cut."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def _without_type(obj: JsonObject) -> JsonObject:
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return obj


def _sorted_objects(state: _State, resource: str) -> list[JsonObject]:
    return [obj for key, obj in sorted(state.objects.items()) if key[0] == resource]


def _convert(event: _Event, scope: _Scope) -> tuple[str, JsonObject] | None:
    """What one watcher sees of one change, following the apiserver cacher's rules for selectors."""
    if event.resource != scope.resource:
        return None
    current = event.type != "DELETED" and scope.matches(event.obj)
    previous = event.prev is not None and scope.matches(event.prev)
    if current and not previous:
        return ("ADDED", copy.deepcopy(event.obj))
    if current and previous:
        return ("MODIFIED", copy.deepcopy(event.obj))
    if previous and event.prev is not None:
        gone = copy.deepcopy(event.prev)
        gone["metadata"]["resourceVersion"] = str(event.rv)
        return ("DELETED", gone)
    return None


# ---------------------------------------------------------------------------------------------------
# The public fake


class FakeApiServer:
    """Start with ``start()`` (or use as a context manager); ``host`` is what a Configuration needs."""

    def __init__(
        self,
        *,
        history_window: int = 10_000,
        bookmark_interval: float = 1.0,
        gone_as_http_status: bool = False,
    ) -> None:
        self.state = _State()
        self.history_window = history_window
        self.bookmark_interval = bookmark_interval
        self.gone_as_http_status = gone_as_http_status
        self.port = 0
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._closed = threading.Event()
        self._restarts: list[threading.Thread] = []
        self.accepting = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeApiServer:
        with self._lifecycle:
            self._listen()
        return self

    def stop(self) -> None:
        self._closed.set()
        for thread in self._restarts:
            thread.join()
        with self._lifecycle:
            self._shutdown()

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def refuse_connections(self, seconds: float) -> None:
        """Stop listening and cut every open connection now; listen again on the same port later.

        Returns at once; ``accepting`` is set again once the port is back.
        """
        with self._lifecycle:
            self._shutdown()

        def restart() -> None:
            if self._closed.wait(seconds):
                return
            with self._lifecycle:
                if not self._closed.is_set():
                    self._listen()

        thread = threading.Thread(target=restart, name="fake-apiserver-restart")
        self._restarts.append(thread)
        thread.start()

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        with self.state.lock:
            server.generation = self.state.server_generation
        self.port = server.server_address[1]
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": _POLL}, name="fake-apiserver"
        )
        self._serve_thread.start()
        self.accepting.set()

    def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.accepting.clear()
        with self.state.lock:
            self.state.server_generation += 1  # every stream of this server aborts
            self.state.lock.notify_all()
        server.shutdown()
        server.server_close()  # closes the listening socket, joins handler threads
        if self._serve_thread is not None:
            self._serve_thread.join()

    # -- test controls ------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self.state.lock:
            return self.state.rv

    @property
    def list_requests(self) -> int:
        with self.state.lock:
            return self.state.list_requests

    @property
    def watch_requests(self) -> int:
        with self.state.lock:
            return self.state.watch_requests

    @property
    def open_watches(self) -> int:
        with self.state.lock:
            return self.state.open_watches

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def create(
        self, namespace: str, name: str, data: Mapping[str, str], labels: Mapping[str, str] | None = None
    ) -> JsonObject:
        with self.state.lock:
            if (CONFIGMAPS, namespace, name) in self.state.objects:
                raise KeyError(f"configmaps {namespace}/{name} already exists")
            metadata: JsonObject = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
            if labels:
                metadata["labels"] = dict(labels)
            obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": metadata, "data": dict(data)}
            return self._record(CONFIGMAPS, "ADDED", obj, None)

    def update(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> JsonObject:
        """Replace data and/or labels (None keeps the current value; {} removes every label)."""
        with self.state.lock:
            previous = self.state.objects[(CONFIGMAPS, namespace, name)]
            obj = copy.deepcopy(previous)
            if data is not None:
                obj["data"] = dict(data)
            if labels is not None:
                _set_labels(obj, labels)
            return self._record(CONFIGMAPS, "MODIFIED", obj, previous)

    def delete(self, namespace: str, name: str) -> JsonObject:
        with self.state.lock:
            previous = self.state.objects[(CONFIGMAPS, namespace, name)]
            return self._record(CONFIGMAPS, "DELETED", copy.deepcopy(previous), previous)

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> JsonObject:
        with self.state.lock:
            if (NAMESPACES, "", name) in self.state.objects:
                raise KeyError(f"namespaces {name} already exists")
            # The kubernetes.io/metadata.name label is set by the API server on every namespace.
            all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
            obj = {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": name, "uid": f"uid-ns-{name}", "labels": all_labels},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            return self._record(NAMESPACES, "ADDED", obj, None)

    def label_namespace(self, name: str, labels: Mapping[str, str]) -> JsonObject:
        """Replace the namespace's labels (the API server keeps kubernetes.io/metadata.name)."""
        with self.state.lock:
            previous = self.state.objects[(NAMESPACES, "", name)]
            obj = copy.deepcopy(previous)
            _set_labels(obj, {"kubernetes.io/metadata.name": name, **labels})
            return self._record(NAMESPACES, "MODIFIED", obj, previous)

    def delete_namespace(self, name: str) -> JsonObject:
        with self.state.lock:
            previous = self.state.objects[(NAMESPACES, "", name)]
            return self._record(NAMESPACES, "DELETED", copy.deepcopy(previous), previous)

    def forbid(self, resource: str, forbidden: bool = True) -> None:
        """Answer every request for ``resource`` ("configmaps" or "namespaces") with 403 Forbidden."""
        with self.state.lock:
            (self.state.forbidden.add if forbidden else self.state.forbidden.discard)(resource)

    def compact(self) -> None:
        """Forget all history: a watch from any resourceVersion before now gets 410 Expired."""
        with self.state.lock:
            self.state.history.clear()
            self.state.compacted_rv = self.state.rv
            self.state.lock.notify_all()

    def drop_watches(self) -> None:
        """Abruptly close every open watch stream (no terminating chunk), like a network cut."""
        with self.state.lock:
            self.state.drop_generation += 1
            self.state.lock.notify_all()

    def _record(self, resource: str, kind: str, obj: JsonObject, previous: JsonObject | None) -> JsonObject:
        state = self.state
        state.rv += 1
        obj["metadata"]["resourceVersion"] = str(state.rv)
        key = (resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if kind == "DELETED":
            del state.objects[key]
        else:
            state.objects[key] = obj
        state.history.append(_Event(resource, state.rv, kind, obj, previous))
        while len(state.history) > self.history_window:
            state.compacted_rv = state.history.popleft().rv
        state.lock.notify_all()
        return copy.deepcopy(obj)


def _set_labels(obj: JsonObject, labels: Mapping[str, str]) -> None:
    """Replace every label; {} removes the field, as a JSON merge patch of ``labels: null`` does."""
    if labels:
        obj["metadata"]["labels"] = dict(labels)
    else:
        obj["metadata"].pop("labels", None)
