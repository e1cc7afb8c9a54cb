"""The validation kube-apiserver applies to what a client writes, for the mistakes clients make.

Not every rule of pkg/apis/*/validation: the ones a client of these resources meets in practice —
names, labels, annotation size; Pods and pod templates (containers, images, volumes and the mounts that
must name one, unique names); workload selectors that must match the template; what a Pod update may
change; Job templates and selectors; Lease durations (Events: ``event_validation``; time formats:
``times``). Each returns ``FieldError``s that the caller turns into one 422 ``Invalid`` Status, as the
apiserver does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.fakes import resources as r
from tests.fakes.status import FieldError, invalid

JsonObject = dict[str, Any]

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
MAX_ANNOTATIONS_BYTES = 256 * 1024
POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def dns_name_errors(value: str, path: str, label: bool) -> Iterator[FieldError]:
    limit, pattern, message = (63, _LABEL, LABEL_MESSAGE) if label else (253, _SUBDOMAIN, SUBDOMAIN_MESSAGE)
    if len(value) > limit:
        yield FieldError("Invalid", path, value, f"must be no more than {limit} characters")
    if not pattern.fullmatch(value):
        yield FieldError("Invalid", path, value, message)


def qualified_name_errors(value: str, path: str) -> Iterator[FieldError]:
    prefix, _, name = value.rpartition("/")
    if prefix:
        for error in dns_name_errors(prefix, path, label=False):
            yield FieldError("Invalid", path, value, "prefix part " + error.detail)
    if not name:
        yield FieldError("Invalid", path, value, "name part must be non-empty")
    elif len(name) > 63:
        yield FieldError("Invalid", path, value, "name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.fullmatch(name):
        yield FieldError("Invalid", path, value, QUALIFIED_NAME_MESSAGE)


def metadata_errors(
    resource: r.ResourceType, meta: JsonObject, path: str = "metadata"
) -> Iterator[FieldError]:
    name = meta.get("name")
    if name:
        yield from dns_name_errors(name, f"{path}.name", resource.name_is_label)
    for key, value in (meta.get("labels") or {}).items():
        yield from qualified_name_errors(key, f"{path}.labels")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            detail = "must be no more than 63 characters" if len(str(value)) > 63 else LABEL_VALUE_MESSAGE
            yield FieldError("Invalid", f"{path}.labels", value, detail)
    annotations = meta.get("annotations") or {}
    for key in annotations:
        yield from qualified_name_errors(key, f"{path}.annotations")
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > MAX_ANNOTATIONS_BYTES:
        yield FieldError(
            "TooLong", f"{path}.annotations", detail=f"must have at most {MAX_ANNOTATIONS_BYTES} bytes"
        )


def pod_spec_errors(spec: JsonObject, path: str) -> Iterator[FieldError]:
    volumes: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        where = f"{path}.volumes[{i}]"
        name = volume.get("name", "")
        if not name:
            yield FieldError("Required", f"{where}.name")
        elif name in volumes:
            yield FieldError("Duplicate", f"{where}.name", name)
        volumes.add(name)
        sources = [k for k in volume if k != "name"]
        if not sources:
            yield FieldError("Required", where, detail="must specify a volume type")
        for extra in sources[1:]:
            yield FieldError(
                "Forbidden", f"{where}.{extra}", detail="may not specify more than 1 volume type"
            )
    if not spec.get("containers"):
        yield FieldError("Required", f"{path}.containers")
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            yield from _container_errors(container, f"{path}.{group}[{i}]", names, volumes)


def _container_errors(
    container: JsonObject, where: str, names: set[str], volumes: set[str]
) -> Iterator[FieldError]:
    name = container.get("name", "")
    if not name:
        yield FieldError("Required", f"{where}.name")
    else:
        yield from dns_name_errors(name, f"{where}.name", label=True)
        if name in names:
            yield FieldError("Duplicate", f"{where}.name", name)
        names.add(name)
    if not container.get("image"):
        yield FieldError("Required", f"{where}.image")
    mount_paths: set[str] = set()
    for j, mount in enumerate(container.get("volumeMounts") or []):
        if mount.get("name") not in volumes:
            yield FieldError("NotFound", f"{where}.volumeMounts[{j}].name", mount.get("name", ""))
        mount_path = mount.get("mountPath", "")
        if not mount_path:
            yield FieldError("Required", f"{where}.volumeMounts[{j}].mountPath")
        elif mount_path in mount_paths:
            yield FieldError("Invalid", f"{where}.volumeMounts[{j}].mountPath", mount_path, "must be unique")
        mount_paths.add(mount_path)
    for j, env in enumerate(container.get("env") or []):
        if not env.get("name"):
            yield FieldError("Required", f"{where}.env[{j}].name")
    for j, port in enumerate(container.get("ports") or []):
        number = port.get("containerPort")
        if not isinstance(number, int) or not 0 < number < 65536:
            yield FieldError(
                "Invalid",
                f"{where}.ports[{j}].containerPort",
                number,
                "must be between 1 and 65535, inclusive",
            )


def workload_errors(resource: r.ResourceType, obj: JsonObject) -> Iterator[FieldError]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    if resource in (r.DEPLOYMENTS, r.REPLICASETS, r.STATEFULSETS, r.DAEMONSETS):
        selector = spec.get("selector")
        if not selector:
            yield FieldError("Required", "spec.selector")
        else:
            labels = (template.get("metadata") or {}).get("labels") or {}
            wanted = selector.get("matchLabels") or {}
            if not wanted and not selector.get("matchExpressions"):
                yield FieldError(
                    "Invalid",
                    "spec.selector",
                    selector,
                    f"empty selector is invalid for {resource.kind.lower()}",
                )
            elif any(labels.get(k) != v for k, v in wanted.items()):
                yield FieldError(
                    "Invalid",
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
        restart = (template.get("spec") or {}).get("restartPolicy")
        if restart != "Always":
            yield FieldError(
                "NotSupported", "spec.template.spec.restartPolicy", restart, supported=("Always",)
            )
    if resource is r.JOBS:
        yield from _job_template_errors(spec, "spec")
    if resource is r.CRONJOBS:
        yield from _job_template_errors(
            (spec.get("jobTemplate") or {}).get("spec") or {}, "spec.jobTemplate.spec"
        )
        if not spec.get("schedule"):
            yield FieldError("Required", "spec.schedule")
    if resource.pod_template is not None:
        pod_spec = _dig(obj, (*resource.pod_template, "spec"))
        prefix = ".".join((*resource.pod_template, "spec"))
        yield from pod_spec_errors(pod_spec if isinstance(pod_spec, dict) else {}, prefix)


def _job_template_errors(job_spec: JsonObject, path: str) -> Iterator[FieldError]:
    restart = ((job_spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        yield FieldError(
            "NotSupported", f"{path}.template.spec.restartPolicy", restart, supported=("OnFailure", "Never")
        )


def update_errors(resource: r.ResourceType, new: JsonObject, old: JsonObject) -> Iterator[FieldError]:
    if new["metadata"].get("uid") != old["metadata"].get("uid"):
        yield FieldError("Invalid", "metadata.uid", new["metadata"].get("uid"), "field is immutable")
    if resource in (r.DEPLOYMENTS, r.REPLICASETS, r.STATEFULSETS, r.DAEMONSETS, r.JOBS):
        new_selector = (new.get("spec") or {}).get("selector")
        if new_selector != (old.get("spec") or {}).get("selector"):
            yield FieldError("Invalid", "spec.selector", new_selector, "field is immutable")
    if resource is r.JOBS and (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get(
        "template"
    ):
        yield FieldError("Invalid", "spec.template", new["spec"].get("template"), "field is immutable")
    if resource is r.PODS and _mutable_pod_spec(new.get("spec") or {}) != _mutable_pod_spec(
        old.get("spec") or {}
    ):
        yield FieldError("Forbidden", "spec", detail=POD_UPDATE_MESSAGE)


def _mutable_pod_spec(spec: JsonObject) -> JsonObject:
    """A Pod spec with what an update may change blanked out."""
    rest = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations")}
    for group in ("containers", "initContainers"):
        if isinstance(rest.get(group), list):
            rest[group] = [{k: v for k, v in c.items() if k != "image"} for c in rest[group]]
    return rest


def lease_errors(obj: JsonObject) -> Iterator[FieldError]:
    duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        yield FieldError("Invalid", "spec.leaseDurationSeconds", duration, "must be greater than 0")


def raise_invalid(resource: r.ResourceType, name: str, errors: list[FieldError]) -> None:
    if errors:
        raise invalid(resource.kind, resource.group, name, errors)


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
