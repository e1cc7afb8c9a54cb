"""The text log format keeps a traceback readable without letting its text pass for a record; the
per-review line written directly is the very line logging would write, and only when nothing else
would see it."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from webhook import logconfig
from webhook.logconfig import DirectLog, JsonLineFormatter, TextFormatter, configure_logging, sole_handler


def test_a_traceback_is_indented_and_its_control_characters_escaped() -> None:
    formatter = TextFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError("bad value\nINFO forged: line\x1b[0m")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed on %s", ("x\ny",), None)
        record.exc_info = sys.exc_info()
    lines = formatter.format(record).split("\n")
    assert lines[0] == "ERROR t: failed on x\\ny"
    assert all(line.startswith("    ") for line in lines[1:]) and len(lines) > 3
    assert "    INFO forged: line\\x1b[0m" in lines


JSON_LINES = JsonLineFormatter()  # one formatter for every record, as the handler has


def json_line(message: str, created: float = 1_700_000_000.25) -> str:
    record = logging.LogRecord("webhook.t", logging.INFO, __file__, 1, "%s", (message,), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    record.process = 7  # what the handler's filter stamps
    return JSON_LINES.format(record)


def test_a_json_line_holds_any_message_on_one_line_with_no_raw_control_character() -> None:
    message = 'review uid="u" \\ \n\r\t\x00\x1b\x7f\x85\u2028\u2029 é 🙂'
    line = json_line(message)
    assert "\n" not in line and not any(char in line for char in "\r\x1b\x7f\x85\u2028\u2029")
    assert json.loads(line) == {
        "time": "2023-11-14T22:13:20.250Z",
        "level": "info",
        "pid": 7,
        "logger": "webhook.t",
        "message": message,
    }


def test_a_message_orjson_cannot_encode_is_still_logged() -> None:
    assert json.loads(json_line("file \udcff.yaml"))["message"] == "file \udcff.yaml"


def test_the_time_is_that_of_each_record_as_seconds_change() -> None:
    times = [json.loads(json_line("m", created))["time"] for created in (59.75, 60.0, 59.5, 3661.125)]
    assert times == [
        "1970-01-01T00:00:59.750Z",
        "1970-01-01T00:01:00.000Z",
        "1970-01-01T00:00:59.500Z",
        "1970-01-01T01:01:01.125Z",
    ]


# The per-review line's direct path (DirectLog): the same bytes as through logging, or through logging.

FORMAT = "review uid=%s ops=%d duration_ms=%.2f detail=%s"
ARGS = ("u-1", 3, 0.125, "line\nbreak \x1b é")
NOW = 1_700_000_000.25


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], io.StringIO]]:
    """configure_logging writing to a StringIO, the logging module's state restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging._srcfile, logging.logThreads, logging.logProcesses)
    saved_mp, access = logging.logMultiprocessing, logging.getLogger("uvicorn.access").disabled
    uvicorn_filters = logging.getLogger("uvicorn.error").filters[:]
    ours = logconfig._ours

    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        monkeypatch.setattr(sys, "stderr", stream)
        configure_logging("INFO", fmt)
        return stream

    yield configure
    root.handlers[:], root.level, logging._srcfile, logging.logThreads, logging.logProcesses = saved
    logging.logMultiprocessing, logging.getLogger("uvicorn.access").disabled = saved_mp, access
    logging.getLogger("uvicorn.error").filters[:] = uvicorn_filters
    logconfig._ours = ours
    logging.disable(logging.NOTSET)


def a_logger(name: str = "webhook.direct.test") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.filters.clear()
    logger.handlers.clear()
    logger.propagate, logger.disabled = True, False
    return logger


