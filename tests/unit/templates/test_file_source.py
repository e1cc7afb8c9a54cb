from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.kubelet import KubeletVolume
from webhook.templates.file_reading import MAX_FILE_BYTES
from webhook.templates.file_source import (
    FolderTemplateSource,
    load_folder,
    parse_folder,
    read_folder,
    stat_signature,
)
from webhook.templates.store import TemplateStore


def configmap(name: str, image: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"  labels: {{sidecar-injector.io/template: 'true'}}\n"
        f"data:\n  template: |\n    containers:\n    - name: {name}\n      image: {image}\n"
    )


def source(
    store: TemplateStore, folder: Path, sleep: Callable[[float], bool] = lambda _: False
) -> FolderTemplateSource:
    return FolderTemplateSource(store, folder, kubernetes_version="1.35", sleep=sleep)


def image_of(store: TemplateStore, name: str) -> str | None:
    template = store.snapshot().resolve(name, "default")
    return template.containers[0]["image"] if template else None


def test_the_kubelet_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    store = TemplateStore()
    volume = KubeletVolume(tmp_path)
    volume.write({"agent.yaml": configmap("agent", "agent:1")})
    folder = source(store, tmp_path)
    assert folder.sync() and image_of(store, "agent") == "agent:1"
    assert store.ready()

    volume.write({"agent.yaml": configmap("agent", "agent:2")})
    assert folder.sync() and image_of(store, "agent") == "agent:2"
    assert not folder.sync(), "an unchanged folder is not re-published"


def test_the_poll_lists_visible_yaml_files_by_name_through_their_symlinks(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path)
    volume.write({"b.yaml": configmap("b", "b:1"), "a.yml": configmap("a", "a:1"), "notes.txt": "text"})
    (tmp_path / ".hidden.yaml").write_text(configmap("h", "h:1"))
    (tmp_path / "c.yaml.bak").write_text(configmap("c", "c:1"))

    signature = stat_signature(tmp_path)
    assert signature is not None
    assert [entry[0] for entry in signature] == ["a.yml", "b.yaml"]
    target = (tmp_path / "b.yaml").resolve()
    assert target != tmp_path / "b.yaml", "the kubelet's visible names are symlinks"
    assert signature[1][2] == target.stat().st_ino, "the file's inode, not the symlink's"
    assert list(read_folder(tmp_path)) == ["a.yml", "b.yaml"]

    volume.write({"b.yaml": configmap("b", "b:1"), "a.yml": configmap("a", "a:1"), "notes.txt": "text"})
    assert stat_signature(tmp_path) != signature, "the same bytes in a new ..data are a change"


def test_a_folder_that_cannot_be_listed_has_no_signature(tmp_path: Path) -> None:
    assert stat_signature(tmp_path / "gone") is None


def test_files_added_changed_and_removed_are_followed(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "a.yaml").write_text(configmap("a", "a:1"))
    folder.sync()
    (tmp_path / "b.yml").write_text(configmap("b", "b:1"))
    (tmp_path / "notes.txt").write_text("not a manifest")
    folder.sync()
    assert image_of(store, "a") == "a:1" and image_of(store, "b") == "b:1"
    (tmp_path / "a.yaml").unlink()
    folder.sync()
    assert image_of(store, "a") is None and image_of(store, "b") == "b:1"


