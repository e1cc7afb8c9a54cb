"""One volume of a template, checked as the API server's ``validateVolumeSource`` does.

Exactly one source per volume, and each source's own rules: required fields, relative item paths
without '..', file modes in 0-0777, quantities, driver names, the PVC template of an ephemeral volume.
"""

from __future__ import annotations

from typing import Any

from webhook.templates.env_rules import VOLUME_FIELD_PATHS, check_field_selector, check_resource_selector
from webhook.templates.errors import show
from webhook.templates.findings import FieldPath, Findings, entries, integer, mapping, present, text
from webhook.templates.k8s_formats import dns_subdomain, no_backsteps, object_name, relative_path
from webhook.templates.k8s_formats import relative_unreserved_path as unreserved
from webhook.templates.metadata_rules import check_annotations, check_labels
from webhook.templates.resource_rules import check_quantity

SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)  # fmt: skip
# In-tree sources whose only rules the API server checks are required fields.
_REQUIRED = {
    "gcePersistentDisk": ("pdName",),
    "awsElasticBlockStore": ("volumeID",),
    "nfs": ("server", "path"),
    "iscsi": ("targetPortal", "iqn"),
    "glusterfs": ("endpoints", "path"),
    "rbd": ("monitors", "image"),
    "cinder": ("volumeID",),
    "cephfs": ("monitors",),
    "quobyte": ("registry", "volume"),
    "flexVolume": ("driver",),
    "azureFile": ("secretName", "shareName"),
    "vsphereVolume": ("volumePath",),
    "photonPersistentDisk": ("pdID",),
    "portworxVolume": ("volumeID",),
    "azureDisk": ("diskName", "diskURI"),
    "scaleIO": ("gateway", "system", "volumeName"),
    "storageos": ("volumeName",),
    "persistentVolumeClaim": ("claimName",),
    "gitRepo": ("repository",),
    "hostPath": ("path",),
    "secret": ("secretName",),
    "configMap": ("name",),
}
_HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def check_volume(volume: Any, path: FieldPath, findings: Findings) -> None:
    sources = [source for source in SOURCES if present(volume, source)]
    if not sources:
        findings.add(path, "must specify a volume source (emptyDir, configMap, secret, ...)")
    for extra in sources[1:]:
        findings.add(
            (*path, extra), f"may not specify more than one volume source (already has {sources[0]})"
        )
    if sources:
        source = sources[0]
        _check_source(source, mapping(volume)[source], (*path, source), findings)


def _check_source(source: str, spec: Any, path: FieldPath, findings: Findings) -> None:
    for field in _REQUIRED.get(source, ()):
        if not mapping(spec).get(field):
            findings.add((*path, field), "required")
    for field in ("defaultMode", "partition"):
        _check_range(spec, field, path, findings, 0o777 if field == "defaultMode" else 255)
    if source == "emptyDir":
        check_quantity(mapping(spec).get("sizeLimit"), (*path, "sizeLimit"), findings)
    elif source == "hostPath":
        findings.extend((*path, "path"), no_backsteps(text(spec, "path") or ""))
        kind = mapping(spec).get("type")
        if kind is not None and kind not in _HOST_PATH_TYPES:
            findings.add(
                (*path, "type"), f"{show(kind)} is not one of {', '.join(t for t in _HOST_PATH_TYPES if t)}"
            )
    elif source == "gitRepo":
        findings.extend((*path, "directory"), relative_path(text(spec, "directory") or ""))
    elif source == "nfs" and text(spec, "path") and not text(spec, "path").startswith("/"):  # type: ignore[union-attr]
        findings.add((*path, "path"), "must be an absolute path")
    elif source in ("secret", "configMap"):
        _check_items(mapping(spec).get("items"), (*path, "items"), findings, set())
    elif source == "downwardAPI":
        for index, item in enumerate(entries(mapping(spec).get("items"))):
            _check_downward_file(item, (*path, "items", index), findings, set())
    elif source == "projected":
        _check_projections(mapping(spec).get("sources"), (*path, "sources"), findings)
    elif source == "csi":
        _check_csi(spec, path, findings)
    elif source == "ephemeral":
        _check_claim_template(
            mapping(spec).get("volumeClaimTemplate"), (*path, "volumeClaimTemplate"), findings
        )
    elif source == "image":
        policy = mapping(spec).get("pullPolicy")
        if policy not in (None, "", "Always", "IfNotPresent", "Never"):
            findings.add((*path, "pullPolicy"), f"{show(policy)} is not one of Always, IfNotPresent, Never")


def _check_items(items: Any, path: FieldPath, findings: Findings, paths: set[str]) -> None:
    for index, item in enumerate(entries(items)):
        item_path = (*path, index)
        if not text(item, "key"):
            findings.add((*item_path, "key"), "required")
        _check_file_path(item, item_path, findings, paths)


