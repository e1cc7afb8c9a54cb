"""Logging setup, done once by the composition root: plain text for people, JSON lines for clusters.

Logged values come from clients (a review's uid, an object's name) and template authors. In either
format a record is exactly one line whose text cannot pass for another record: control characters
(C0, DEL, C1, and the Unicode line and paragraph separators) are escaped, ``\\n`` and ``\\x1b`` as
text; a traceback keeps its lines but each is indented, so none starts like a record.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import orjson

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _escaped_for_json(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written out as an escape sequence. Printable ASCII has
    none, and is recognised in C at a small part of the regular expression's cost (about 1.4 µs on a
    review's log line)."""
    if text.isascii() and text.isprintable():
        return text
    return text if _CONTROL.search(text) is None else _CONTROL.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """One line per record, its message escaped; tracebacks and stacks indented below it."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        blocks = []
        if record.exc_info:
            blocks.append(self.formatException(record.exc_info))
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            text += "".join(f"\n    {escape_controls(line)}" for line in block.splitlines())
        return text


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line. Written by orjson, with the time's seconds formatted once per second:
    the stdlib encoder and a strftime per record were half of the per-review log line's cost."""

    _stamp: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": f"{self._second(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Both encoders escape C0 characters themselves; DEL, C1 and the Unicode separators are left raw.
        try:
            line = orjson.dumps(entry).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, e.g. from a file name read with surrogateescape
            line = json.dumps(entry, ensure_ascii=False)
        if line.isascii() and "\x7f" not in line:  # the encoders escaped C0: nothing else to look for
            return line
        return line if _CONTROL.search(line) is None else _CONTROL.sub(_escaped_for_json, line)

    def _second(self, created: float) -> str:
        second = int(created)
        stamp = self._stamp
        if stamp[0] != second:  # the handler's lock is held: one format at a time
            stamp = self._stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return stamp[1]


class _CachedPid(logging.Filter):
    """Stamps the pid without a getpid() system call per record (a measurable share of a review)."""

    pid = os.getpid()

    def filter(self, record: logging.LogRecord) -> bool:
        record.process = self.pid
        return True


def _refresh_pid() -> None:
    _CachedPid.pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


# Every uvicorn.Server (the admission port, the metrics port) logs these for itself, so each came out
# twice; the runtime logs one line of its own when it starts serving and when it stops.
_UVICORN_LIFECYCLE = frozenset(
    {"Started server process [%d]", "Shutting down", "Finished server process [%d]"}
)


def _not_server_lifecycle(record: logging.LogRecord) -> bool:
    return record.msg not in _UVICORN_LIFECYCLE


def configure_logging(level: str, fmt: str) -> None:
    # Per-record lookups nobody reads: thread and multiprocessing names, and the pid (cached above).
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging.logProcesses = False
    # Nor does anyone read the caller's file, line and function, which cost a walk up the stack per
    # record (the logging HOWTO's "Optimization" section names this switch).
    logging._srcfile = None
    global _ours
    handler = logging.StreamHandler(sys.stderr)
    pid = _CachedPid()
    handler.addFilter(pid)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonLineFormatter()
    else:
        formatter = TextFormatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    handler.setFormatter(formatter)
    _ours = _OurHandler(handler, pid, formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The one structured line per review replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").addFilter(_not_server_lifecycle)


@dataclass(frozen=True, slots=True)
class _OurHandler:
    """The handler configure_logging installed, with the only filter and formatter it gave it."""

    handler: logging.StreamHandler[TextIO]
    pid: logging.Filter
    formatter: logging.Formatter


_ours: _OurHandler | None = None


def sole_handler(logger: logging.Logger) -> logging.StreamHandler[TextIO] | None:
    """The handler configure_logging installed when an INFO record of ``logger`` would reach it and
    nothing else: no other handler on the way (pytest's caplog adds one to the root), no filter on
    the logger or added to the handler, propagation intact, its own formatter, the standard record
    factory and logger class. None otherwise. (Filters of the loggers above are not applied to a
    record from below, by the logging module's rules, so they do not matter here.)"""
    ours = _ours
    if ours is None or logger.disabled or logger.filters or type(logger) is not logging.Logger:
        return None
    node = logger
    while node.parent is not None:
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    handler = ours.handler
    handlers, filters = node.handlers, handler.filters
    if node is not logging.root or len(handlers) != 1 or handlers[0] is not handler:
        return None
    if len(filters) != 1 or filters[0] is not ours.pid or handler.formatter is not ours.formatter:
        return None
    if handler.level > logging.INFO or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    return handler


class DirectLog:
    """INFO lines of one logger, written by the installed handler without the logging module's
    per-record machinery when nothing else would see them (``sole_handler``); through ``logging``
    otherwise. The per-review line costs about 9 µs through ``logging`` (docs/design.md, "The hot
    path"): a full LogRecord (file name splitting included), the walk through loggers, handlers and
    filters. Here the handler's own formatter formats a record holding what our formatters read, and
    the line goes to the handler's stream under the handler's lock, flushed: the same bytes, in order
    with every other record. The level (``--log-level``, ``logging.disable``) is honoured first.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(self, msg: str, *args: object) -> None:
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = sole_handler(logger)
        if handler is None:
            logger.info(msg, *args, stacklevel=2)
            return
        record = _record(logger.name, msg, args)
        handler.acquire()
        try:
            handler.stream.write(handler.format(record) + handler.terminator)
            handler.flush()
        except RecursionError:  # as StreamHandler.emit does
            raise
        except Exception:
            handler.handleError(
                logger.makeRecord(logger.name, logging.INFO, "(unknown file)", 0, msg, args, None)
            )
        finally:
            handler.release()


_new_record = logging.LogRecord.__new__


def _record(name: str, msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    """An INFO record with the fields our formatters read, stamped as the pid filter stamps it; the
    time as LogRecord takes it (3.13 takes nanoseconds, which may differ in the last millisecond)."""
    record = _new_record(logging.LogRecord)
    record.name, record.msg, record.args = name, msg, args
    record.levelname, record.levelno = "INFO", logging.INFO
    record.created = created = time.time()
    record.msecs = int((created - int(created)) * 1000) + 0.0
    record.process = _CachedPid.pid
    record.exc_info = record.exc_text = record.stack_info = None
    return record
