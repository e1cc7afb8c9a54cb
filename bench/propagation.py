"""How fast a ConfigMap change reaches the template store, and what 1,000 templates cost.

Run from the repository root:  python -m bench.propagation [--templates 1000] [--changes 50]

The fake apiserver runs in a child process (driven through a pipe), so the RSS reported is the
injector side alone: kubernetes client, reflector mirror, parsed templates and the store. Measured:

- propagation: time from a ConfigMap update at the API to the store serving the new template,
  over ``--changes`` sequential updates (median, p90, max); it includes the coalescing window;
- full reload: from start() to a ready store serving every template (list + parse + one swap), and a
  forced re-list (history compacted, stream cut → 410 → list) of the same set;
- RSS of this process once the templates are loaded;
- end to end (``--through-webhook N``): from a ConfigMap update at the API to the first review that a
  separate ``sidecar-injector serve --kube`` process answers over HTTPS with the new template.

Numbers go to the README, never to assertions. ``main()`` is importable for other benchmark drivers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.report import ms, pct

TEMPLATE_LABEL = "sidecar-injector.io/template"
NAMESPACE = "injector"


def _template(image: str) -> dict[str, str]:
    return {
        "template": (
            "containers:\n"
            "- name: sidecar\n"
            f"  image: {image}\n"
            "  args: [--port=15000]\n"
            "  resources: {requests: {cpu: 10m, memory: 16Mi}}\n"
            "volumes:\n"
            "- name: sidecar-config\n"
            "  emptyDir: {}\n"
        )
    }


def _serve_fake(conn: multiprocessing.connection.Connection) -> None:
    """Child process: run the fake apiserver and execute (method, args) commands from the pipe."""
    from tests.fakes import FakeApiServer

    with FakeApiServer(bookmark_interval=1.0) as fake:
        conn.send(fake.port)
        while True:
            method, args, kwargs = conn.recv()
            if method == "stop":
                break
            conn.send(getattr(fake, method)(*args, **kwargs))
    conn.close()


class _RemoteFake:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        self.port: int = self._conn.recv()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send((method, args, kwargs))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(("stop", (), {}))
        self._process.join(10)
        self._conn.close()


@dataclass(frozen=True)
class Results:
    templates: int
    changes: int
    coalesce_quiet: float
    delays: tuple[float, ...]
    initial_load: float
    relist: float
    rss_before: int
    rss_after: int


def _rss_kib() -> int:
    """Current resident set size (VmRSS), in KiB; Linux /proc, else the peak from getrusage."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _wait(predicate: Callable[[], bool], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the store did not catch up")
        time.sleep(0.0005)


def measure(templates: int = 1000, changes: int = 50, coalesce_quiet: float = 0.1) -> Results:
    import kubernetes.client

    from webhook.templates.kube_source import KubeTemplateSource, Timings
    from webhook.templates.store import TemplateStore

    fake = _RemoteFake()
    try:
        for index in range(templates):
            fake.call("create", NAMESPACE, f"tpl-{index}", _template("img:0"), {TEMPLATE_LABEL: "true"})
        rss_before = _rss_kib()
        store = TemplateStore()
        configuration = kubernetes.client.Configuration(host=f"http://127.0.0.1:{fake.port}")
        timings = replace(Timings(), coalesce_quiet=coalesce_quiet)
        source = KubeTemplateSource(
            store, own_namespace=NAMESPACE, configuration=configuration, timings=timings
        )
        started = time.perf_counter()
        source.start()
        try:
            _wait(lambda: store.ready() and len(store.snapshot()) == templates)
            initial_load = time.perf_counter() - started
            rss_after = _rss_kib()

            def image(index: int) -> str | None:
                found = store.snapshot().resolve(f"tpl-{index}", NAMESPACE)
                return None if found is None else str(found.containers[0]["image"])

            delays = []
            for change in range(1, changes + 1):
                index = change % templates
                wanted = f"img:{change}"
                began = time.perf_counter()
                fake.call("update", NAMESPACE, f"tpl-{index}", data=_template(wanted))

                def served(index: int = index, wanted: str = wanted) -> bool:
                    return image(index) == wanted

                _wait(served)
                delays.append(time.perf_counter() - began)

            lists = source.lists
            # Disconnect first, change and compact while the client cannot see it, then let it back:
            # it resumes from a resourceVersion the server no longer has, gets 410 and must re-list.
            outage = 0.5
            fake.call("refuse_connections", outage)
            fake.call("update", NAMESPACE, "tpl-0", data=_template("img:relist"))
            fake.call("compact")
            time.sleep(outage)
            began = time.perf_counter()  # from the port reopening: reconnect, 410, list, parse, swap
            _wait(lambda: source.lists > lists and image(0) == "img:relist")
            relist = time.perf_counter() - began
        finally:
            source.stop()
    finally:
        fake.close()
    return Results(
        templates, changes, coalesce_quiet, tuple(delays), initial_load, relist, rss_before, rss_after
    )


