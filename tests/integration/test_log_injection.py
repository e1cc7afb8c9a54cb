"""Values a client sends cannot forge log lines: every record is one line, control characters escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.processes import https_request, issue_certificate, running_server
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration

FORGED = "2030-01-01 00:00:00,000 INFO [1] webhook.server.handler: review uid=forged outcome=injected"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \[\d+\] ")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_newlines_and_escapes_in_a_uid_and_a_name_stay_inside_one_log_line(
    tmp_path: Path, log_format: str
) -> None:
    certificate = issue_certificate(tmp_path)
    context = certificate.client_context()
    args = ["--templates", "examples", *certificate.server_args, "--log-format", log_format]
    pod = opted_in_pod()
    pod["metadata"]["name"] = f"app\r\n{FORGED}\x1b[2J\u2028{FORGED}\x85"
    body = review(pod, uid=f"u-1\n{FORGED}")
    with running_server(args, tmp_path, context) as server:
        answer = https_request(
            "POST",
            f"https://127.0.0.1:{server.port}/mutate",
            context,
            "localhost",
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 200 and answer.json()["response"]["uid"] == body["request"]["uid"]
        assert server.stop() == 0
        lines = server.log_path.read_bytes().decode().split("\n")

    review_lines = [line for line in lines if "review uid=" in line]
    assert len(review_lines) == 1, review_lines
    assert not any(line.startswith("2030-") for line in lines)
    assert not any(char in "\r\x1b\u2028\x85" for line in lines for char in line)
    if log_format == "text":
        assert RECORD_START.match(review_lines[0])
        assert "uid=u-1\\n2030-01-01" in review_lines[0] and "\\x1b[2J\\u2028" in review_lines[0]
    else:
        message = json.loads(review_lines[0])["message"]
        assert f"uid=u-1\n{FORGED}" in message and "\x1b[2J\u2028" in message
