#!/usr/bin/env python3
"""Where the time goes: py-spy on the real server under wrk load, plus the handler alone in-process.

    python bench/profile.py                  # the reference scenario, 1 and 4, 15 s of samples each
    python bench/profile.py --only-handler   # only the in-process handler timing (no py-spy, no wrk)
    python bench/profile.py --duration 30 --no-native

For each scenario it starts ``sidecar-injector serve`` exactly as bench/run.py does (server on core 0,
wrk and py-spy on core 1, 8 connections), attaches ``py-spy record`` (root/ptrace needed; py-spy is
pip-installed into this environment if missing) twice: once for a flamegraph SVG, once for raw
collapsed stacks, which this script summarises: top functions by self time, and a breakdown by
layer (TLS, HTTP parsing, the ASGI app, envelope JSON, engine, patch verification, logging,
metrics, event loop). ``--native`` (default) also unwinds C frames, so time inside OpenSSL, uvloop,
httptools and orjson is visible instead of being charged to the Python caller, and so is a core
compiled by mypyc (scripts/compile-core), whose functions are C frames (``CPyDef_engine___mutate``)
counted in their module's layer like the interpreted ones; the header says which core ran. Without
``--native`` a compiled core's time is charged to its Python caller.

Then it times ``ReviewHandler.handle()`` in-process (no HTTP, no TLS) as the server builds it, and
with per-review logging off and with patch verification off, to separate the application's cost
from the HTTP/TLS layer's. Output: bench/results/profile.md (+ profile-<scenario>.svg/.txt).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr
from pathlib import Path

import orjson

# python bench/profile.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LUA, REPO, RESULTS, BenchError, progress
from bench.environment import Env, machine_meta, prepare
from bench.reviews import Scenario
from bench.server import check_answer, running
from bench.wrk import failures as wrk_failures
from bench.wrk import parse_bench_line, run_wrk
from webhook.build_info import compiled_modules

PROFILED = ("0-reference", "1-pod-rs", "4-pod-not-opted-in")


def compiled_stems(package: str) -> list[str]:
    """The modules of one package (``webhook/core``) on the compiled list, by the last part of
    their dotted names, as mypyc names them: each file's stem, the package's __init__ by the
    package's own name ("core"). Read from build_info, so a module compiled later is profiled too."""
    dotted = package.replace("/", ".")
    return sorted(
        name.rpartition(".")[2]
        for name in compiled_modules(REPO)
        if name == dotted or name.rpartition(".")[0] == dotted
    )


# The admission port's ASGI app (request path, budget): compiled or not, its own layer.
ASGI_APP = ("app", "asgi", "limits")
# The server's decision path around the engine (envelope, decision, recording): the compiled server
# modules that are not the ASGI app's.
SERVER_COMPILED = [stem for stem in compiled_stems("webhook/server") if stem not in ASGI_APP]
ASGI_COMPILED = [stem for stem in compiled_stems("webhook/server") if stem in ASGI_APP]

# The file of a compiled frame: the group's C source, or its shared library when py-spy finds no lines.
NATIVE_FILE = r"\([^()]*(?:__native_\w*\.c|__mypyc\.)"


def native_prefix(package: str) -> str:
    """What may stand before a module's name in its C names: mypyc names a module by the shortest
    suffix of its dotted name unique among the modules compiled together, dots as ``___``: ``engine``,
    or ``core___engine`` should two share a stem. For "webhook/core": ``(?:(?:webhook___)?core___)?``."""
    prefix = ""
    for part in package.split("/"):
        prefix = f"(?:{prefix}{re.escape(part)}___)?"
    return prefix


def compiled(package: str, modules: Sequence[str]) -> str:
    """A frame of mypyc's C code for one of these modules of the package: a function
    ``CPyDef_engine___mutate (__native_core.c:2015)``, its wrapper callable from Python
    ``CPyPy_engine___mutate``, a native class's slot ``model___MutationResult_dealloc``."""
    names = "|".join(map(re.escape, modules))
    return rf"^(?:CPy(?:Def|Py)_)?{native_prefix(package)}(?:{names})___\w* {NATIVE_FILE}"