def test_a_broken_file_keeps_the_last_good_templates(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "a.yaml").write_text(configmap("a", "a:1"))
    folder.sync()
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\nmetadata: {name: a\n")  # bad YAML
    folder.sync()
    assert image_of(store, "a") == "a:1"
    assert any(s.error is not None and "not valid YAML" in str(s.error) for s in store.statuses())


def test_a_half_written_file_is_never_loaded(tmp_path: Path) -> None:
    store = TemplateStore()
    full = configmap("agent", "agent:2")
    # The writer is caught mid-way: the first read sees a truncated but valid-looking prefix.
    (tmp_path / "agent.yaml").write_text(full[: full.index("      image")])
    steps = iter([lambda: (tmp_path / "agent.yaml").write_text(full)])

    def sleep(_: float) -> bool:
        next(steps, lambda: None)()
        return False

    published: list[str | None] = []
    folder = source(store, tmp_path, sleep)
    original_replace = store.replace_source

    def record(source_id: str, results: dict) -> None:  # type: ignore[type-arg]
        original_replace(source_id, results)
        published.append(image_of(store, "agent"))

    store.replace_source = record  # type: ignore[method-assign]
    folder.sync()
    assert published == ["agent:2"]


def test_a_manifest_whose_metadata_is_not_a_map_is_not_a_template_and_not_a_crash(tmp_path: Path) -> None:
    # Found by the templates fuzz target: an AttributeError here failed every poll of the folder.
    text = 'kind: ConfigMap\nmetadata: "x"\ndata: {template: "env: [{name: A, value: b}]"}\n'
    assert parse_folder(tmp_path, {"odd.yaml": text}) == {"odd.yaml": {}}


# ---------------------------------------------------------------------------------------------------
# Broken edits are not removals; half-written, special and huge files are never loaded (issue 16 A)


def two_containers(name: str, image: str) -> str:
    return configmap(name, image) + f"    - name: {name}-helper\n      image: {image}\n"


def containers_of(store: TemplateStore, name: str) -> list[tuple[str, str]]:
    template = store.snapshot().resolve(name, "default")
    return [(c["name"], c["image"]) for c in template.containers] if template else []


def errors_of(store: TemplateStore) -> list[str]:
    return [str(s.error) for s in store.statuses() if s.error is not None]


def test_an_emptied_file_keeps_the_last_good_templates_and_says_why(tmp_path: Path) -> None:
    # What `kubectl get cm -o yaml > agent.yaml` does: the shell empties the file, kubectl writes it
    # a second later. In between, thousands of reviews were admitted without the sidecar.
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "agent.yaml").write_text(configmap("agent", "agent:1"))
    folder.sync()
    for emptied in ("", "\n", "# nothing yet\n", "---\n"):
        (tmp_path / "agent.yaml").write_text(emptied)
        folder.sync()
        assert image_of(store, "agent") == "agent:1", repr(emptied)
        assert any("the file is empty" in e for e in errors_of(store)), errors_of(store)
    (tmp_path / "agent.yaml").write_text(configmap("agent", "agent:2"))
    folder.sync()
    assert image_of(store, "agent") == "agent:2" and errors_of(store) == []
    (tmp_path / "agent.yaml").unlink()
    folder.sync()
    assert image_of(store, "agent") is None, "deleting the file is the removal"


def test_an_unparsable_edit_keeps_every_template_of_the_file(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "both.yaml").write_text(configmap("a", "a:1") + "---\n" + configmap("b", "b:1"))
    folder.sync()
    (tmp_path / "both.yaml").write_text(configmap("a", "a:2") + "---\n" + "kind: [unclosed\n")
    folder.sync()
    assert (image_of(store, "a"), image_of(store, "b")) == ("a:1", "b:1")
    assert len(errors_of(store)) == 2 and all("not valid YAML" in e for e in errors_of(store))


PAUSING_WRITER = """
import sys
with open(sys.argv[1], "w") as f:
    f.write(sys.argv[2]); f.flush()
    print("paused", flush=True)
    sys.stdin.readline()
    f.write(sys.argv[3])
"""


