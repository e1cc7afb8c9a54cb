"""A template is refused at load time for everything the API server would refuse in it, all at once.

Each case is a rule of the API server's pod validation (pkg/apis/core/validation) that is decidable
from the template alone; before, each of these templates loaded and every workload requesting it was
then refused by the API server with a message about fields its author never wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from webhook.templates import TemplateError
from webhook.templates.file_source import parse_folder
from webhook.templates.parsing import TemplateDocument, parse_template

VALID_CONTAINER = "{name: c, image: i}"


def problems(text: str, version: str = "1.35") -> list[tuple[str, str]]:
    try:
        parse_template(TemplateDocument("t", None, "ConfigMap ns/t", "template", text), version)
    except TemplateError as exc:
        return [(p.field, p.message) for p in exc.problems]
    return []


def container(fields: str) -> str:
    return f"containers:\n- name: c\n  image: i\n{fields}"


CASES = [
    # Quantities and resource requirements.
    (
        container("  resources: {limits: {memory: lots}}"),
        "containers[0].resources.limits.memory",
        "not a valid quantity",
    ),
    (
        container("  resources: {requests: {cpu: '-1'}}"),
        "containers[0].resources.requests.cpu",
        "greater than or equal to 0",
    ),
    (
        container("  resources: {requests: {cpu: 2}, limits: {cpu: 1}}"),
        "containers[0].resources.requests.cpu",
        "less than or equal to the cpu limit",
    ),
    (
        container("  resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}"),
        "containers[0].resources.requests.memory",
        "limit of '1Gi'",
    ),
    (
        container("  resources: {limits: {cpus: 1}}"),
        "containers[0].resources.limits.cpus",
        "not a standard resource",
    ),
    (
        container("  resources: {limits: {example.com/gpu: 1.5}}"),
        "containers[0].resources.limits[example.com/gpu]",
        "must be an integer",
    ),
    (
        container("  resources: {requests: {example.com/gpu: 1}}"),
        "containers[0].resources.limits",
        "cannot be overcommitted",
    ),
    (
        container("  resources: {requests: {example.com/gpu: 1}, limits: {example.com/gpu: 2}}"),
        "containers[0].resources.requests[example.com/gpu]",
        "must be equal",
    ),
    (
        container("  resources: {limits: {hugepages-2Mi: 3Mi, memory: 1Gi}}"),
        "containers[0].resources.limits.hugepages-2Mi",
        "multiple of the page size",
    ),
    (
        container("  resources: {limits: {hugepages-2Mi: 2Mi}}"),
        "containers[0].resources",
        "huge pages require",
    ),
    (
        "volumes: [{name: v, emptyDir: {sizeLimit: 1Gb}}]",
        "volumes[0].emptyDir.sizeLimit",
        "not a valid quantity",
    ),
    # Ports.
    (container("  ports: [{containerPort: 0}]"), "containers[0].ports[0].containerPort", "required"),
    (
        container("  ports: [{containerPort: 70000}]"),
        "containers[0].ports[0].containerPort",
        "between 1 and 65535",
    ),
    (
        container("  ports: [{containerPort: 80, hostPort: 70000}]"),
        "containers[0].ports[0].hostPort",
        "between 1 and 65535",
    ),
    (
        container("  ports: [{containerPort: 80, protocol: HTTP}]"),
        "containers[0].ports[0].protocol",
        "not one of TCP, UDP, SCTP",
    ),
    (
        container("  ports: [{containerPort: 80, name: Web_Port}]"),
        "containers[0].ports[0].name",
        "lower case alphanumeric",
    ),
    (
        container("  ports: [{containerPort: 80, name: metrics-endpoint}]"),
        "containers[0].ports[0].name",
        "no more than 15",
    ),
    (
        container("  ports: [{containerPort: 80, name: web}, {containerPort: 81, name: web}]"),
        "containers[0].ports[1].name",
        "duplicate port name",
    ),
    (
        "containers:\n- {name: a, image: i, ports: [{containerPort: 80, hostPort: 8080}]}\n- {name: b, image: i, ports: [{containerPort: 81, hostPort: 8080}]}",
        "containers[1].ports[0].hostPort",
        "duplicate host port 8080/TCP",
    ),
    # Probes and lifecycle hooks.
    (container("  livenessProbe: {periodSeconds: 5}"), "containers[0].livenessProbe", "exactly one handler"),
    (
        container("  readinessProbe: {exec: {command: [x]}, tcpSocket: {port: 80}}"),
        "containers[0].readinessProbe.tcpSocket",
        "more than one handler",
    ),
    (
        container("  livenessProbe: {httpGet: {port: 0}}"),
        "containers[0].livenessProbe.httpGet.port",
        "between 1 and 65535",
    ),
    (
        container("  livenessProbe: {httpGet: {port: Http_Port}}"),
        "containers[0].livenessProbe.httpGet.port",
        "lower case alphanumeric",
    ),
    (
        container("  startupProbe: {tcpSocket: {port: 80}, successThreshold: 2}"),
        "containers[0].startupProbe.successThreshold",
        "must be 1",
    ),
    (
        container("  readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1}"),
        "containers[0].readinessProbe.periodSeconds",
        "greater than or equal to 0",
    ),
    (
        container("  readinessProbe: {tcpSocket: {port: 80}, terminationGracePeriodSeconds: 5}"),
        "containers[0].readinessProbe.terminationGracePeriodSeconds",
        "must not be set",
    ),
    (
        container("  livenessProbe: {exec: {command: []}}"),
        "containers[0].livenessProbe.exec.command",
        "required",
    ),
    (
        container("  livenessProbe: {httpGet: {port: 80, httpHeaders: [{name: 'X Bad', value: v}]}}"),
        "containers[0].livenessProbe.httpGet.httpHeaders[0].name",
        "alphanumeric characters or '-'",
    ),
    (
        container("  lifecycle: {preStop: {sleep: {seconds: -1}}}"),
        "containers[0].lifecycle.preStop.sleep.seconds",
        "0 or more",
    ),
    (
        "initContainers: [{name: c, image: i, readinessProbe: {tcpSocket: {port: 80}}}]",
        "initContainers[0].readinessProbe",
        "may not be set for init containers",
    ),
    (
        "initContainers: [{name: c, image: i, lifecycle: {preStop: {exec: {command: [x]}}}}]",
        "initContainers[0].lifecycle",
        "may not be set for init containers",
    ),
    (
        "initContainers: [{name: c, image: i, restartPolicy: Never}]",
        "initContainers[0].restartPolicy",
        "only value is Always",
    ),
    (container("  restartPolicy: Always"), "containers[0].restartPolicy", "may not be set for containers"),
    # Environment.
    (container("  env: [{name: 'A=B', value: x}]"), "containers[0].env[0].name", "other than '='"),
    (
        "env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]",
        "env[0].valueFrom",
        "may not be specified when value is not empty",
    ),
    ("env: [{name: A, valueFrom: {}}]", "env[0].valueFrom", "must specify one of"),
    (
        "env: [{name: A, valueFrom: {fieldRef: {fieldPath: spec.containers}}}]",
        "env[0].valueFrom.fieldRef.fieldPath",
        "not supported",
    ),
    (
        "env: [{name: A, valueFrom: {configMapKeyRef: {name: cm, key: 'a b'}}}]",
        "env[0].valueFrom.configMapKeyRef.key",
        "alphanumeric",
    ),
    (
        "env: [{name: A, valueFrom: {secretKeyRef: {key: k}}}]",
        "env[0].valueFrom.secretKeyRef.name",
        "required",
    ),
    (
        "env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Gi}}}]",
        "env[0].valueFrom.resourceFieldRef.divisor",
        "not a supported divisor",
    ),
    (
        container("  envFrom: [{configMapRef: {name: a}, secretRef: {name: b}}]"),
        "containers[0].envFrom[0]",
        "exactly one of",
    ),
    (
        container("  envFrom: [{prefix: 'X=', configMapRef: {name: a}}]"),
        "containers[0].envFrom[0].prefix",
        "other than '='",
    ),
    # Mounts.
    ("volumeMounts: [{name: v, mountPath: /a, subPath: /abs}]", "volumeMounts[0].subPath", "relative path"),
    (
        "volumeMounts: [{name: v, mountPath: /a, subPath: a/../../b}]",
        "volumeMounts[0].subPath",
        "must not contain '..'",
    ),
    (
        "volumeMounts: [{name: v, mountPath: /a, subPath: a, subPathExpr: b}]",
        "volumeMounts[0].subPathExpr",
        "mutually exclusive",
    ),
    (
        "volumeMounts: [{name: v, mountPath: /a, mountPropagation: Sideways}]",
        "volumeMounts[0].mountPropagation",
        "not one of",
    ),
    (
        container("  volumeMounts: [{name: v, mountPath: /a, mountPropagation: Bidirectional}]"),
        "containers[0].volumeMounts[0].mountPropagation",
        "only to privileged containers",
    ),
    (
        "volumeMounts: [{name: v, mountPath: /a, recursiveReadOnly: Enabled}]",
        "volumeMounts[0].recursiveReadOnly",
        "readOnly is true",
    ),
    (
        "volumeMounts: [{name: v, mountPath: /a}, {name: w, mountPath: /a}]",
        "volumeMounts[1].mountPath",
        "duplicate mountPath",
    ),
    (
        container("  volumeMounts: [{name: v, mountPath: /a}, {name: w, mountPath: /a}]"),
        "containers[0].volumeMounts[1].mountPath",
        "duplicate mountPath",
    ),
    # Volumes: exactly one source, and each source's own rules.
    ("volumes: [{name: v}]", "volumes[0]", "must specify a volume source"),
    (
        "volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}]",
        "volumes[0].hostPath",
        "more than one volume source",
    ),
    (
        "volumes: [{name: v, hostPath: {path: /a/../etc}}]",
        "volumes[0].hostPath.path",
        "must not contain '..'",
    ),
    ("volumes: [{name: v, hostPath: {path: /x, type: Folder}}]", "volumes[0].hostPath.type", "not one of"),
    (
        "volumes: [{name: v, configMap: {name: c, items: [{key: k, path: ../x}]}}]",
        "volumes[0].configMap.items[0].path",
        "must not contain '..'",
    ),
    (
        "volumes: [{name: v, configMap: {name: c, items: [{key: k, path: x, mode: 4096}]}}]",
        "volumes[0].configMap.items[0].mode",
        "0777",
    ),
    ("volumes: [{name: v, secret: {defaultMode: 512}}]", "volumes[0].secret.secretName", "required"),
    (
        "volumes: [{name: v, secret: {secretName: s, defaultMode: 512}}]",
        "volumes[0].secret.defaultMode",
        "0777",
    ),
    (
        "volumes: [{name: v, persistentVolumeClaim: {claimName: ''}}]",
        "volumes[0].persistentVolumeClaim.claimName",
        "required",
    ),
    ("volumes: [{name: v, nfs: {server: s, path: relative}}]", "volumes[0].nfs.path", "absolute"),
    ("volumes: [{name: v, csi: {driver: Not_A_Driver}}]", "volumes[0].csi.driver", "DNS-1123 subdomain"),
    (
        "volumes: [{name: v, projected: {sources: [{secret: {name: s}, configMap: {name: c}}]}}]",
        "volumes[0].projected.sources[0].configMap",
        "more than one source",
    ),
    (
        "volumes: [{name: v, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 60}}]}}]",
        "volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds",
        "10 minutes",
    ),
    (
        "volumes: [{name: v, projected: {sources: [{secret: {name: a, items: [{key: k, path: x}]}}, {configMap: {name: b, items: [{key: k, path: x}]}}]}}]",
        "volumes[0].projected.sources[1].configMap.items[0].path",
        "duplicate path",
    ),
    (
        "volumes: [{name: v, downwardAPI: {items: [{path: p}]}}]",
        "volumes[0].downwardAPI.items[0]",
        "fieldRef and resourceFieldRef is required",
    ),
    (
        "volumes: [{name: v, downwardAPI: {items: [{path: p, fieldRef: {fieldPath: spec.nodeName}}]}}]",
        "volumes[0].downwardAPI.items[0].fieldRef.fieldPath",
        "not supported",
    ),
    (
        "volumes: [{name: v, ephemeral: {volumeClaimTemplate: {spec: {resources: {requests: {storage: 1Gi}}}}}}]",
        "volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes",
        "at least 1 access mode",
    ),
    (
        "volumes: [{name: v, ephemeral: {volumeClaimTemplate: {metadata: {name: x}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}]",
        "volumes[0].ephemeral.volumeClaimTemplate.metadata.name",
        "only labels and annotations",
    ),
    # Security context.
    (
        container("  securityContext: {runAsUser: -1}"),
        "containers[0].securityContext.runAsUser",
        "between 0 and 4294967295",
    ),
    (
        container("  securityContext: {seccompProfile: {type: Localhost}}"),
        "containers[0].securityContext.seccompProfile.localhostProfile",
        "must be set",
    ),
    (
        container("  securityContext: {seccompProfile: {type: RuntimeDefault, localhostProfile: x}}"),
        "containers[0].securityContext.seccompProfile.localhostProfile",
        "only be set",
    ),
    (
        container("  securityContext: {privileged: true, allowPrivilegeEscalation: false}"),
        "containers[0].securityContext",
        "cannot set allowPrivilegeEscalation to false and privileged",
    ),
    # Names and images.
    ("containers: [{name: Bad_Name, image: i}]", "containers[0].name", "DNS-1123 label"),
    ("volumes: [{name: has.dot, emptyDir: {}}]", "volumes[0].name", "must not contain dots"),
    ("containers: [{name: c, image: ' i '}]", "containers[0].image", "leading or trailing whitespace"),
    # Annotations and labels (issue 16 C): keys and values the API server refuses.
    ("annotations: {'': x}", "annotations[]", "name part must be non-empty"),
    ("annotations: {'bad key!': x}", "annotations[bad key!]", "alphanumeric"),
    ("annotations: {'a/b/c': x}", "annotations[a/b/c]", "optional DNS subdomain prefix"),
    ("labels: {'Bad_Prefix/app': x}", "labels[Bad_Prefix/app]", "prefix part must be a DNS-1123 subdomain"),
    ("labels: {app: " + "x" * 64 + "}", "labels.app", "no more than 63 characters"),
    ("labels: {app: 'has space'}", "labels.app", "must be empty or consist of alphanumeric"),
    # Numbers the API server (and our JSON encoder) cannot take.
    (
        container("  ports: [{containerPort: 18446744073709551616}]"),
        "containers[0].ports[0].containerPort",
        "does not fit in 64 bits",
    ),
    (
        container("  ports: [{containerPort: 4294967296}]"),
        "containers[0].ports[0].containerPort",
        "does not fit in a 32-bit integer",
    ),
    (
        container("  resources: {limits: {memory: " + "1" + "0" * 30 + "}}"),
        "containers[0].resources.limits.memory",
        "does not fit in 64 bits",
    ),
    (container("  ports: [{containerPort: 80.0}]"), "containers[0].ports[0].containerPort", "not an integer"),
]


@pytest.mark.parametrize(
    ("text", "field", "message"), CASES, ids=[f"{i}:{c[1]}" for i, c in enumerate(CASES)]
)
def test_what_the_api_server_refuses_is_refused_at_load(text: str, field: str, message: str) -> None:
    found = problems(text)
    assert any(f == field and message in m for f, m in found), found


def test_a_complete_valid_template_loads_without_a_single_finding() -> None:
    text = """