def function(path: str, *qualnames: str) -> str:
    """The frames of these functions of one of our files, interpreted (``ReviewHandler.finish
    (webhook/server/handler.py:93)``) or compiled (``CPyDef_handler___ReviewHandler___finish``, its
    wrapper ``CPyPy_...``; mypyc's names escape a ``___`` in a name as ``___3_``)."""
    package, _, stem = path.removesuffix(".py").rpartition("/")
    patterns = []
    for qualname in qualnames:
        native = qualname.replace("___", "___3_").replace(".", "___")
        patterns.append(rf"^{re.escape(qualname)} \([^()]*{re.escape(path)}[:)]")
        patterns.append(rf"^CPy(?:Def|Py)_{native_prefix(package)}{stem}___{re.escape(native)} {NATIVE_FILE}")
        # A compiled coroutine's body runs in the methods of its generator class, "{method}_{Class}_gen":
        # CPyDef_app_____call___3_AdmissionApp_gen_____mypyc_generator_helper__.
        owner, _, method = qualname.rpartition(".")
        if owner:
            generator = f"{method}_{owner}_gen".replace("___", "___3_")
            patterns.append(
                rf"^CPy(?:Def|Py)_{native_prefix(package)}{stem}___{re.escape(generator)}___\w+ {NATIVE_FILE}"
            )
    return "|".join(patterns)


# Layer of a sample. The first five (application) layers win when any frame of the stack matches, in
# this order, so JSON encoding inside a log call counts as logging. Otherwise the frame nearest the leaf
# that matches a transport layer decides: OpenSSL under a response write is TLS, httptools parsing
# called from asyncio's TLS protocol is HTTP. Our code matches interpreted (by its file) or compiled
# by mypyc (scripts/compile-core: by the module in its C function's name, see compiled()).
APP_LAYERS = 5
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("logging (per-review line, JSON formatter)", re.compile(r"\(logging/|webhook/logconfig\.py")),
    ("metrics (prometheus_client)", re.compile(r"prometheus_client")),
    (
        "engine: patch verification (verify_patch)",
        re.compile(rf"webhook/core/verification\.py|{compiled('webhook/core', ['verification'])}"),
    ),
    (
        "engine: selection, merge, patch building",
        re.compile(rf"webhook/core/|{compiled('webhook/core', compiled_stems('webhook/core'))}"),
    ),
    (
        "envelope: JSON parse/encode + handler",
        re.compile(
            rf"webhook/server/({'|'.join(SERVER_COMPILED)})\.py|{compiled('webhook/server', SERVER_COMPILED)}"
            r"|_json\.c|json/|orjson"
        ),
    ),
    (
        "TLS (uvloop/asyncio SSLProtocol, _ssl, OpenSSL)",
        re.compile(r"sslproto\.py|SSLProtocol|\(ssl\.py|_ssl\.c|libssl|libcrypto"),
    ),
    (
        "socket syscalls (send/recv)",
        re.compile(r"socketmodule\.c|selector_events\.py|^(send|recv|write|read) \(libc"),
    ),
    (
        "ASGI app (webhook/server/app.py, the connection guard)",
        re.compile(
            rf"webhook/server/({'|'.join(ASGI_APP)})\.py|webhook/transport/connection\.py"
            + (f"|{compiled('webhook/server', ASGI_COMPILED)}" if ASGI_COMPILED else "")
        ),
    ),
    (
        "HTTP parsing/protocol (uvicorn, httptools)",
        re.compile(r"uvicorn/|httptools|llhttp|parser\.c|url_parser"),
    ),
    ("event loop (asyncio)", re.compile(r"asyncio/|_asynciomodule|uvloop|\(loop\.c|uv_|libuv")),
]

