from __future__ import annotations

import pytest

from webhook.core.mounts import normalise_mount_path


@pytest.mark.parametrize(
    ("written", "directory"),
    [
        ("/var/log/app", "/var/log/app"),
        ("/var/log/app/", "/var/log/app"),
        ("//var//log/app", "/var/log/app"),
        ("/var/./log/app/.", "/var/log/app"),
        ("/var/log/tmp/../app", "/var/log/app"),
        ("/../var/log/app", "/var/log/app"),
        ("/", "/"),
        ("///", "/"),
        ("C:\\logs", "C:\\logs"),
        ("relative/dir/", "relative/dir/"),
    ],
)
def test_mount_paths_compare_as_the_directory_they_name(written: str, directory: str) -> None:
    assert normalise_mount_path(written) == directory
