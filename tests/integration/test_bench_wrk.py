"""bench/admission.lua through real wrk: the server's overload refusals count as shed, not bad.

A small HTTPS server answers every POST to /mutate the way the posted body asks (an admission, one of
the server's overload 503s, another 503, ...); wrk runs bench/admission.lua against it through
bench/wrk.py's run_wrk, and the counts of its BENCH line are checked, then what bench/run.py makes of
them.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import shutil
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from bench.common import LUA, REPO
from bench.environment import Env
from bench.reviews import Scenario
from bench.run import verdict
from bench.server import Server
from bench.throughput import Point, Report
from bench.wrk import Run, failures, run_wrk
from tests.support.processes import issue_certificate
from webhook.server.app import EXPIRED
from webhook.server.refusal import error_body

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _wrk_installed() -> None:
    """Skipped locally without wrk; a failure in CI, whose .ci/run installs it."""
    if shutil.which("wrk") is None:
        message = "wrk is not installed (apt-get install wrk)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


UID = "7f0c0f6e-1b7e-4d1c-9a57-0a3f2b8c1d22"
ADMITTED = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"'
    + UID.encode()
    + b'","allowed":true,"patchType":"JSONPatch","patch":"W10="}}'
)


def overload_messages() -> list[str]:
    """The message of every ``Refusal(503, "overloaded", "...")`` in webhook/: the server's
    designed load shedding, read from its source so that a changed message fails these tests."""
    found = []
    for path in sorted((REPO / "webhook").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Refusal"
                and [getattr(arg, "value", None) for arg in node.args[:2]] == [503, "overloaded"]
            ):
                message = node.args[2]
                assert isinstance(message, ast.Constant) and isinstance(message.value, str), ast.dump(node)
                found.append(message.value)
    return found


SHED = [error_body(message) for message in overload_messages()]
ANSWERS: dict[str, tuple[int, bytes]] = {
    "good": (200, ADMITTED),
    **{f"shed-{n}": (503, body) for n, body in enumerate(SHED)},
    "expired": (503, error_body(EXPIRED)),
    "near-miss": (503, error_body("too many reviews in progress, retry later")),
    "overload-as-429": (429, SHED[0]),
    "wrong-uid": (200, ADMITTED.replace(UID.encode(), b"another-uid")),
}
# "cycle" answers good, each overload refusal, then an expired 503, in turn.
CYCLE = ["good", *(f"shed-{n}" for n in range(len(SHED))), "expired"]


class Answering(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the webhook answers wrk
    turns = itertools.count()
    lock = threading.Lock()

    def do_POST(self) -> None:
        name = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["answer"]
        if name == "cycle":
            with self.lock:
                name = CYCLE[next(self.turns) % len(CYCLE)]
        status, body = ANSWERS[name] if self.path == "/mutate" else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Listening:
    """What run_wrk asks of bench.server.Server: the port, CPU and memory (none of its own here)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def cpu_seconds(self) -> float:
        return 0.0

    def rss_kib(self) -> int:
        return 0

    def hwm_kib(self) -> int:
        return 0


@pytest.fixture(scope="module")
def answering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listening]:
    directory = tmp_path_factory.mktemp("answering")
    certificate = issue_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.directory / "tls.crt", certificate.directory / "tls.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Listening(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def wrk(tmp_path: Path, answering: Listening, answer: str, *, conns: int = 2, threads: int = 1) -> Run:
    """One second of admission.lua through bench/wrk.py's run_wrk, posting a review that asks for
    ``answer``."""
    review = {"kind": "AdmissionReview", "request": {"uid": UID}, "answer": answer}
    body = tmp_path / f"review-{answer}.json"
    body.write_text(json.dumps(review))
    env = Env(Path("unused"), cast(str, shutil.which("wrk")), tmp_path, tmp_path, False, {answer: body})
    scenario = Scenario(answer, "a review", UID, True, body.read_bytes(), 0)
    return run_wrk(env, cast(Server, answering), scenario, conns, threads, 1.0, pinned=False)


def test_the_server_source_has_the_two_overload_refusals_the_lua_script_knows() -> None:
    lua = LUA.read_text()
    assert len(SHED) == 2
    for body in SHED:
        # admission.lua writes them as Lua single-quoted strings, the body byte for byte.
        assert f"'{body.decode()}'" in lua


