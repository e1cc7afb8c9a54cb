from __future__ import annotations

from typing import Any

import pytest

from tests.support.templates import template_set
from webhook.core import AdmissionFacts, InjectionPolicy, VolumeNotFound, mutate
from webhook.core.mounts import AddedMount, check_volumes_exist, normalise_mount_path


@pytest.mark.parametrize(
    ("written", "directory"),
    [
        ("/var/log/app", "/var/log/app"),
        ("/var/log/app/", "/var/log/app"),
        ("//var//log/app", "/var/log/app"),
        ("/var/./log/app/.", "/var/log/app"),
        ("/var/log/tmp/../app", "/var/log/app"),
        ("/../var/log/app", "/var/log/app"),
        ("/var/.cache/app", "/var/.cache/app"),
        ("/var/..app/", "/var/..app"),
        ("/", "/"),
        ("///", "/"),
        ("C:\\logs", "C:\\logs"),
        ("relative/dir/", "relative/dir/"),
    ],
)
def test_mount_paths_compare_as_the_directory_they_name(written: str, directory: str) -> None:
    assert normalise_mount_path(written) == directory


def test_every_mount_without_its_volume_is_named_in_one_refusal() -> None:
    added = [
        AddedMount("agent", "agent", "volumeMount", "config", "/etc/agent"),
        AddedMount("agent", "web", "volumeMount", "shared", "/shared"),
        AddedMount("backup", "backup", "volumeDevice", "disk", "/dev/xvda"),
    ]
    check_volumes_exist(added, {"config", "shared", "disk"})
    with pytest.raises(VolumeNotFound) as refused:
        check_volumes_exist(added, {"shared"})
    assert refused.value.templates == ("agent", "backup")
    assert refused.value.reason == "volume-not-found"
    assert refused.value.message == (
        "template 'agent': volumeMount 'config' at '/etc/agent' in container 'agent' names a volume that "
        "neither the template nor the pod has; template 'backup': volumeDevice 'disk' at '/dev/xvda' in "
        "container 'backup' names a volume that neither the template nor the pod has"
    )


DEVICE_TEMPLATE = template_set(
    """
apiVersion: v1
kind: ConfigMap
metadata: {name: disk-reader, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers:
    - name: reader
      image: reader:1
      volumeDevices: [{name: disk, devicePath: /dev/xvda}]
"""
)


def test_a_sidecar_volume_device_needs_a_volume_of_the_final_pod() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"sidecar-injector.io/inject": "disk-reader"}},
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
    }
    facts = AdmissionFacts("u", "CREATE", "Pod", "default")
    with pytest.raises(VolumeNotFound, match="template 'disk-reader': volumeDevice 'disk' at '/dev/xvda'"):
        mutate(pod, facts, DEVICE_TEMPLATE, InjectionPolicy())
    pod["spec"]["volumes"] = [{"name": "disk", "persistentVolumeClaim": {"claimName": "disk"}}]
    assert mutate(pod, facts, DEVICE_TEMPLATE, InjectionPolicy()).injected == ("disk-reader",)
