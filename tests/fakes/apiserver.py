"""A fake kube-apiserver over real HTTP on 127.0.0.1, as unkind as the real one.

It serves, at their real URLs (``/api/v1/...``, ``/apis/<group>/<version>/...``, namespaced and
all-namespaces): core/v1 configmaps, namespaces, pods, events; apps/v1 deployments, replicasets,
statefulsets, daemonsets; batch/v1 jobs, cronjobs; coordination.k8s.io/v1 leases; events.k8s.io/v1
events — with get, list, watch, create, update, patch (JSON patch, merge patch, strategic merge
patch), delete and deletecollection, and the ``/status`` subresource of the workloads and Pods. Each
module of this package documents one part of the protocol and cites the behaviour it reproduces:

===============  ===================================================================================
``resources``    the resources, their URL shapes and per-resource rules
``rest``         get/create/update/patch semantics (preconditions, conflicts, dry-run)
``strategies``   what the server sets on create/update (uid, generation, status, …)
``defaults``     defaulting and the Pod admission plugins of a default cluster
``validation``   the validation clients meet (422 Invalid with causes)
``deletion``     delete, finalizers, garbage collection, namespace termination
``listing``      resourceVersion semantics, limit/continue, list/watch option validation
``watching``     watch streams, initial events, bookmarks, 410 after compaction
``negotiation``  Accept negotiation and metadata-only (PartialObjectMetadata) responses
``discovery``    ``/api``, ``/apis`` and each group version's resources (kubectl describe, events)
``patching``     patch types, ``strategic`` the strategic merge patch
``status``       Status bodies for every error; ``views`` objects as each version shows them
``faults``       injected failures and hangs; ``controllers`` playing the workload controllers
``admission``    mutating admission webhooks called over HTTPS, as kube-apiserver calls them
===============  ===================================================================================

The ``FakeApiServer`` below is the test's handle: lifecycle, the controls of the original
ConfigMap/Namespace fake (unchanged), generic controls for any object (they go through the same
REST rules as HTTP requests and raise ``ApiError`` as those would answer), rollout controls, faults,
RBAC refusals and the record of every request.
"""

from __future__ import annotations

import copy
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.fakes import patching
from tests.fakes import resources as r
from tests.fakes.access import Access
from tests.fakes.admission import MutatingWebhook
from tests.fakes.autocontroller import AutoController
from tests.fakes.controllers import RolloutController
from tests.fakes.deletion import Deleter
from tests.fakes.faults import Fault, Faults
from tests.fakes.handler import Handler, Server
from tests.fakes.legacy import OriginalControls
from tests.fakes.listing import ListOptions, list_objects
from tests.fakes.recording import RecordedRequest, Recorder
from tests.fakes.rest import Rest
from tests.fakes.selectors import Selector, parse_label_selector
from tests.fakes.storage import Store

JsonObject = dict[str, Any]
_POLL = 0.05
DEFAULT_USER = "system:serviceaccount:injector:sidecar-injector"