def measure_through_webhook(changes: int = 30) -> tuple[float, ...]:
    """End to end: a ConfigMap update at the API until ``sidecar-injector serve --kube`` answers a
    review over HTTPS with the new template (the server is a separate process, as in a cluster)."""
    import base64
    import json
    import os
    import ssl
    import subprocess
    import tempfile
    from pathlib import Path

    import httpx

    from tests.support.processes import free_port
    from tests.support.reviews import review

    fake = _RemoteFake()
    work = Path(tempfile.mkdtemp(prefix="propagation-"))
    fake.call("create", NAMESPACE, "tpl", _template("img:0"), {TEMPLATE_LABEL: "true"})
    (work / "kubeconfig").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{fake.port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
            }
        )
    )
    entry = [sys.executable, "-m", "webhook"]
    subprocess.run(
        [
            *entry,
            "certs",
            "generate",
            "--service",
            "s",
            "--namespace",
            NAMESPACE,
            "--out",
            str(work),
            "--extra-name",
            "127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *entry,
            "serve",
            "--kube",
            "--kubeconfig",
            str(work / "kubeconfig"),
            "--namespace",
            NAMESPACE,
            "--cert",
            str(work / "tls.crt"),
            "--key",
            str(work / "tls.key"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-port",
            "0",
            "--log-level",
            "WARNING",
            "--drain-seconds",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": NAMESPACE,
            "annotations": {"sidecar-injector.io/inject": "tpl"},
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    body = json.dumps(review(pod, namespace=NAMESPACE)).encode()
    context = ssl.create_default_context(cafile=str(work / "ca.crt"))
    delays: list[float] = []
    try:
        with httpx.Client(verify=context, timeout=5) as client:

            def served_image() -> str | None:
                try:
                    answer = client.post(
                        f"https://127.0.0.1:{port}/mutate",
                        content=body,
                        headers={"content-type": "application/json"},
                    ).json()["response"]
                except httpx.TransportError:
                    return None
                if "patch" not in answer:
                    return None
                ops = json.loads(base64.b64decode(answer["patch"]))
                return next((op["value"]["image"] for op in ops if op["path"] == "/spec/containers/-"), None)

            _wait(lambda: served_image() == "img:0", within=60)
            for change in range(1, changes + 1):
                wanted = f"img:{change}"
                began = time.perf_counter()
                fake.call("update", NAMESPACE, "tpl", data=_template(wanted))
                _wait(lambda wanted=wanted: served_image() == wanted)
                delays.append(time.perf_counter() - began)
    finally:
        server.terminate()
        server.wait(30)
        fake.close()
    return tuple(delays)


def render(results: Results) -> str:
    delays = sorted(results.delays)
    p90 = pct(delays, 90)
    rows = [
        ("Propagation, median", ms(statistics.median(delays))),
        ("Propagation, p90", ms(p90)),
        ("Propagation, max", ms(delays[-1])),
        (f"Initial list + parse, {results.templates} templates", ms(results.initial_load)),
        (f"Re-list after 410, {results.templates} templates", ms(results.relist)),
        ("RSS before the source started", f"{results.rss_before / 1024:.1f} MiB"),
        (f"RSS with {results.templates} templates loaded", f"{results.rss_after / 1024:.1f} MiB"),
    ]
    lines = [
        f"Kube template source: {results.changes} sequential changes, coalescing quiet period "
        f"{ms(results.coalesce_quiet)}, Python {sys.version.split()[0]}",
        "",
        "| Measure | Value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--templates", type=int, default=1000, help="template ConfigMaps to load")
    parser.add_argument("--changes", type=int, default=50, help="sequential updates to time")
    parser.add_argument("--coalesce", type=float, default=0.1, help="coalescing quiet period, seconds")
    parser.add_argument(
        "--through-webhook",
        type=int,
        default=30,
        metavar="N",
        help="also time N changes end to end, to a review answered over HTTPS (0: skip)",
    )
    args = parser.parse_args(argv)
    print(render(measure(args.templates, args.changes, args.coalesce)))
    if args.through_webhook:
        delays = sorted(measure_through_webhook(args.through_webhook))
        p90 = pct(delays, 90)
        print(
            f"\nEnd to end (ConfigMap update at the API -> first review answered with it, "
            f"{len(delays)} changes): median {ms(statistics.median(delays))}, p90 {ms(p90)}, "
            f"max {ms(delays[-1])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