@pytest.mark.parametrize("pause_at", ["second container", "empty"])
def test_a_writer_that_pauses_mid_file_is_never_loaded_half_written(tmp_path: Path, pause_at: str) -> None:
    """A real writer process stops mid-file for as long as we poll; no poll may load what it wrote."""
    store = TemplateStore()
    folder = FolderTemplateSource(store, tmp_path, kubernetes_version="1.35", settle_seconds=0.01)
    (tmp_path / "agent.yaml").write_text(two_containers("agent", "agent:1"))
    folder.sync()
    full = two_containers("agent", "agent:2")
    # Both prefixes are a valid file on their own: one container of agent:2, or no document at all.
    cut = full.index("    - name: agent-helper") if pause_at == "second container" else 0
    with subprocess.Popen(
        [sys.executable, "-c", PAUSING_WRITER, str(tmp_path / "agent.yaml"), full[:cut], full[cut:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdin is not None and writer.stdout is not None
        assert writer.stdout.readline() == "paused\n"
        for _ in range(5):  # each sync settles (two reads 10 ms apart agree): the old rule loaded it
            folder.sync()
            assert containers_of(store, "agent") == [("agent", "agent:1"), ("agent-helper", "agent:1")]
            assert errors_of(store) == []
        writer.stdin.write("go on\n")
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
    folder.sync()
    assert containers_of(store, "agent") == [("agent", "agent:2"), ("agent-helper", "agent:2")]


def test_a_first_load_waits_for_a_file_being_written(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "ready.yaml").write_text(configmap("ready", "ready:1"))
    with (tmp_path / "agent.yaml").open("w") as writing:
        writing.write(configmap("agent", "agent:1")[:40])
        writing.flush()
        assert not folder.sync() and not store.ready(), "ready without a template it will serve"
    assert folder.sync() and store.ready()
    assert image_of(store, "ready") == "ready:1"
    assert image_of(store, "agent") is None  # what the writer left holds no template


@pytest.mark.timeout(60)
def test_a_fifo_or_a_device_named_yaml_is_reported_not_read(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "agent.yaml").write_text(configmap("agent", "agent:1"))
    os.mkfifo(tmp_path / "fifo.yaml")  # a plain open() blocks until a writer comes: forever
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # a plain read() never ends
    (tmp_path / "dir.yaml").mkdir()
    assert folder.sync()
    assert image_of(store, "agent") == "agent:1"
    errors = sorted(errors_of(store))
    assert [e.split(": ", 1)[0] for e in errors] == [
        str(tmp_path / n) for n in ("dir.yaml", "fifo.yaml", "zero.yaml")
    ]
    assert "not a regular file (a directory)" in errors[0]
    assert "not a regular file (a FIFO)" in errors[1]
    assert "not a regular file (a character device)" in errors[2]


def test_a_file_over_the_size_bound_is_reported_not_read(tmp_path: Path) -> None:
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "agent.yaml").write_text(configmap("agent", "agent:1"))
    folder.sync()
    with (tmp_path / "agent.yaml").open("a") as grown:
        grown.write("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    folder.sync()
    assert image_of(store, "agent") == "agent:1"
    assert any("larger than 4 MiB" in e for e in errors_of(store)), errors_of(store)


def test_configmaps_that_look_like_templates_but_hold_none_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent-initializer\ndata:\n  conf: x\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shipper\n"
        "  labels: {sidecar-injector.io/template: 'true'}\ndata:\n  templates: x\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unrelated\ndata:\n  config: x\n"
    )
    results = load_folder(tmp_path)
    messages = sorted(str(result) for result in results.values())
    assert len(messages) == 2
    assert "agent-initializer" in messages[0] and "no string key 'config'" in messages[0]
    assert "shipper" in messages[1] and "no string key 'template'" in messages[1]


def test_a_billion_laughs_file_is_refused_cheaply_and_briefly(tmp_path: Path) -> None:
    # The fuzz seed: 9 levels of 9 aliases that end in a schema error. Before, the error quoted every
    # expanded string (35 MB at 8 levels, gigabytes at 9) and the load took seconds to minutes.
    bomb = (
        Path(__file__).parents[2] / "fuzz" / "corpus" / "templates" / "edge-billion-laughs.yaml"
    ).read_text()
    store = TemplateStore()
    folder = source(store, tmp_path)
    (tmp_path / "agent.yaml").write_text(configmap("agent", "agent:1"))
    (tmp_path / "bomb.yaml").write_text(bomb)
    folder.sync()
    assert image_of(store, "agent") == "agent:1"
    [error] = errors_of(store)
    assert "expands to more than 512 Ki nodes and characters" in error and len(error) < 300