class FakeApiServer(OriginalControls):
    """Start with ``start()`` (or use as a context manager); ``host`` is what a Configuration needs."""

    def __init__(
        self,
        *,
        history_window: int = 10_000,
        bookmark_interval: float = 1.0,
        gone_as_http_status: bool = False,
        user: str = DEFAULT_USER,
    ) -> None:
        self.store = Store(history_window=history_window)
        self.rest = Rest(self.store)
        self.deleter = Deleter(self.store, self.rest)
        self.recorder = Recorder(self.store.lock)
        self.rollouts = RolloutController(self)
        self.bookmark_interval = bookmark_interval
        self.gone_as_http_status = gone_as_http_status
        self.access = Access(user)
        self.rest.user = user
        self.port = 0
        self.server_generation = 0
        self.faults = Faults(self._hold)
        self.internal_errors: list[str] = []  # tracebacks of bugs in the fake itself (answered as 500)
        self._auto: AutoController | None = None
        self._server: Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._closed = threading.Event()
        self._restarts: list[threading.Thread] = []
        self.accepting = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def history_window(self) -> int:
        return self.store.history_window

    @history_window.setter
    def history_window(self, value: int) -> None:
        self.store.history_window = value

    def start(self) -> FakeApiServer:
        with self._lifecycle:
            self._listen()
        return self

    def stop(self) -> None:
        self._closed.set()
        self.stop_rollout_controller()
        self.deleter.stop()
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
        server = Server(("127.0.0.1", self.port), Handler)
        server.fake = self
        with self.store.lock:
            server.generation = self.server_generation
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
        with self.store.lock:
            self.server_generation += 1  # every stream of this server aborts, every hang ends
            self.store.lock.notify_all()
        server.shutdown()
        server.server_close()  # closes the listening socket, joins handler threads
        if self._serve_thread is not None:
            self._serve_thread.join()

    # -- what was received --------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self.store.lock:
            return self.store.rv

    @property
    def list_requests(self) -> int:
        with self.store.lock:
            return self.recorder.list_requests

    @property
    def watch_requests(self) -> int:
        with self.store.lock:
            return self.recorder.watch_requests

    @property
    def open_watches(self) -> int:
        with self.store.lock:
            return self.recorder.open_watches

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.store.lock:
            return list(self.recorder.requests)

    @property
    def verb_counts(self) -> Counter[tuple[str, str]]:
        """``(verb, resource)`` → requests, e.g. ``("create", "events.events.k8s.io")``."""
        with self.store.lock:
            return Counter(self.recorder.verbs)

    def count(self, verb: str, resource: str | None = None) -> int:
        counts = self.verb_counts
        return sum(n for (v, res), n in counts.items() if v == verb and resource in (None, res))

    def compact(self) -> None:
        """Forget all history: a watch from any resourceVersion before now gets 410 Expired."""
        with self.store.lock:
            self.store.compact()

    def drop_watches(self) -> None:
        """Abruptly close every open watch stream (no terminating chunk), like a network cut."""
        with self.store.lock:
            self.recorder.drop_generation += 1
            self.store.lock.notify_all()

    # -- generic controls (the same REST rules as HTTP; failures raise ApiError) ---------------------

    def create_object(self, obj: JsonObject, *, dry_run: bool = False) -> JsonObject:
        resource = r.by_kind(obj["apiVersion"], obj["kind"])
        return self.rest.create(resource, obj.get("metadata", {}).get("namespace"), obj, dry_run)

    def get_object(self, resource: str, namespace: str | None, name: str) -> JsonObject:
        with self.store.lock:
            return self.rest.get(r.by_name(resource), namespace or "", name, None)

    def list_objects(
        self, resource: str, namespace: str | None = None, label_selector: str = ""
    ) -> list[JsonObject]:
        """Current objects (with kind and apiVersion, unlike list items on the wire)."""
        kind = r.by_name(resource)
        selector = Selector(namespace, parse_label_selector(label_selector))
        with self.store.lock:
            listed = list_objects(self.rest, kind, selector, ListOptions())
        return [
            {"kind": kind.kind, "apiVersion": kind.api_version, **copy.deepcopy(item)}
            for item in listed["items"]
        ]

    def update_object(self, obj: JsonObject, *, subresource: str | None = None) -> JsonObject:
        resource = r.by_kind(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        return self.rest.update(resource, meta.get("namespace"), meta["name"], obj, subresource)[0]

    def patch_object(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str = patching.MERGE_PATCH,
        *,
        subresource: str | None = None,
    ) -> JsonObject:
        raw = json.dumps(patch).encode()
        return self.rest.patch(r.by_name(resource), namespace, name, patch_type, raw, subresource)

    def delete_object(
        self, resource: str, namespace: str | None, name: str, *, propagation_policy: str | None = None
    ) -> JsonObject:
        options = {"propagationPolicy": propagation_policy} if propagation_policy else {}
        return self.deleter.delete(r.by_name(resource), namespace, name, options)

    def stale_cache(self, revisions: int) -> None:
        """Make ``resourceVersion=0`` reads (the watch cache) lag ``revisions`` writes behind."""
        self.rest.cache_lag = revisions

    @property
    def fresh_wait(self) -> float:
        """How long a read for a resourceVersion the store has not reached waits before a 504."""
        return self.rest.fresh_wait

    @fresh_wait.setter
    def fresh_wait(self, seconds: float) -> None:
        self.rest.fresh_wait = seconds

    # -- rollouts -----------------------------------------------------------------------------------

    def complete_rollout(self, resource: str, namespace: str, name: str, *, nodes: int = 1) -> JsonObject:
        """Play the controller to the end of the current rollout (see ``controllers``)."""
        return self.rollouts.complete(r.by_name(resource), namespace, name, nodes=nodes)

    def fail_rollout(self, resource: str, namespace: str, name: str) -> JsonObject:
        return self.rollouts.fail(r.by_name(resource), namespace, name)

    def start_rollout_controller(
        self, delay: float = 0.05, failing: set[tuple[str, str, str]] | None = None
    ) -> None:
        """Complete every new rollout ``delay`` s after it starts; fail those in ``failing``
        (``(resource, namespace, name)``)."""
        self.stop_rollout_controller()
        self._auto = AutoController(self.rollouts, delay)
        self._auto.failing = set(failing or ())
        self._auto.start()

    def stop_rollout_controller(self) -> None:
        auto, self._auto = self._auto, None
        if auto is not None:
            auto.stop()

    # -- admission -----------------------------------------------------------------------------------

    def add_mutating_webhook(
        self,
        url: str,
        context: ssl.SSLContext,
        resources: Iterable[str] = ("pods",),
        *,
        name: str = "inject.sidecar-injector.io",
        failure_policy: str = "Fail",
        timeout: float = 10.0,
    ) -> MutatingWebhook:
        """Send every create and update of ``resources`` (``pods``, ``deployments.apps``...) to ``url``
        as kube-apiserver would (see ``admission``); ``context`` verifies the webhook's certificate."""
        hook = MutatingWebhook(name, url, context, frozenset(resources), failure_policy, timeout)
        with self.store.lock:
            self.rest.admission.webhooks.append(hook)
        return hook

    def remove_webhooks(self) -> None:
        with self.store.lock:
            self.rest.admission.webhooks.clear()

    # -- faults and RBAC ----------------------------------------------------------------------------

    def fail_requests(self, **match: Any) -> Fault:
        """Answer matching requests with an error (``status``, default 500); see ``faults.Fault``."""
        return self.faults.add(Fault(**match))

    def hang_requests(self, seconds: float, **match: Any) -> Fault:
        """Hold matching requests ``seconds`` before serving them (or failing them, with ``status``)."""
        return self.faults.add(Fault(hang=seconds, **{"status": None, **match}))

    def clear_faults(self) -> None:
        self.faults.clear()

    def _hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less if this server stops or refuses connections meanwhile."""
        generation = self.server_generation
        deadline = time.monotonic() + seconds
        with self.store.lock:
            self.store.lock.wait_for(
                lambda: self.server_generation != generation or time.monotonic() >= deadline, timeout=seconds
            )

    def forbid(self, resource: str, forbidden: bool = True, verbs: set[str] | None = None) -> None:
        """Answer requests for ``resource`` (``configmaps``, ``deployments.apps``…) with 403 Forbidden, as
        RBAC does for a missing grant; ``verbs`` limits it to those verbs."""
        self.access.forbid(resource, forbidden, verbs)
