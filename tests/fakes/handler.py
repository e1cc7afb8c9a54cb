"""The HTTP edge: routing, recording, faults, RBAC refusals, content negotiation and encoding.

Refusals that come from kube-apiserver's router rather than a REST handler are "generic" Status
bodies: an unknown path is a 404 "the server could not find the requested resource", a method the
route does not offer (POST to an object, PUT to a collection) a 405, and a PATCH body whose
Content-Type is not one of the four patch types a 415 with no reason and "the server responded with the status
code 415 but did not return more information" — which is what kube-apiserver answers a PATCH with
an unknown patch type on built-in resources. POST and PUT routes accept any Content-Type; the decoder
then takes none as JSON and refuses an unknown one (415 UnsupportedMediaType, naming the types it
accepts).

Every response carries ``Connection: close`` so that "refuse connections" really means no request
gets through: a pooled keep-alive connection would otherwise outlive the listening socket.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.fakes import discovery, listing, negotiation, views
from tests.fakes.negotiation import ACCEPTED
from tests.fakes.patching import PATCH_TYPES
from tests.fakes.recording import RecordedRequest
from tests.fakes.resources import Target, parse_path
from tests.fakes.selectors import Selector, parse_field_selector, parse_label_selector
from tests.fakes.status import ApiError, FieldError, bad_request, generic, invalid
from tests.fakes.watching import Watch

if TYPE_CHECKING:
    from tests.fakes.apiserver import FakeApiServer

JsonObject = dict[str, Any]
_TRUE = frozenset({"1", "t", "true"})
_BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


class Server(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(): stopping the fake leaves no thread behind.
    daemon_threads = False
    block_on_close = True
    fake: FakeApiServer
    generation: int


def verb_of(method: str, target: Target, watch: bool) -> str | None:
    collection = target.name is None
    if method == "GET":
        return "watch" if watch else ("list" if collection else "get")
    if method == "POST":
        return "create" if collection and target.subresource is None else None
    if method in ("PUT", "PATCH"):
        return None if collection else ("update" if method == "PUT" else "patch")
    if method == "DELETE":
        return "deletecollection" if collection else ("delete" if target.subresource is None else None)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- dispatch ------------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self.close_connection = True
        fake = self.server.fake
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = parse_path(url.path)
        watch = params.get("watch", "").lower() in _TRUE
        verb = None if target is None else verb_of(method, target, watch)
        resource = None if target is None else target.resource.qualified
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake.recorder.record(
            RecordedRequest(url.path, params, method, url.query, headers, body, verb, resource)
        )
        self._media: negotiation.MediaType = negotiation.MediaType()
        try:
            if target is None and method == "GET" and (found := discovery.document(url.path)) is not None:
                self._send_json(200, found)
                return
            if target is None:
                raise generic(404)
            if verb is None:
                raise generic(405)
            fake.recorder.count(verb, target.resource.qualified)
            fake.faults.apply(verb, target, self.headers.get("User-Agent", ""))
            fake.access.check(verb, target)
            self._check_content_type(method, body)
            self._media = negotiation.negotiate(self.headers.get("Accept"), watch)
            self._serve(verb, target, params, body)
        except ApiError as error:
            self._send_json(error.code, error.status)
        except OSError:
            pass  # the client went away mid-answer
        except Exception as exc:  # a bug in the fake: answer like the apiserver's panic handler, and keep it
            fake.internal_errors.append(traceback.format_exc())
            self._send_json(500, ApiError(500, "InternalError", f"Internal error occurred: {exc!r}").status)

    def _check_content_type(self, method: str, body: bytes) -> None:
        if not body or method not in ("POST", "PUT", "PATCH"):
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if method == "PATCH":
            # The PATCH route consumes only the patch types: the router refuses the rest (and no type).
            if content_type not in PATCH_TYPES:
                raise generic(415)
        elif content_type and content_type not in _BODY_TYPES:
            # POST and PUT routes consume */* ("we accepted objects with empty content-type at V1"): the
            # handler's decoder refuses an unknown type, and takes none as JSON.
            message = (
                f"the body of the request was in an unknown format - accepted media types include: {ACCEPTED}"
            )
            raise ApiError(415, "UnsupportedMediaType", message)

    def _serve(self, verb: str, target: Target, params: Mapping[str, str], body: bytes) -> None:
        dry_run = _dry_run(params, verb)
        if verb in ("list", "watch", "deletecollection"):
            self._serve_collection(verb, target, params, body, dry_run)
        else:
            negotiation.check_single(self._media, target.resource.go_type)
            self._serve_object(verb, target, params, body, dry_run)

    def _serve_collection(
        self, verb: str, target: Target, params: Mapping[str, str], body: bytes, dry_run: bool
    ) -> None:
        fake, resource = self.server.fake, target.resource
        opts = listing.ListOptions.parse(params)
        if verb != "deletecollection":
            opts.validate()
        selector = self._selector(target, params)
        if verb == "watch":
            self._watch(target, selector, opts)
        elif verb == "list":
            with fake.store.lock:
                fake.recorder.list_requests += 1
                listed = listing.list_objects(fake.rest, resource, selector, opts)
            negotiation.check_list(self._media, f"*{resource.go_package}.{resource.list_kind}")
            if self._media.convert:
                listed = views.partial_list(listed, self._media.group_version)
            self._send_json(200, listed)
        else:
            with fake.store.lock:
                matching = [
                    o
                    for o in fake.store.items(resource.storage)
                    if selector.matches(views.render(resource, o))
                ]
                deleted = fake.deleter.delete_collection(
                    resource, matching, _delete_options(params, body), dry_run
                )
            self._send_object(200, deleted)

    def _serve_object(
        self, verb: str, target: Target, params: Mapping[str, str], body: bytes, dry_run: bool
    ) -> None:
        fake = self.server.fake
        resource, namespace, name, subresource = (
            target.resource,
            target.namespace,
            target.name or "",
            target.subresource,
        )
        if verb == "get":
            with fake.store.lock:
                obj = fake.rest.get(resource, namespace or "", name, params.get("resourceVersion"))
            self._send_object(200, obj)
        elif verb == "create":
            self._send_object(201, fake.rest.create(resource, namespace, self._body(body), dry_run))
        elif verb == "update":
            obj, code = fake.rest.update(resource, namespace, name, self._body(body), subresource, dry_run)
            self._send_object(code, obj)
        elif verb == "patch":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            self._send_object(
                200, fake.rest.patch(resource, namespace, name, content_type, body, subresource, dry_run)
            )
        else:
            options = _delete_options(params, body)
            self._send_object(200, fake.deleter.delete(resource, namespace, name, options, dry_run))

    def _selector(self, target: Target, params: Mapping[str, str]) -> Selector:
        try:
            labels = parse_label_selector(params.get("labelSelector", ""))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        getters = target.resource.field_getters()
        fields = parse_field_selector(params.get("fieldSelector", ""), getters)
        if target.name is not None:  # a watch on one object is a watch with a metadata.name selector
            named = [t for t in fields if t.label == "metadata.name"]
            if any(t.value != target.name or t.negated for t in named) or len(named) != len(fields):
                raise bad_request("fieldSelector metadata.name doesn't match requested name")
            fields = parse_field_selector(f"metadata.name={target.name}", getters)
        return Selector(target.namespace, labels, fields, getters)

    def _watch(self, target: Target, selector: Selector, opts: listing.ListOptions) -> None:
        fake = self.server.fake
        with fake.store.lock:
            fake.recorder.watch_requests += 1
            drop_generation = fake.recorder.drop_generation
        server_generation = self.server.generation

        def interrupted() -> bool:
            return (
                fake.recorder.drop_generation != drop_generation
                or fake.server_generation != server_generation
            )

        watch = Watch(
            fake.rest,
            target.resource,
            selector,
            opts,
            self._media,
            fake.bookmark_interval,
            fake.gone_as_http_status,
            interrupted,
        )
        with fake.store.lock:
            fake.recorder.open_watches += 1
        try:
            watch.serve(_ChunkedStream(self))
        finally:
            with fake.store.lock:
                fake.recorder.open_watches -= 1
                fake.store.lock.notify_all()

    # -- encoding ------------------------------------------------------------------------------------

    def _body(self, body: bytes) -> Any:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if content_type == "application/yaml":
                return yaml.safe_load(body)
            if content_type == "application/vnd.kubernetes.protobuf":
                raise ApiError(415, "UnsupportedMediaType", "the fake API server does not decode protobuf")
            return json.loads(body) if body else None
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from None

    def _send_object(self, code: int, obj: JsonObject) -> None:
        if self._media.convert == negotiation.PARTIAL and obj.get("kind") != "Status":
            obj = views.partial(obj, self._media.group_version)
        self._send_json(code, obj)

    def _send_json(self, code: int, body: JsonObject) -> None:
        if self._media.yaml:
            data = yaml.safe_dump(body, sort_keys=False).encode()
        else:
            data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", self._media.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class _ChunkedStream:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def start(self) -> None:
        self.handler.send_response(200)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Transfer-Encoding", "chunked")
        self.handler.send_header("Connection", "close")
        self.handler.end_headers()

    def send(self, event: JsonObject) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Close without the terminating chunk: the client sees a broken stream, as on a network cut."""
        with contextlib.suppress(OSError):
            self.handler.connection.shutdown(socket.SHUT_RDWR)

    def client_gone(self) -> bool:
        connection = self.handler.connection
        try:
            readable, _, _ = select.select([connection], [], [], 0)
            return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def _dry_run(params: Mapping[str, str], verb: str) -> bool:
    value = params.get("dryRun")
    if value is None or verb in ("get", "list", "watch"):
        return False
    if value != "All":
        kind = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}.get(
            verb, "DeleteOptions"
        )
        error = FieldError("NotSupported", "dryRun", value, supported=("All",))
        raise invalid(kind, "meta.k8s.io", "", [error])
    return True


def _delete_options(params: Mapping[str, str], body: bytes) -> JsonObject:
    options: JsonObject = {}
    if body:
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        options = decoded if isinstance(decoded, dict) else {}
    if "propagationPolicy" in params:
        options["propagationPolicy"] = params["propagationPolicy"]
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        error = FieldError(
            "NotSupported",
            "propagationPolicy",
            policy,
            supported=("Foreground", "Background", "Orphan", "nil"),
        )
        raise invalid("DeleteOptions", "meta.k8s.io", "", [error])
    return options