def test_good_admissions_are_good_and_only_they_count_as_throughput(
    tmp_path: Path, answering: Listening
) -> None:
    run = wrk(tmp_path, answering, "good")
    assert run.values["requests"] > 0
    assert run.values["good"] == run.values["requests"]
    assert (run.values["shed"], run.values["bad"], run.failures, run.shed) == (0, 0, 0, 0)
    assert run.rps == pytest.approx(run.values["good"] / (run.values["duration_us"] / 1e6))


@pytest.mark.parametrize("name", [f"shed-{n}" for n in range(2)])
def test_an_overload_refusal_is_shed_not_bad(tmp_path: Path, answering: Listening, name: str) -> None:
    run = wrk(tmp_path, answering, name)
    assert run.values["requests"] > 0
    assert run.values["shed"] == run.values["requests"]
    assert (run.values["good"], run.values["bad"], run.values["bad_status"]) == (0, 0, 0)
    assert run.shed == run.values["requests"]
    assert run.failures == 0  # bench/run.py: not a failure ...
    assert run.rps == 0  # ... and not an admission served
    assert failures(run.values) == run.values["requests"]  # every other script: a failure


@pytest.mark.parametrize("name", ["expired", "near-miss", "overload-as-429"])
def test_any_other_refusal_is_a_bad_status(tmp_path: Path, answering: Listening, name: str) -> None:
    run = wrk(tmp_path, answering, name)
    assert run.values["requests"] > 0
    assert run.values["bad"] == run.values["bad_status"] == run.values["requests"]
    assert (run.values["good"], run.values["shed"]) == (0, 0)
    assert run.failures == run.values["requests"]


def test_a_200_with_another_uid_is_still_bad(tmp_path: Path, answering: Listening) -> None:
    run = wrk(tmp_path, answering, "wrong-uid")
    assert run.values["requests"] > 0
    assert run.values["bad"] == run.values["bad_uid"] == run.values["requests"]
    assert run.values["shed"] == 0


def test_mixed_answers_are_summed_over_threads_and_add_up(tmp_path: Path, answering: Listening) -> None:
    conns = 4
    run = wrk(tmp_path, answering, "cycle", conns=conns, threads=2)
    v = run.values
    assert v["good"] > 0 and v["shed"] > 0 and v["bad"] > 0
    assert v["good"] + v["shed"] + v["bad"] == v["requests"]
    assert v["bad"] == v["bad_status"]
    # The server answers the kinds in turn; wrk leaves at most ``conns`` answers uncounted at the end.
    assert abs(v["shed"] - 2 * v["good"]) <= 2 * (conns + 1)
    assert abs(v["bad"] - v["good"]) <= conns + 1
    # wrk's own status count holds every 503 again: it is no part of the failures.
    assert v["status"] == v["shed"] + v["bad"]
    assert run.failures == v["bad"]


def test_bench_run_exits_0_on_shed_load_and_names_the_point(
    tmp_path: Path, answering: Listening, capsys: pytest.CaptureFixture[str]
) -> None:
    shed, good = wrk(tmp_path, answering, "shed-1", conns=8), wrk(tmp_path, answering, "good")
    report = Report(
        points=[
            Point("main", "2-pod-large", "pinned", 64, 1, runs=[shed, good]),
            Point("main", "2-pod-large", "pinned", 8, 1, runs=[good]),
        ]
    )
    assert verdict(report) == 0
    err = capsys.readouterr().err
    assert "shed load" in err and "2-pod-large pinned c64" in err
    assert "c8" not in err

    # A point whose every answer was shed admitted nothing: nothing was measured there.
    nothing = Report(points=[Point("main", "2-pod-large", "pinned", 64, 1, runs=[shed])])
    assert verdict(nothing) == 1
    assert "no review admitted at: 2-pod-large pinned c64" in capsys.readouterr().err

    bad = wrk(tmp_path, answering, "near-miss")
    report.points.append(Point("main", "1-pod-rs", "pinned", 8, 1, runs=[bad]))
    assert verdict(report) == 1
    assert f"{int(bad.values['requests'])} bad answers or socket errors" in capsys.readouterr().err