nativeSidecars: true
containers:
- name: agent
  image: registry.example.com/agent:1.2
  imagePullPolicy: IfNotPresent
  ports: [{containerPort: 9090, name: metrics, protocol: TCP}]
  env:
  - {name: MY.VAR-1, value: x}
  - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
  - {name: LABEL, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app.kubernetes.io/name']"}}}
  - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
  - {name: KEY, valueFrom: {secretKeyRef: {name: creds, key: token.txt}}}
  envFrom: [{prefix: AGENT_, configMapRef: {name: agent-config}}]
  resources:
    requests: {cpu: 100m, memory: 64Mi, example.com/dongle: 1}
    limits: {cpu: "0.5", memory: 128Mi, example.com/dongle: 1, hugepages-2Mi: 4Mi}
  livenessProbe: {httpGet: {path: /healthz, port: metrics}, periodSeconds: 10}
  readinessProbe: {grpc: {port: 9090}, successThreshold: 3}
  startupProbe: {exec: {command: [/bin/true]}, failureThreshold: 30}
  lifecycle: {preStop: {sleep: {seconds: 5}}}
  securityContext:
    runAsUser: 1000
    allowPrivilegeEscalation: false
    seccompProfile: {type: Localhost, localhostProfile: profiles/agent.json}
  volumeMounts:
  - {name: data, mountPath: /data, subPath: agent}
  - {name: app-logs, mountPath: /logs, readOnly: true, recursiveReadOnly: IfPossible}
initContainers:
- {name: setup, image: busybox:1.36, command: [sh, -c, "true"]}
volumes:
- {name: data, emptyDir: {sizeLimit: 1Gi}}
- name: token
  projected:
    defaultMode: 0440
    sources:
    - serviceAccountToken: {path: token, expirationSeconds: 3600}
    - configMap: {name: ca, items: [{key: ca.crt, path: ca.crt}]}
    - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
- {name: claim, ephemeral: {volumeClaimTemplate: {metadata: {labels: {app: agent}}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}
volumeMounts: [{name: data, mountPath: /agent-data}]
env: [{name: AGENT, value: "on"}]
imagePullSecrets: [{name: pull}]
annotations: {example.com/agent: "on", "Example.COM/Mixed": x, plain: ""}
labels: {app.kubernetes.io/part-of: agent, empty: ""}
"""
    assert problems(text) == []


def test_a_template_mount_may_name_a_volume_only_the_workload_has() -> None:
    # The app's own volume, mounted by the sidecar: only the pod can say whether it exists.
    assert problems(container("  volumeMounts: [{name: app-logs, mountPath: /logs}]")) == []
    assert problems("volumeMounts: [{name: app-logs, mountPath: /logs}]") == []


def test_env_var_names_follow_the_kubernetes_version() -> None:
    relaxed_only = "env: [{name: 1-starts-with-digit, value: x}]"
    assert problems(relaxed_only, version="1.33") == []
    assert problems(relaxed_only, version="1.31") == [
        (
            "env[0].name",
            "must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        )
    ]


FILE = """\
# A ConfigMap with five mistakes; each is reported with its line in this file.
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
  labels: {sidecar-injector.io/template: "true"}
data:
  template: |
    containers:
    - name: agent
      image: agent:1
      resources:
        limits:
          memory: lots
      ports:
      - containerPort: 70000
    volumes:
    - name: logs
      emptyDir: {}
      hostPath: {path: /var/log}
    labels:
      app: "not a label value"
    annotations:
      "": empty
"""


def test_every_problem_is_reported_at_once_with_its_line_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(FILE)
    [(doc_id, error)] = parse_folder(tmp_path, {"broken.yaml": FILE})["broken.yaml"].items()
    assert isinstance(error, TemplateError)
    lines = FILE.splitlines()
    found = {(p.field, p.line) for p in error.problems}
    assert found == {
        ("containers[0].resources.limits.memory", 14),
        ("containers[0].ports[0].containerPort", 16),
        ("volumes[0].hostPath", 20),
        ("labels.app", 22),
        ("annotations[]", 24),
    }, error.problems
    for problem in error.problems:
        assert (
            problem.field.split(".")[-1].split("[")[0] in lines[problem.line - 1]
            or problem.field == "annotations[]"
        )
    # Every line of the report names the file and line, the ConfigMap, the key and the field.
    path = str(tmp_path / "broken.yaml")
    for line, problem in zip(error.lines(), error.problems, strict=True):
        assert line.startswith(f"{path}:{problem.line}: ConfigMap broken, key 'template': {problem.field}: ")
    assert str(error).startswith(f"{path}: ConfigMap broken, key 'template': 5 problems:\n")
    assert doc_id == f"{path}: ConfigMap broken key template"


def test_lines_of_a_template_from_the_api_count_within_the_key() -> None:
    text = "containers:\n- name: agent\n  image: agent:1\n  ports: [{containerPort: 0}]\n"
    with pytest.raises(TemplateError) as caught:
        parse_template(TemplateDocument("t", None, "ConfigMap ns/t", "template", text))
    assert caught.value.line == 4
    assert str(caught.value) == (
        "ConfigMap ns/t, key 'template', line 4: containers[0].ports[0].containerPort: required"
    )


def test_a_quoted_template_in_a_file_names_the_line_of_its_key(tmp_path: Path) -> None:
    text = 'kind: ConfigMap\nmetadata:\n  name: q\n  labels: {sidecar-injector.io/template: "true"}\ndata:\n  template: "containers: [{name: c, image: i, ports: [{containerPort: 0}]}]"\n'
    [error] = parse_folder(tmp_path, {"q.yaml": text})["q.yaml"].values()
    assert isinstance(error, TemplateError) and error.line == 6


KEYS = st.sampled_from(
    (
        *("containerPort", "hostPort", "limits", "requests", "memory", "cpu", "runAsUser", "name", "value"),
        *(
            "port",
            "exec",
            "command",
            "preStop",
            "sleep",
            "seconds",
            "periodSeconds",
            "mountPath",
            "tcpSocket",
        ),
    )
) | st.text(max_size=4)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([2**31, 2**63, 2**64, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["ports", "resources", "livenessProbe", "env", "volumeMounts", "securityContext", "lifecycle", "args"]
)


@given(st.dictionaries(FIELDS, JSON_VALUES, max_size=3), st.booleans())
@example({"livenessProbe": {"periodSeconds": 2**64}}, False)  # loaded before, then every review failed
@example({"resources": {"limits": {"memory": 10**30}}}, True)
def test_any_container_fields_load_as_encodable_json_or_are_refused(
    fields: dict[str, Any], native: bool
) -> None:
    """Whatever a container holds, the parser refuses it or loads data every review can encode."""
    body = {"nativeSidecars": native, "containers": [{"name": "c", "image": "i", **fields}]}
    try:
        template = parse_template(TemplateDocument("t", None, "ConfigMap ns/t", "template", json.dumps(body)))
    except TemplateError as exc:
        assert str(exc) and len(str(exc)) < 64 * 1024
        return
    assert orjson.loads(orjson.dumps(template.containers)) == list(template.containers)