def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths stamp the same instant (LogRecord reads time.time before 3.13, time_ns after)."""
    monkeypatch.setattr(time, "time", lambda: NOW)
    monkeypatch.setattr(time, "time_ns", lambda: int(NOW * 1e9))


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_direct_line_is_the_line_logging_writes(
    configured: Callable[[str], io.StringIO], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    stream, logger = configured(fmt), a_logger()
    frozen_clock(monkeypatch)
    assert sole_handler(logger) is not None
    DirectLog(logger).info(FORMAT, *ARGS)
    logger.addFilter(lambda record: True)  # anything on the logger: through logging
    assert sole_handler(logger) is None
    DirectLog(logger).info(FORMAT, *ARGS)
    direct, through_logging, rest = stream.getvalue().split("\n")
    assert direct == through_logging and rest == ""
    assert "line\\nbreak \\x1b" in direct or "line\\nbreak \\u001b" in direct


def test_anything_else_that_would_see_the_record_sends_it_through_logging(
    configured: Callable[[str], io.StringIO],
) -> None:
    configured("json")
    root, handler = logging.getLogger(), logging.getLogger().handlers[0]
    parent = a_logger("webhook.direct")
    changes: list[tuple[Callable[[], object], Callable[[], object]]] = [
        (lambda: root.addHandler(other), lambda: root.removeHandler(other)),
        (lambda: handler.addFilter(keep), lambda: handler.removeFilter(keep)),
        (lambda: handler.filters.__setitem__(0, keep), lambda: handler.filters.__setitem__(0, pid)),
        (lambda: parent.addHandler(other), lambda: parent.removeHandler(other)),
        (lambda: setattr(parent, "propagate", False), lambda: setattr(parent, "propagate", True)),
        (lambda: handler.setLevel(logging.WARNING), lambda: handler.setLevel(logging.NOTSET)),
        (lambda: handler.setFormatter(logging.Formatter()), lambda: handler.setFormatter(formatter)),
        (lambda: logging.setLogRecordFactory(Record), lambda: logging.setLogRecordFactory(logging.LogRecord)),
    ]
    other, keep, formatter = logging.NullHandler(), logging.Filter(), handler.formatter
    pid = handler.filters[0]
    logger = a_logger()
    assert sole_handler(logger) is handler
    for change, undo in changes:
        change()
        assert sole_handler(logger) is None
        undo()
        assert sole_handler(logger) is handler


class Record(logging.LogRecord):
    pass


def test_the_level_and_filters_are_honoured(configured: Callable[[str], io.StringIO]) -> None:
    stream, logger = configured("json"), a_logger()
    logging.getLogger().setLevel(logging.WARNING)  # --log-level WARNING
    DirectLog(logger).info(FORMAT, *ARGS)
    logging.getLogger().setLevel(logging.INFO)
    logging.disable(logging.INFO)
    DirectLog(logger).info(FORMAT, *ARGS)
    logging.disable(logging.NOTSET)
    logger.addFilter(lambda record: False)
    DirectLog(logger).info(FORMAT, *ARGS)
    logger.filters.clear()
    logger.disabled = True
    DirectLog(logger).info(FORMAT, *ARGS)
    assert stream.getvalue() == ""


def test_caplog_and_an_added_handler_get_the_line_as_well(
    configured: Callable[[str], io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    stream, logger = configured("json"), a_logger()
    logging.getLogger().addHandler(caplog.handler)  # configure_logging replaced the root's handlers
    logging._srcfile = os.path.normcase(logging.addLevelName.__code__.co_filename)  # callers found again
    DirectLog(logger).info(FORMAT, *ARGS)
    assert [record.getMessage() for record in caplog.records] == [FORMAT % ARGS]
    assert caplog.records[0].filename == "test_logconfig.py"  # the caller's, not DirectLog's
    assert json.loads(stream.getvalue())["message"] == FORMAT % ARGS


def test_the_direct_line_waits_for_the_handlers_lock_and_keeps_the_order(
    configured: Callable[[str], io.StringIO],
) -> None:
    stream, logger = configured("text"), a_logger()
    handler = logging.getLogger().handlers[0]
    logger.info("first")
    handler.acquire()
    try:
        writer = threading.Thread(target=DirectLog(logger).info, args=("second",))
        writer.start()
        writer.join(0.2)
        assert writer.is_alive() and "second" not in stream.getvalue()
    finally:
        handler.release()
    writer.join(10)
    logger.info("third")
    assert [line.rsplit(": ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "first",
        "second",
        "third",
    ]
