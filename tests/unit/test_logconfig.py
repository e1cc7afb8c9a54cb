"""The text log format keeps a traceback readable without letting its text pass for a record."""

from __future__ import annotations

import json
import logging
import sys

from webhook.logconfig import JsonLineFormatter, TextFormatter


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
