"""bench/profile.py: py-spy's collapsed stacks charged to layers and functions, whether webhook/core
runs interpreted or compiled by mypyc (its functions then C frames in __native_core.c).

The compiled stacks are lines of a real `--native` recording of a compiled build; the interpreted ones
are the same calls as py-spy names Python frames.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench.profile
from bench.profile import LAYERS, MARKS, compiled_stems, inclusive, layer_of, parse_raw, self_frame, summarise

VERIFICATION, ENGINE, ENVELOPE = (LAYERS[i][0] for i in (2, 3, 4))
ALL_WORK = "ReviewHandler.prepare + finish (all application work)"
MUTATE = "mutate (engine incl. verification)"
VERIFY = "verify_patch (the patch applied, names checked)"
PARSE = "parse_review (JSON decode + envelope checks)"

# Everything below the ASGI app, as recorded.
LOOP = (
    "0x7fc71e24524a (libc.so.6);<module> (sidecar-injector:6);main (webhook/cli/__init__.py:47);"
    "Runner.run (asyncio/runners.py:118);run_forever (loop.c:33397);uv_run (core.c:452);"
    "Handle__run (loop.c:70905);task_step_impl (_asynciomodule.c:2704);"
    "RequestResponseCycle.run_asgi (uvicorn/protocols/http/httptools_impl.py:422);"
    "AdmissionApp.__call__ (webhook/server/app.py:80);AdmissionApp._mutate (webhook/server/app.py:108)"
)
FINISH = (
    "AdmissionApp._decide (webhook/server/app.py:125);ReviewHandler.finish (webhook/server/handler.py:93);"
    "AdmissionDecision.decide (webhook/server/decision.py:118)"
)
PREPARE = (
    "AdmissionApp._decide (webhook/server/app.py:120);ReviewHandler.prepare (webhook/server/handler.py:88);"
    "AdmissionDecision.read (webhook/server/decision.py:105)"
)

COMPILED_MERGE = (
    f"{LOOP};{FINISH};CPyPy_engine___mutate (__native_core.c:2150);"
    "CPyDef_engine___mutate (__native_core.c:2015);CPyDef_engine____inject (__native_core.c:2565);"
    "CPyDef_engine____place (__native_core.c:3234);Py_DECREF (object.h:537);"
    "CPyDef_engine____merge (__native_core.c:4045);Py_DECREF (object.h:537);"
    "CPyDef_merging___PodTemplateMerger___merge (__native_core.c:25540);Py_DECREF (object.h:537)"
)
INTERPRETED_MERGE = (
    f"{LOOP};{FINISH};mutate (webhook/core/engine.py:61);_inject (webhook/core/engine.py:140);"
    "_place (webhook/core/engine.py:201);_merge (webhook/core/engine.py:260);"
    "PodTemplateMerger.merge (webhook/core/merging.py:88)"
)
COMPILED_VERIFY = (
    f"{LOOP};{FINISH};CPyPy_engine___mutate (__native_core.c:2150);"
    "CPyDef_engine___mutate (__native_core.c:2015);CPyDef_engine____inject (__native_core.c:2755);"
    "CPyDef_verification___verify_patch (__native_core.c:115814);"
    "CPyDef_verification___unescape (__native_core.c:116345);Py_DECREF (object.h:538)"
)
INTERPRETED_VERIFY = (
    f"{LOOP};{FINISH};mutate (webhook/core/engine.py:61);_inject (webhook/core/engine.py:152);"
    "verify_patch (webhook/core/verification.py:49);unescape (webhook/core/verification.py:76)"
)
# parse_review (envelope) asks the core where the pod template is: engine time, as interpreted.
COMPILED_LOCATE = (
    f"{LOOP};{PREPARE};parse_review (webhook/server/review.py:176);"
    "_containers_in (webhook/server/review.py:180);"
    "CPyPy_workloads___locate_pod_template (__native_core.c:118523);"
    "CPyDef_workloads___locate_pod_template (__native_core.c:118467);CPyDict_GetItem (dict_ops.c:16);"
    "CPyDict_GetItem (dict_ops.c:19);PyDict_GetItemRef (pythoncapi_compat.h:816)"
)
INTERPRETED_LOCATE = (
    f"{LOOP};{PREPARE};parse_review (webhook/server/review.py:176);"
    "_containers_in (webhook/server/review.py:180);"
    "locate_pod_template (webhook/core/workloads.py:41)"
)
# The envelope compiled into the same group (the core's names as recorded, the envelope's as mypyc
# names them): parse_review's own work, no core frame.
COMPILED_PARSE = (
    f"{LOOP};AdmissionApp._decide (webhook/server/app.py:120);"
    "CPyPy_handler___ReviewHandler___prepare (__native_core.c:130010);"
    "CPyDef_handler___ReviewHandler___prepare (__native_core.c:129950);"
    "CPyDef_decision___AdmissionDecision___read (__native_core.c:127002);"
    "CPyDef_review___parse_review (__native_core.c:131500);"
    "CPyDef_review____decode_strictly (__native_core.c:131200);Py_DECREF (object.h:537)"
)
INTERPRETED_PARSE = (
    f"{LOOP};{PREPARE};parse_review (webhook/server/review.py:160);"
    "_decode_strictly (webhook/server/review.py:140)"
)
# An envelope-only sample that is none of the rows below.
SEND = (
    f"{LOOP};send_json (webhook/server/asgi.py:24);"
    "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:551);"
    "SSLObject.write (ssl.py:930);_ssl__SSLSocket_write (_ssl.c.h:246)"
)


# The ASGI app compiled too (as recorded): a coroutine's body runs in its generator's helper.
COMPILED_APP = (
    "0x7fceb4c4524a (libc.so.6);<module> (sidecar-injector:8);main (webhook/cli/__init__.py:47);"
    "run_forever (loop.c:33397);uv_run (core.c:452);task_step_impl (_asynciomodule.c:2704);"
    "RequestResponseCycle.run_asgi (uvicorn/protocols/http/httptools_impl.py:422);"
    "CPyDunder_am_sendapp_____call___3_AdmissionApp_gen (__native_core.c:120596);"
    "CPyDef_app_____call___3_AdmissionApp_gen_____mypyc_generator_helper__ (__native_core.c:123731)"
)
COMPILED_APP_FINISH = (
    f"{COMPILED_APP};CPyDef_app____mutate_AdmissionApp_gen_____mypyc_generator_helper__ (__native_core.c:125822);"
    "CPyDef_app____decide_AdmissionApp_gen_____mypyc_generator_helper__ (__native_core.c:127438);"
    "CPyPy_handler___ReviewHandler___finish (__native_core.c:139761);"
    "CPyDef_handler___ReviewHandler___finish (__native_core.c:139660);"
    "CPyDef_decision___AdmissionDecision___decide (__native_core.c:135482)"
)
COMPILED_APP_READ = (
    f"{COMPILED_APP};CPyDef_app____mutate_AdmissionApp_gen_____mypyc_generator_helper__ (__native_core.c:125822);"
    "CPyDef_app____read_body_AdmissionApp_gen_____mypyc_generator_helper__ (__native_core.c:126001)"
)
COMPILED_APP_SEND = (
    f"{COMPILED_APP};CPyDef_asgi___send_json_gen_____mypyc_generator_helper__ (__native_core.c:133481);"
    "CPyIter_Send (misc_ops.c:44);RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:551);"
    "SSLObject.write (ssl.py:930);_ssl__SSLSocket_write (_ssl.c.h:246)"
)


def stack(line: str) -> list[str]:
    return line.split(";")


def matched(line: str) -> set[str]:
    """The inclusive-time rows a sample counts in."""
    return {label for label, pattern in MARKS.items() if inclusive([(stack(line), 1)], pattern)}


@pytest.mark.parametrize(
    ("compiled", "interpreted", "layer", "rows"),
    [
        (COMPILED_MERGE, INTERPRETED_MERGE, ENGINE, {ALL_WORK, MUTATE}),
        (COMPILED_VERIFY, INTERPRETED_VERIFY, VERIFICATION, {ALL_WORK, MUTATE, VERIFY}),
        (COMPILED_LOCATE, INTERPRETED_LOCATE, ENGINE, {ALL_WORK, PARSE}),
        (COMPILED_PARSE, INTERPRETED_PARSE, ENVELOPE, {ALL_WORK, PARSE}),
    ],
    ids=["merge", "verify", "locate", "parse"],
)
def test_a_call_counts_in_the_same_layer_and_rows_compiled_or_interpreted(
    compiled: str, interpreted: str, layer: str, rows: set[str]
) -> None:
    app = "the ASGI app (AdmissionApp.__call__)"
    assert layer_of(stack(compiled)) == layer
    assert layer_of(stack(interpreted)) == layer
    assert matched(compiled) == rows | {app}
    assert matched(interpreted) == rows | {app}


def test_the_compiled_modules_are_read_from_the_compiled_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every module a compiled recording named, and the package's own __init__ under mypyc's name.
    recorded = "engine merging verification patching selection optin recording status pod_spec model"
    assert {*recorded.split(), "core"} <= set(compiled_stems("webhook/core"))
    assert not {"handler", "review", "__init__"} & set(compiled_stems("webhook/core"))
    assert compiled_stems("webhook/server") == [
        "app",
        "asgi",
        "decision",
        "handler",
        "limits",
        "refusal",
        "review",
    ]
    assert bench.profile.SERVER_COMPILED == ["decision", "handler", "refusal", "review"]
    assert bench.profile.ASGI_COMPILED == ["app", "asgi", "limits"]
    # A module added to the core, or a server module added to the list, is profiled without editing
    # the profiler; a server module off the list (the probes) is not.
    (tmp_path / "webhook/core").mkdir(parents=True)
    (tmp_path / "webhook/server").mkdir(parents=True)
    for name in ("core/__init__.py", "core/engine.py", "core/quotas.py", "core/notes.txt"):
        (tmp_path / "webhook" / name).touch()
    for name in ("__init__.py", "app.py", "decision.py", "probes.py", "review.py"):
        (tmp_path / "webhook/server" / name).touch()
    monkeypatch.setattr(bench.profile, "REPO", tmp_path)
    assert compiled_stems("webhook/core") == ["core", "engine", "quotas"]
    assert compiled_stems("webhook/server") == ["app", "decision", "review"]


@pytest.mark.parametrize("module", compiled_stems("webhook/core"))
def test_a_compiled_function_of_any_core_module_is_engine_time(module: str) -> None:
    layer = VERIFICATION if module == "verification" else ENGINE
    for name in (f"CPyDef_{module}___f", f"CPyPy_{module}___f", f"{module}___Thing_dealloc"):
        assert layer_of(stack(f"{LOOP};{FINISH};{name} (__native_core.c:10)")) == layer, name


@pytest.mark.parametrize(
    "frame",
    [
        "CPyDef_server___review___parse_review (__native_core.c:10)",  # mypyc's name when stems collide
        "CPyDef_review___parse_review (build/mypyc/__native_webhook.c:10)",  # another group's file
        "CPyDef_review___parse_review (webhook/core__mypyc.cpython-311-x86_64-linux-gnu.so)",  # no lines
    ],
)
def test_the_compiled_name_forms(frame: str) -> None:
    line = f"{LOOP};AdmissionApp._decide (webhook/server/app.py:120);{frame}"
    assert layer_of(stack(line)) == ENVELOPE
    assert PARSE in matched(line)


@pytest.mark.parametrize(
    ("frame", "layer"),
    [
        ("CPyDef_reviewer___parse_review (__native_core.c:10)", "ASGI"),  # no such module
        ("CPyDef_review___parse_review (review.c:10)", "ASGI"),  # not mypyc's code
        ("review___parse_review_wrapper (__native_core.c:10)", "envelope"),  # review's, not the function
    ],
)
def test_names_that_only_look_like_a_compiled_function(frame: str, layer: str) -> None:
    line = f"{LOOP};AdmissionApp._decide (webhook/server/app.py:120);{frame}"
    assert layer_of(stack(line)).startswith(layer)
    assert PARSE not in matched(line)


def test_an_inlined_helper_is_self_time_of_its_caller() -> None:
    assert self_frame(stack(COMPILED_MERGE)).startswith("CPyDef_merging___PodTemplateMerger___merge ")
    # Two of mypyc's runtime helpers and a header's inline function under the compiled function.
    assert self_frame(stack(COMPILED_LOCATE)).startswith("CPyDef_workloads___locate_pod_template ")
    # A leaf that is a real function stays: Argument Clinic's .c.h, an interpreted frame.
    assert self_frame(stack(SEND)) == "_ssl__SSLSocket_write (_ssl.c.h:246)"
    assert self_frame(stack(INTERPRETED_MERGE)) == "PodTemplateMerger.merge (webhook/core/merging.py:88)"


def layer_rows(report: list[str]) -> dict[str, float]:
    rows = (re.fullmatch(r"\| (.+) \| ([\d.]+) \|", line) for line in report)
    return {row[1]: float(row[2]) for row in rows if row}


@pytest.mark.parametrize("build", ["compiled", "interpreted"])
def test_the_report_of_a_recording(build: str, tmp_path: Path) -> None:
    merge, verify, locate, parse = {
        "compiled": (COMPILED_MERGE, COMPILED_VERIFY, COMPILED_LOCATE, COMPILED_PARSE),
        "interpreted": (INTERPRETED_MERGE, INTERPRETED_VERIFY, INTERPRETED_LOCATE, INTERPRETED_PARSE),
    }[build]
    raw = tmp_path / "profile.txt"
    samples = [(merge, 30), (verify, 10), (locate, 10), (parse, 20), (SEND, 30)]
    raw.write_text("".join(f"{line} {count}\n" for line, count in samples))
    report = summarise("0-reference", raw, 15, 100, 1.0)
    rows = layer_rows(report)
    assert rows[ENGINE] == 40.0
    assert rows[VERIFICATION] == 10.0
    assert rows[ENVELOPE] == 20.0
    assert rows["TLS (uvloop/asyncio SSLProtocol, _ssl, OpenSSL)"] == 30.0
    assert rows[MUTATE] == 40.0
    assert rows[VERIFY] == 10.0
    assert rows[ALL_WORK] == 70.0
    assert rows[PARSE] == 30.0
    assert not any("object.h" in line or "pythoncapi_compat.h" in line for line in report)


def test_the_loop_waiting_in_epoll_is_idle(tmp_path: Path) -> None:
    wait = (
        "0x7fc71e24524a (libc.so.6);<module> (sidecar-injector:6);run_forever (loop.c:33397);"
        "Loop__Loop__run (loop.c:19903);uv_run (core.c:464);uv__io_poll (linux.c:1452);epoll_pwait (libc.so.6)"
    )
    raw = tmp_path / "profile.txt"
    raw.write_text(f"{wait} 49\n{COMPILED_MERGE} 3\n")
    assert parse_raw(raw) == ([(stack(COMPILED_MERGE), 3)], 49)


def test_the_compiled_asgi_app_is_its_own_layer_and_holds_the_handler() -> None:
    app = "the ASGI app (AdmissionApp.__call__)"
    assert layer_of(stack(COMPILED_APP_FINISH)) == ENVELOPE
    assert matched(COMPILED_APP_FINISH) == {app, ALL_WORK}
    assert layer_of(stack(COMPILED_APP_READ)).startswith("ASGI app")
    assert matched(COMPILED_APP_READ) == {app}
    assert layer_of(stack(COMPILED_APP_SEND)).startswith("TLS")
    assert matched(COMPILED_APP_SEND) == {app, "TLS (SSLProtocol/_ssl/OpenSSL)"}