_HANDLER, _REVIEW = "webhook/server/handler.py", "webhook/server/review.py"
# The rows of the inclusive-time table, each interpreted or compiled (function()). The server calls
# prepare() then finish(); handle() is both, for a large review on a thread.
MARKS = {
    "the ASGI app (AdmissionApp.__call__)": function("webhook/server/app.py", "AdmissionApp.__call__"),
    "ReviewHandler.prepare + finish (all application work)": function(
        _HANDLER, "ReviewHandler.prepare", "ReviewHandler.finish", "ReviewHandler.handle"
    ),
    "mutate (engine incl. verification)": function("webhook/core/engine.py", "mutate"),
    "verify_patch (the patch applied, names checked)": function(
        "webhook/core/verification.py", "verify_patch"
    ),
    "parse_review (JSON decode + envelope checks)": function(_REVIEW, "parse_review"),
    "encode_review + allow (JSON encode, base64)": function(_REVIEW, "encode_review", "allow"),
    "ReviewHandler._log_review (the per-review log line)": function(_HANDLER, "ReviewHandler._log_review"),
    "prometheus_client": r"prometheus_client",
    "TLS (SSLProtocol/_ssl/OpenSSL)": r"sslproto\.py|SSLProtocol|_ssl\.c|libssl|libcrypto",
}