def _check_file_path(item: Any, item_path: FieldPath, findings: Findings, paths: set[str]) -> None:
    """A projected file: a relative path, unique among the volume's files, and a mode in 0-0777."""
    file_path = text(item, "path")
    if not file_path:
        findings.add((*item_path, "path"), "required")
    else:
        findings.extend((*item_path, "path"), unreserved(file_path))
        if file_path in paths:
            findings.add((*item_path, "path"), f"conflicting duplicate path {show(file_path)}")
        paths.add(file_path)
    _check_range(item, "mode", item_path, findings, 0o777)


def _check_downward_file(item: Any, path: FieldPath, findings: Findings, paths: set[str]) -> None:
    _check_file_path(item, path, findings, paths)
    has_field, has_resource = present(item, "fieldRef"), present(item, "resourceFieldRef")
    if has_field and has_resource:
        findings.add(path, "fieldRef and resourceFieldRef can not be specified simultaneously")
    elif has_field:
        check_field_selector(mapping(item)["fieldRef"], (*path, "fieldRef"), findings, VOLUME_FIELD_PATHS)
    elif has_resource:
        check_resource_selector(
            mapping(item)["resourceFieldRef"], (*path, "resourceFieldRef"), findings, True
        )
    else:
        findings.add(path, "one of fieldRef and resourceFieldRef is required")


def _check_projections(sources: Any, path: FieldPath, findings: Findings) -> None:
    paths: set[str] = set()
    kinds = ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle")
    for index, source in enumerate(entries(sources)):
        item = (*path, index)
        found = [kind for kind in kinds if present(source, kind)]
        for extra in found[1:]:
            findings.add(
                (*item, extra), f"may not specify more than one source here (already has {found[0]})"
            )
        for kind in found[:1]:
            spec = mapping(source)[kind]
            if kind in ("secret", "configMap"):
                _check_items(mapping(spec).get("items"), (*item, kind, "items"), findings, paths)
            elif kind == "downwardAPI":
                for number, file in enumerate(entries(mapping(spec).get("items"))):
                    _check_downward_file(file, (*item, kind, "items", number), findings, paths)
            elif kind == "serviceAccountToken":
                _check_token(spec, (*item, kind), findings, paths)
            elif text(spec, "name") is not None and text(spec, "signerName") is not None:
                findings.add((*item, kind), "only one of name and signerName may be used")
            else:
                _check_file_path(spec, (*item, kind), findings, paths)


def _check_token(spec: Any, path: FieldPath, findings: Findings, paths: set[str]) -> None:
    seconds = integer(spec, "expirationSeconds")
    if seconds is not None and not 600 <= seconds <= 1 << 32:
        findings.add((*path, "expirationSeconds"), "must be between 10 minutes (600) and 2^32 seconds")
    _check_file_path(spec, path, findings, paths)


def _check_csi(spec: Any, path: FieldPath, findings: Findings) -> None:
    driver = text(spec, "driver")
    if not driver:
        findings.add((*path, "driver"), "required")
    else:
        findings.extend((*path, "driver"), ["must be no more than 63 characters"] if len(driver) > 63 else [])
        findings.extend((*path, "driver"), dns_subdomain(driver.lower()))
    secret = mapping(spec).get("nodePublishSecretRef")
    if secret is not None:
        name = text(secret, "name")
        findings.extend((*path, "nodePublishSecretRef", "name"), object_name(name) if name else ["required"])


def _check_claim_template(template: Any, path: FieldPath, findings: Findings) -> None:
    if template is None:
        findings.add(path, "required")
        return
    metadata = mapping(mapping(template).get("metadata"))
    for field in sorted(set(metadata) - {"labels", "annotations"}):
        if metadata[field] not in (None, "", [], {}):
            findings.add((*path, "metadata", field), "cannot be set; only labels and annotations may")
    check_labels(metadata.get("labels"), (*path, "metadata", "labels"), findings)
    check_annotations(metadata.get("annotations"), (*path, "metadata", "annotations"), findings)
    spec = mapping(mapping(template).get("spec"))
    modes = entries(spec.get("accessModes"))
    if not modes:
        findings.add((*path, "spec", "accessModes"), "at least 1 access mode is required")
    for index, mode in enumerate(modes):
        if mode not in _ACCESS_MODES:
            findings.add(
                (*path, "spec", "accessModes", index),
                f"{show(mode)} is not one of {', '.join(_ACCESS_MODES)}",
            )
    if "ReadWriteOncePod" in modes and len(set(modes)) > 1:
        findings.add((*path, "spec", "accessModes"), "may not use ReadWriteOncePod with other access modes")
    requests = mapping(mapping(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        findings.add((*path, "spec", "resources", "requests"), "must request storage")
    for name, raw in requests.items():
        check_quantity(
            raw, (*path, "spec", "resources", "requests", name), findings, positive=name == "storage"
        )


def _check_range(obj: Any, field: str, path: FieldPath, findings: Findings, high: int) -> None:
    value = integer(obj, field)
    if value is not None and not 0 <= value <= high:
        bound = "0777 (octal)" if high == 0o777 else str(high)
        findings.add((*path, field), f"must be a number between 0 and {bound}, both inclusive")
