"""``sidecar-injector import`` as a user runs it: templates on stdout, the rest on stderr, clear exits."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from webhook.cli import main
from webhook.convert import command

GOLDEN = Path(__file__).parents[2] / "golden-import"
TUMBLR = GOLDEN / "tumblr-versioned-config-inherits-its-base"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_stdout_is_only_template_configmaps_and_templates_validate_accepts_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TUMBLR)
    code, out, err = run(["import", "--from", "tumblr", "conf/base.yaml", "conf/logger.yaml"], capsys)
    assert code == 0
    documents = list(yaml.safe_load_all(out))
    assert [d["metadata"]["name"] for d in documents] == ["base-agents", "logger-v1-2"]
    assert all(d["metadata"]["labels"] == {"sidecar-injector.io/template": "true"} for d in documents)
    assert all(line.startswith(("rewrite: ", "warning: ", "imported ")) for line in err.splitlines())
    (tmp_path / "imported.yaml").write_text(out)
    code, out, _ = run(["templates", "validate", str(tmp_path)], capsys)
    assert code == 0
    assert sorted(line.split("'")[1] for line in out.splitlines()) == ["base-agents", "logger-v1-2"]


def test_standard_input_is_read_with_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "name: agent\ncontainers: [{name: agent, image: 'registry.example.com/agent:1'}]\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, err = run(["import", "--from", "tumblr", "-"], capsys)
    assert code == 0, err
    assert yaml.safe_load(out)["metadata"]["name"] == "agent"


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a.yaml": "name: [unclosed\n"}, "error: a.yaml: line 2: not valid YAML"),
        ({"a.yaml": "mutationConfigs: []\n"}, "error: a.yaml: not a tumblr sidecar configuration"),
        ({"a.yaml": b"name: \xff\n"}, "error: a.yaml: not UTF-8 text (byte 6)"),
        ({"a.yaml": ""}, "error: a.yaml: no YAML document in it"),
        ({"a.yaml": "name: a\ncontainers: 3\n"}, "error: no tumblr configuration could be imported"),
    ],
)
def test_unusable_input_is_exit_1_with_one_error_line_and_no_traceback(
    files: dict[str, str | bytes],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run(["import", "--from", "tumblr", *files], capsys)
    assert code == 1
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(message), err
    assert "Traceback" not in err


def test_a_missing_file_or_a_folder_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["import", "--from", "expedia", str(tmp_path / "nope.yaml")], capsys)
    assert (code, err.strip()) == (
        1,
        f"error: {tmp_path / 'nope.yaml'}: cannot read it: No such file or directory",
    )
    code, _, err = run(["import", "--from", "expedia", str(tmp_path)], capsys)
    assert code == 1 and "cannot read it: Is a directory" in err


def test_input_beyond_the_size_budget_is_refused_before_it_is_parsed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "MAX_INPUT_BYTES", 1000)
    (tmp_path / "a.yaml").write_text("# " + "x" * 600 + "\nname: a\n")
    (tmp_path / "b.yaml").write_text("# " + "x" * 600 + "\nname: b\n")
    code, _, err = run(
        ["import", "--from", "tumblr", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")], capsys
    )
    assert code == 1
    assert err.strip() == f"error: {tmp_path / 'b.yaml'}: the files given exceed 0 MiB together"


def test_the_source_format_is_required_and_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["import", "a.yaml"], ["import", "--from", "istio", "a.yaml"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert "--from" in capsys.readouterr().err


def test_the_command_line_offers_exactly_the_formats_the_converter_knows() -> None:
    from webhook.cli.convert import FORMATS as OFFERED
    from webhook.convert.model import FORMATS as KNOWN

    assert OFFERED == KNOWN