# A sample whose thread waits (poll thread sleeping, loop in epoll, a thread waiting for the GIL) is idle.
# uvloop's libuv waits in epoll_pwait.
IDLE = re.compile(r"^(Event\.wait|Condition\.wait|EpollSelector\.select|epoll_p?wait|take_gil) \(")
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short_file(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", str(REPO) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def frame_key(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    func = "[unresolved]" if match["func"].startswith("0x") else match["func"]
    return f"{func} ({short_file(match['file'])})"


# Inlined helpers: a static inline function of a C header (Py_DECREF in object.h, PyDict_GetItemRef in
# pythoncapi_compat.h, uv__queue_empty in libuv's queue.h; not Argument Clinic's .c.h, which holds
# real functions) or mypyc's runtime library (CPyDict_GetItem, CPyStr_Build, CPy.h: CPy*, but not
# CPyDef_/CPyPy_, our compiled functions). A sample whose leaf is one is time spent for the function
# that called it, so the self-time table charges it to the nearest caller that is not one: a row
# "Py_DECREF (object.h)" says nothing about where the time went. Layers and inclusive times see
# the whole stack and need no such step.
HEADER = re.compile(r"(?<!\.c)\.h$")
RUNTIME = re.compile(r"^CPy(?!Def_|Py_)")


def inlined_helper(frame: str) -> bool:
    match = FRAME.match(frame.strip())
    if match is None:
        return False
    return bool(HEADER.search(match["file"]) or RUNTIME.match(match["func"]))


def self_frame(frames: Sequence[str]) -> str:
    """The frame a sample's self time is charged to: its leaf, or the leaf's nearest caller that is
    not an inlined helper."""
    return next((frame for frame in reversed(frames) if not inlined_helper(frame)), frames[-1])


def parse_raw(path: Path) -> tuple[list[tuple[list[str], int]], int]:
    """Busy stacks (leaf last) with their sample counts, and the number of idle samples left out."""
    stacks, idle = [], 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(IDLE.match(frame) for frame in frames):
            idle += int(count)
        else:
            stacks.append((frames, int(count)))
    return stacks, idle


def layer_of(frames: Sequence[str]) -> str:
    for name, pattern in LAYERS[:APP_LAYERS]:
        if any(pattern.search(frame) for frame in frames):
            return name
    for frame in reversed(frames):
        for name, pattern in LAYERS[APP_LAYERS:]:
            if pattern.search(frame):
                return name
    return "other"


def inclusive(stacks: Sequence[tuple[list[str], int]], pattern: str) -> int:
    rx = re.compile(pattern)
    return sum(count for frames, count in stacks if any(rx.search(f) for f in frames))


def summarise(key: str, raw: Path, top: int, rate: int, seconds: float) -> list[str]:
    stacks, idle = parse_raw(raw)
    total = sum(count for _, count in stacks) or 1
    self_time: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    for frames, count in stacks:
        self_time[frame_key(self_frame(frames))] += count
        layers[layer_of(frames)] += count
    busy = 100 * total / (rate * seconds)
    out = [
        f"### {key}: {total:,} busy samples ({busy:.0f}% of one core; {idle:,} idle samples left out)",
        "",
        f"Top {top} functions by self time (an inlined helper such as Py_DECREF charged to its caller):",
        "",
        "| # | function (file) | self % |",
        "|---:|---|---:|",
    ]
    for rank, (name, count) in enumerate(self_time.most_common(top), 1):
        out.append(f"| {rank} | `{name.replace('|', '/')}` | {100 * count / total:.1f} |")
    out += [
        "",
        "By layer (each sample counted once: application layers first, else the layer nearest the leaf):",
        "",
    ]
    out += ["| layer | % |", "|---|---:|"]
    for name, _ in [*LAYERS, ("other", re.compile(""))]:
        out.append(f"| {name} | {100 * layers[name] / total:.1f} |")
    out += ["", "Inclusive time of key functions:", "", "| function | incl. % |", "|---|---:|"]
    for label, pattern in MARKS.items():
        out.append(f"| {label} | {100 * inclusive(stacks, pattern) / total:.1f} |")
    return [*out, ""]


def find_py_spy() -> str:
    candidates = [Path(sys.executable).parent / "py-spy"]
    which = shutil.which("py-spy")
    if which:
        candidates.append(Path(which))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    print("profile: installing py-spy (pip install py-spy)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "py-spy"], check=True)
    return str(candidates[0])


def record(
    py_spy: str, pid: int, fmt: str, output: Path, seconds: float, rate: int, native: bool, pinned: bool
) -> None:
    command = [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration", f"{seconds:g}"]
    command += ["--format", fmt, "--output", str(output)]
    # Native unwinding needs the target paused per sample; Python-only sampling need not pause it.
    command.append("--native" if native else "--nonblocking")
    if pinned:
        command = ["taskset", "-c", "1", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0 or not output.exists():
        raise BenchError(f"py-spy failed: {' '.join(command)}\n{result.stdout}{result.stderr}")


def profile_server(
    env: Env, scenario: Scenario, py_spy: str, args: argparse.Namespace
) -> tuple[list[str], int]:
    pinned = env.can_pin
    with running(env, scenario.templates, pinned=pinned) as (server, _ready):
        check_answer(server, scenario)
        run_wrk(env, server, scenario, args.conns, 1, 2.0, pinned)  # warm-up
        length = 2 * args.duration + 6
        command = [env.wrk, "-t1", f"-c{args.conns}", f"-d{length:g}s", "--timeout", "10s", "-s"]
        command += [str(LUA), f"https://127.0.0.1:{server.port}/mutate", "--"]
        command += [str(env.bodies[scenario.key]), scenario.uid, scenario.expect]
        if pinned:
            command = ["taskset", "-c", "1", *command]
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0)
        svg = RESULTS / f"profile-{scenario.key}.svg"
        raw = RESULTS / f"profile-{scenario.key}.txt"
        progress(f"profile {scenario.key}: flamegraph ({args.duration:g} s)")
        record(py_spy, server.pid, "flamegraph", svg, args.duration, args.rate, args.native, pinned)
        progress(f"profile {scenario.key}: raw stacks ({args.duration:g} s)")
        record(py_spy, server.pid, "raw", raw, args.duration, args.rate, args.native, pinned)
        output, _ = wrk.communicate(timeout=length + 60)
    values = parse_bench_line(output)
    failures = wrk_failures(values) if values else 1
    rps = values["good"] / (values["duration_us"] / 1e6) if values else 0.0
    lines = summarise(scenario.key, raw, args.top, args.rate, args.duration)
    note = f"wrk under the profiler: {rps:,.0f}/s at {args.conns} connections, {failures} failures."
    return [
        *lines,
        note,
        f"Files: `{svg.relative_to(REPO)}`, `{raw.relative_to(REPO)}`.",
        "",
    ], failures


def time_handler(scenarios: dict[str, Scenario], iterations: int) -> list[str]:
    """µs per ReviewHandler.handle() in this process, built by webhook.wiring.review_handler from
    the server's default settings: the median of per-call times (a GC pause or another process's
    slice shows in the mean, not here)."""
    from webhook.logconfig import configure_logging
    from webhook.metrics import Metrics
    from webhook.settings import Settings
    from webhook.templates.file_source import FolderTemplateSource
    from webhook.templates.store import TemplateStore
    from webhook.wiring import review_handler

    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    metrics = Metrics()
    stores: dict[tuple[Path, ...], TemplateStore] = {}
    for scenario in scenarios.values():
        if scenario.templates not in stores:
            store = stores[scenario.templates] = TemplateStore(metrics=metrics)
            for folder in scenario.templates:
                FolderTemplateSource(store, folder).sync()
    sink = open(os.devnull, "w")  # noqa: SIM115 - the log handler writes to it until exit
    with redirect_stderr(sink):
        configure_logging("INFO", "json")  # the handler binds sys.stderr, i.e. /dev/null

    def timed(call: Callable[[bytes], object], body: bytes, n: int) -> float:
        for _ in range(max(n // 10, 5)):
            call(body)
        times = []
        clock = time.perf_counter
        for _ in range(n):
            started = clock()
            call(body)
            times.append(clock() - started)
        return statistics.median(times) * 1e6

    variants = [
        ("as served (verify on, JSON log line at INFO)", True, logging.INFO),
        ("per-review log line off (level WARNING)", True, logging.WARNING),
        ("patch verification off (verify_patches=False)", False, logging.INFO),
        ("both off", False, logging.WARNING),
    ]
    keys = [*PROFILED, "2-pod-large"]
    counts = {key: iterations if key != "2-pod-large" else max(iterations // 30, 20) for key in keys}
    out = [
        f"### ReviewHandler.handle() in-process, no HTTP/TLS (median µs per call; {iterations:,} calls,"
        f" {counts['2-pod-large']} for the large pod; pinned to core 0)",
        "",
        "| variant | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for label, verify, level in variants:
        logging.getLogger().setLevel(level)
        cells = []
        for key in keys:
            store = stores[scenarios[key].templates]
            handler = review_handler(Settings(), store.snapshot, metrics, verify_patches=verify)
            cells.append(f"{timed(handler.handle, scenarios[key].body, counts[key]):,.0f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    logging.getLogger().setLevel(logging.INFO)
    cells = [f"{timed(orjson.loads, scenarios[k].body, counts[k]):,.0f}" for k in keys]
    out.append("| orjson.loads(body) alone | " + " | ".join(cells) + " |")
    return [*out, ""]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of samples per recording")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=3000, help="in-process handler calls per cell")
    parser.add_argument("--no-native", dest="native", action="store_false", help="Python frames only")
    parser.add_argument(
        "--only-handler",
        action="store_true",
        help="only the in-process handler timing (no server, wrk or py-spy)",
    )
    args = parser.parse_args(argv)
    try:
        env, scenarios = prepare()
        py_spy = "" if args.only_handler else find_py_spy()
        RESULTS.mkdir(exist_ok=True)
        meta = machine_meta(env, sys.argv)
        sections = [
            "# sidecar-injector profile",
            "",
            f"- command: `python {' '.join(['bench/profile.py', *(argv or sys.argv[1:])])}`;"
            f" commit {meta['commit']}; core {meta['core']}",
            f"- py-spy record --rate {args.rate} {'--native' if args.native else '--nonblocking'},"
            f" {args.duration:g} s per recording; wrk -t1 -c{args.conns}; server pinned to core 0,"
            " wrk and py-spy to core 1; --templates examples (0-reference: bench/reference/templates),"
            " JSON logs at INFO",
            "",
        ]
        failures = 0
        for key in () if args.only_handler else PROFILED:
            lines, failed = profile_server(env, scenarios[key], py_spy, args)
            sections += lines
            failures += failed
        progress("in-process handler timing")
        iterations = args.iterations
        sections += time_handler(scenarios, iterations)
        shutil.rmtree(env.work, ignore_errors=True)
    except (BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"profile: failed: {exc}", file=sys.stderr)
        return 2
    text = "\n".join(sections)
    (RESULTS / "profile.md").write_text(text)
    print(text)
    print(f"(written to {RESULTS / 'profile.md'})")
    if failures:
        print(f"profile: {failures} bad answers or socket errors under load", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
