from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from webhook.templates.file_source import FolderTemplateSource, parse_folder
from webhook.templates.store import TemplateStore


def configmap(name: str, image: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"  labels: {{sidecar-injector.io/template: 'true'}}\n"
        f"data:\n  template: |\n    containers:\n    - name: {name}\n      image: {image}\n"
    )


def kubelet_publish(volume: Path, files: dict[str, str], stamp: str) -> None:
    """What the kubelet does for a ConfigMap volume: a new timestamped dir, then an atomic ..data swap."""
    data_dir = volume / f"..{stamp}"
    data_dir.mkdir()
    for name, text in files.items():
        (data_dir / name).write_text(text)
    tmp_link = volume / "..data_tmp"
    tmp_link.symlink_to(data_dir.name)
    os.rename(tmp_link, volume / "..data")
    for name in files:
        if not (volume / name).is_symlink():
            (volume / name).symlink_to(f"..data/{name}")


def source(
    store: TemplateStore, folder: Path, sleep: Callable[[float], bool] = lambda _: False
) -> FolderTemplateSource:
    return FolderTemplateSource(store, folder, kubernetes_version="1.35", sleep=sleep)


def image_of(store: TemplateStore, name: str) -> str | None:
    template = store.snapshot().resolve(name, "default")
    return template.containers[0]["image"] if template else None


def test_the_kubelet_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    store = TemplateStore()
    kubelet_publish(tmp_path, {"agent.yaml": configmap("agent", "agent:1")}, "2026_11_27_03_00_00.1")
    folder = source(store, tmp_path)
    assert folder.sync() and image_of(store, "agent") == "agent:1"
    assert store.ready()

    kubelet_publish(tmp_path, {"agent.yaml": configmap("agent", "agent:2")}, "2026_11_27_03_05_00.2")
    assert folder.sync() and image_of(store, "agent") == "agent:2"
    assert not folder.sync(), "an unchanged folder is not re-published"


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
    results, produced = parse_folder(tmp_path, {"odd.yaml": text})
    assert results == {} and produced == {"odd.yaml": []}


def test_configmaps_that_look_like_templates_but_hold_none_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent-initializer\ndata:\n  conf: x\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shipper\n"
        "  labels: {sidecar-injector.io/template: 'true'}\ndata:\n  templates: x\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unrelated\ndata:\n  config: x\n"
    )
    results, produced = parse_folder(tmp_path, {"broken.yaml": (tmp_path / "broken.yaml").read_text()})
    messages = sorted(str(result) for result in results.values())
    assert len(messages) == 2 == len(produced["broken.yaml"])
    assert "agent-initializer" in messages[0] and "no string key 'config'" in messages[0]
    assert "shipper" in messages[1] and "no string key 'template'" in messages[1]
