"""The text log format keeps a traceback readable without letting its text pass for a record."""

from __future__ import annotations

import logging
import sys

from webhook.logconfig import TextFormatter


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
