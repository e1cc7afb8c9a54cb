"""Composition root: Settings → template store and sources → TLS → app → guarded servers; signals
and drain.

The only module that wires every package together. Shutdown follows what kube-apiserver needs: on
SIGTERM readiness fails at once so endpoints stop routing to us, requests keep being served for
``drain_seconds``, then the servers stop accepting, finish what is in flight, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import signal
import socket
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from prometheus_client import disable_created_metrics, make_asgi_app

from webhook.build_info import core_build
from webhook.events.recorder import build_recorder, configmap
from webhook.kube.namespaces import NamespaceMirror
from webhook.lifecycle.background import Background
from webhook.logconfig import configure_logging
from webhook.metrics import Metrics
from webhook.server.app import Limits, Probes, create_app
from webhook.server.handler import ReviewHandler
from webhook.server.probes import ProbeApp
from webhook.settings import Settings
from webhook.signals import IGNORED_SIGNALS, ignore_stray_signals
from webhook.templates.errors import TemplateError
from webhook.templates.file_source import FolderTemplateSource
from webhook.templates.kube_source import KubeTemplateSource
from webhook.templates.store import TemplateStore, Transition
from webhook.tls.context import ReloadableContext, install_into_uvicorn_config
from webhook.tls.errors import CertificateError
from webhook.tls.sources import CertificateReloader, GeneratedCertificateSource, serving_certificate_source
from webhook.transport.listener import GuardedServer, PortOptions, all_started, guarded_server
from webhook.transport.listening import ListenError, Listening, listen, raise_open_file_limit
from webhook.transport.memory import HeapTrimmer, settle_garbage_collector
from webhook.transport.prefork import serve_workers
from webhook.wiring import review_handler

log = logging.getLogger(__name__)


PLAIN_PORT_CONNECTIONS = 64  # /metrics and the probe port: a scraper and the kubelet


class Runtime:
    """Everything one serving process holds; built from Settings, started by ``run()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.events = build_recorder(settings, self.metrics) if settings.records_events else None
        self.store = TemplateStore(metrics=self.metrics, on_transition=self._template_changed)
        self.draining = False
        self._build_template_sources()
        self._build_tls()
        self.probes = Probes(readiness=self.readiness, template_status=self.template_status)
        limits = Limits(settings.max_body_bytes, settings.max_buffered_bytes, settings.max_inflight)
        self.app = create_app(self._review_handler(), self.probes, limits, self.metrics)

    def _build_template_sources(self) -> None:
        settings = self.settings
        self.folder_sources = [
            FolderTemplateSource(
                self.store,
                folder,
                kubernetes_version=settings.kubernetes_version,
                poll_seconds=settings.template_poll_seconds,
                security=settings.template_security,
            )
            for folder in settings.effective_template_dirs
        ]
        self.kube_source = _build_kube_source(self.store, settings) if settings.kube else None
        self.namespaces: NamespaceMirror | None = None
        if settings.watches_namespaces:
            self.namespaces = NamespaceMirror(
                default_level=settings.pod_security_default_level,
                opt_in=settings.policy.namespace_opt_in,
                inject_key=settings.policy.inject_annotation,
                kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
                on_sync=self.metrics.namespace_levels_last_sync.set,
            )
        lifecycle = settings.kube and (settings.watch_pods or settings.rollout_updater)
        self.background = (
            Background(settings, self.store.snapshot, self.metrics, self.namespaces) if lifecycle else None
        )

    def _build_tls(self) -> None:
        settings = self.settings
        self.cert_source = serving_certificate_source(
            settings.cert_file, settings.key_file, settings.namespace
        )
        bundle = self.cert_source.load()
        client_ca = settings.client_ca_file.read_bytes() if settings.client_ca_file else None
        if client_ca is not None and not settings.probe_port:
            log.warning(
                "--client-ca without --probe-port: HTTP probes cannot present a client certificate, "
                "so /healthz and /readyz are out of the kubelet's reach"
            )
        self.tls = ReloadableContext.from_bundle(bundle, client_ca_pem=client_ca)
        self.metrics.certificate_not_after.set(self.tls.not_after.timestamp())
        self.reloader = CertificateReloader(
            self.cert_source,
            self.tls,
            interval=settings.cert_poll_seconds,
            on_change=self._certificate_changed,
            current_digest=bundle.digest(),
        )
        self.ca_file: Path | None = None
        if isinstance(self.cert_source, GeneratedCertificateSource):
            self.ca_file = Path(tempfile.mkdtemp(prefix="sidecar-injector-")) / "ca.crt"
            self.ca_file.write_bytes(bundle.ca_pem)

    def _review_handler(self) -> ReviewHandler:
        namespaces, opt_in_by_namespace = self.namespaces, self.settings.policy.namespace_opt_in
        opt_in = namespaces.metadata if namespaces is not None and opt_in_by_namespace else None
        return review_handler(
            self.settings,
            self.store.snapshot,
            self.metrics,
            namespace_levels=namespaces.level if namespaces is not None else None,
            namespaces=opt_in,
            on_decided=self.events.admission if self.events is not None else None,
        )

    def _template_changed(self, transition: Transition) -> None:
        origin = self.kube_source.configmap_of(transition.document) if self.kube_source else None
        if self.events is not None and origin is not None:  # None: a folder's document, no object
            self.events.template_changed(configmap(*origin), transition.error, transition.serving)

    def readiness(self) -> tuple[bool, str]:
        if self.draining:
            reason, ready = "shutting down", False
        elif not self.store.ready():
            reason, ready = "templates not loaded yet", False
        elif self.namespaces is not None and not self.namespaces.synced:
            # Until then every check and namespace opt-in would be skipped: answers would differ
            # from a ready replica's.
            reason, ready = "namespace labels and annotations not loaded yet", False
        elif not self.tls.healthy:
            reason, ready = f"certificate reload failed: {self.tls.last_error}", False
        elif self.tls.not_after <= datetime.now(UTC):
            # Unchanged files never trigger a reload, so expiry must be checked against the clock;
            # kube-apiserver would refuse every handshake from now on.
            reason, ready = f"serving certificate expired at {self.tls.not_after.isoformat()}", False
        else:
            reason, ready = "ready", True
        self.metrics.ready.set(1 if ready else 0)
        return ready, reason

    def template_status(self) -> list[dict[str, Any]]:
        rows = []
        for status in self.store.statuses():
            template = status.serving
            rows.append(
                {
                    "document": status.document,
                    "source": status.source,
                    "name": template.name if template else None,
                    "namespace": template.namespace if template else None,
                    "revision": template.revision if template else None,
                    "serving": template is not None,
                    "lastError": str(status.error) if status.error else None,
                    "updated": datetime.fromtimestamp(status.updated).isoformat(),
                }
            )
        return rows

    def _certificate_changed(self, ok: bool, not_after: datetime | None) -> None:
        self.metrics.certificate_reloads.labels("ok" if ok else "error").inc()
        self.metrics.certificate_reload_failing.set(0 if ok else 1)
        if not_after is not None:
            self.metrics.certificate_not_after.set(not_after.timestamp())

    def load_templates(self) -> None:
        """First synchronous load, so a local run is ready the moment it listens."""
        for source in self.folder_sources:
            try:
                source.sync()
            except TemplateError as exc:
                log.error("template folder %s not loaded: %s", source.folder, exc)

    async def run(self, listening: Listening) -> int:
        """Serve on sockets already listening (see webhook.transport.listening; a prefork parent shares
        its admission and probe sockets with its workers) until a signal stops us."""
        servers = self._servers()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._begin_shutdown, servers, stop)
        for sig in IGNORED_SIGNALS:
            loop.add_signal_handler(sig, _log_ignored_signal, sig)
        self._start_sources()
        reloader = asyncio.create_task(self.reloader.run(stop))
        serving = [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(servers, listening.sockets(), strict=True)
        ]
        if await all_started(servers, serving):
            self._announce()
        await asyncio.gather(*serving)
        stop.set()
        await reloader
        await self._stop_sources()
        log.info("stopped")
        return 0

    def _servers(self) -> list[GuardedServer]:
        """The admission port, then /metrics and the probe port when they are on, as Listening orders
        its sockets."""
        settings = self.settings
        trimmer = HeapTrimmer()
        options = PortOptions(
            settings.host,
            settings.max_connections,
            settings.request_timeout,
            settings.idle_timeout,
            settings.drain_seconds,
        )
        plain = dataclasses.replace(options, max_connections=PLAIN_PORT_CONNECTIONS)
        servers = [
            guarded_server(
                self.app,
                settings.port,
                options,
                trimmer,
                on_cut=lambda reason: self.metrics.connections_cut.labels(reason).inc(),
                on_change=self.metrics.connections.set,
                configure=lambda config: install_into_uvicorn_config(config, self.tls),
            )
        ]
        if settings.metrics_port:
            metrics_app = make_asgi_app(self.metrics.registry)
            servers.append(guarded_server(metrics_app, settings.metrics_port, plain, trimmer))
        if settings.probe_port:
            probe_app = ProbeApp(self.probes, template_listing=False)
            servers.append(guarded_server(probe_app, settings.probe_port, plain, trimmer))
        return servers

    def _start_sources(self) -> None:
        if self.events is not None:  # before the sources, whose changes it reports
            self.events.start()
        for source in self.folder_sources:
            source.start()
        for watcher in (self.kube_source, self.namespaces, self.background):
            if watcher is not None:
                watcher.start()

    async def _stop_sources(self) -> None:
        for source in self.folder_sources:
            source.stop()
        for watcher in (self.kube_source, self.namespaces, self.background, self.events):
            if watcher is not None:
                await asyncio.to_thread(watcher.stop)

    def _begin_shutdown(self, servers: list[GuardedServer], stop: asyncio.Event) -> None:
        if self.draining:
            for server in servers:
                server.force_exit = True
            return
        self.draining = True
        self.readiness()
        if self.settings.drain_seconds > 0:
            log.info("shutdown requested: unready now, serving for %.1f s more", self.settings.drain_seconds)
        else:
            log.info("shutdown requested")
        loop = asyncio.get_running_loop()

        def stop_servers() -> None:
            log.info("stopping: no new connections; finishing the requests in flight")
            for server in servers:
                server.should_exit = True

        loop.call_later(self.settings.drain_seconds, stop_servers)

    def _announce(self) -> None:
        settings = self.settings
        everywhere = settings.host in ("0.0.0.0", "::")
        shown = "localhost" if everywhere or _is_loopback(settings.host) else settings.host
        where = f"https://{shown}:{settings.port}"
        folders = ", ".join(str(s.folder) for s in self.folder_sources) or "-"
        log.info(
            "serving admission reviews on %s:%d%s (templates: %s; core %s)",
            settings.host,
            settings.port,
            " (all interfaces)" if everywhere else "",
            folders,
            core_build(),
        )
        if settings.metrics_port:
            log.info("serving /metrics over plain HTTP on %s:%d", settings.host, settings.metrics_port)
        if self.ca_file is not None:
            sample = Path(__file__).parent / "bundled" / "sample-review.json"
            print(
                f"\nsidecar-injector is listening on {where} with a self-signed certificate.\n"
                f"Try it:\n  curl --cacert {self.ca_file} -H 'Content-Type: application/json' "
                f"--data @{sample} {where}/mutate\n",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        """Remove what this run created outside its own memory: the generated CA's folder."""
        if self.ca_file is not None:
            shutil.rmtree(self.ca_file.parent, ignore_errors=True)


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _build_kube_source(store: TemplateStore, settings: Settings) -> KubeTemplateSource:
    namespaces = None if settings.watch_all_namespaces else [settings.namespace, *settings.watch_namespaces]
    return KubeTemplateSource(
        store,
        namespaces=list(dict.fromkeys(namespaces)) if namespaces is not None else None,
        own_namespace=settings.namespace,
        shared_namespaces=frozenset(settings.shared_template_namespaces),
        kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
        kubernetes_version=settings.kubernetes_version,
        security=settings.template_security,
        legacy=settings.policy.legacy_annotations,
    )


def _log_ignored_signal(sig: signal.Signals) -> None:
    log.warning("received %s: ignored (only SIGTERM and SIGINT stop the server)", sig.name)


def serve(settings: Settings) -> int:
    ignore_stray_signals()  # again, for callers that did not come through the CLI
    configure_logging(settings.log_level, settings.log_format)
    raise_open_file_limit()
    # *_created series double the exposition size and no dashboard uses them.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
    if settings.workers > 1:
        if settings.cert_file is None:
            log.error(
                "cannot start: --workers needs --cert and --key, so every worker serves one certificate"
            )
            return 2
        return serve_workers(settings, _serve_one)
    return _serve_one(settings, None, None)


def _serve_one(settings: Settings, sock: socket.socket | None, probe_sock: socket.socket | None) -> int:
    """One serving process; ``sock`` and ``probe_sock`` are a prefork parent's shared sockets."""
    listening = Listening()
    try:
        listening.admission = sock if sock is not None else listen(settings.host, settings.port, "--port")
        if settings.metrics_port:
            listening.metrics = listen(settings.host, settings.metrics_port, "--metrics-port")
        if settings.probe_port:
            listening.probe = probe_sock or listen(settings.host, settings.probe_port, "--probe-port")
        runtime = Runtime(settings)
    except (ListenError, CertificateError, OSError) as exc:
        log.error("cannot start: %s", exc)
        listening.close()
        return 1
    try:
        runtime.load_templates()
        settle_garbage_collector()
        # uvloop's I/O path is several times cheaper than asyncio's own.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(runtime.run(listening))
    finally:
        runtime.close()
