#!/usr/bin/env python3
"""Benchmark the sidecar-injector webhook over real HTTPS, the way the container image runs it.

    python bench/run.py            # full run (about 10 minutes with --duration 5)
    python bench/run.py --quick    # smoke run: 3 s points, 1 repeat, fewer points

What it does: issues a certificate with ``sidecar-injector certs generate``, starts ``sidecar-injector
serve`` with production settings (JSON logs at INFO, one worker), measures startup-to-ready and memory,
then drives it with wrk (keep-alive HTTPS) and bench/admission.lua, which counts a response as good
only when it is a correct answer to the review it sent. Prints a Markdown report and writes it to
bench/results/latest.md (plus latest.json). Exits 1 if any request got a bad answer or a socket error,
2 if the setup failed; missed performance targets are reported, never fatal.

If wrk is missing and the script runs as root, it runs ``apt-get install -y wrk``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
LUA = BENCH / "admission.lua"
RESULTS = BENCH / "results"
EXAMPLES = REPO / "examples"
LEGACY_TEMPLATE = EXAMPLES / "logging-agent-initializer.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

JsonObj = dict[str, Any]


class BenchError(Exception):
    """The benchmark could not be set up or a server misbehaved (exit 2)."""


# --------------------------------------------------------------------------------------------------
# AdmissionReview bodies


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    uid: str
    expect_patch: bool
    body: bytes
    object_bytes: int

    @property
    def expect(self) -> str:
        return "patch" if self.expect_patch else "nopatch"


def _review(obj: JsonObj, uid: str, resource: str, name: str, user: JsonObj) -> bytes:
    group, _, version = obj["apiVersion"].rpartition("/")
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    review: JsonObj = {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": user,
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "x"},
        },
    }
    if not name:
        del review["request"]["name"]
    return json.dumps(review, separators=(",", ":")).encode()


CONTROLLER_USER = {
    "username": "system:serviceaccount:kube-system:replicaset-controller",
    "uid": "3a6c8a0e-5a3f-4c36-9d0e-5c2b8e7b1f10",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
}
ADMIN_USER = {
    "username": "kubernetes-admin",
    "groups": ["kubeadm:cluster-admins", "system:authenticated"],
}
LEGACY_ANNOTATION = "initializer.kubernetes.io/logging-agent"


def _app_container(name: str, image: str, env: int = 6, mounts: int = 1, index: int = 0) -> JsonObj:
    variables: list[JsonObj] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "password"}},
        },
    ]
    variables += [
        {"name": f"{name.upper().replace('-', '_')}_SETTING_{i:03d}", "value": f"value-{index}-{i}-abcdefgh"}
        for i in range(max(env - len(variables), 0))
    ]
    volume_mounts: list[JsonObj] = [
        {"name": f"{name}-data-{i}", "mountPath": f"/var/lib/{name}/data-{i}"} for i in range(mounts - 1)
    ]
    volume_mounts.append(
        {
            "name": "kube-api-access-x7k2p",
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    )
    probe: JsonObj = {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    return {
        "name": name,
        "image": image,
        "args": ["--config=/etc/app/config.yaml", "--log-level=info"],
        "ports": [
            {"name": "http", "containerPort": 8080 + index, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9102 + index, "protocol": "TCP"},
        ],
        "env": variables,
        "resources": {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "250m", "memory": "256Mi"},
        },
        "volumeMounts": volume_mounts,
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "readinessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/readyz"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
    }


def _pod_spec(containers: list[JsonObj], volumes: list[JsonObj]) -> JsonObj:
    return {
        "volumes": [
            *volumes,
            {
                "name": "kube-api-access-x7k2p",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            },
        ],
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "checkout-api",
        "serviceAccount": "checkout-api",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": f"node.kubernetes.io/{t}",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
            for t in ("not-ready", "unreachable")
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }


LABELS = {
    "app.kubernetes.io/name": "checkout-api",
    "app.kubernetes.io/instance": "checkout-api",
    "app.kubernetes.io/version": "2.14.3",
    "app.kubernetes.io/component": "api",
    "app.kubernetes.io/part-of": "shop",
}
IMAGE = "registry.example.com/shop/checkout-api@sha256:" + "4f0e" * 16


def _replicaset_pod(annotated: bool, containers: list[JsonObj], volumes: list[JsonObj]) -> JsonObj:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}
    if annotated:
        annotations[LEGACY_ANNOTATION] = "true"
    fields_spec: JsonObj = {
        f'k:{{"name":"{c["name"]}"}}': {
            ".": {},
            "f:args": {},
            "f:image": {},
            "f:livenessProbe": {".": {}},
            "f:ports": {".": {}},
            "f:resources": {".": {}, "f:limits": {}, "f:requests": {}},
        }
        for c in containers[:3]
    }
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": "checkout-api-7c9f6d5b8d-",
            "namespace": "shop",
            "uid": "9d8f4c52-61c1-4b8e-9a63-0f5d8a3c2b71",
            "creationTimestamp": None,
            "labels": {**LABELS, "pod-template-hash": "7c9f6d5b8d"},
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-api-7c9f6d5b8d",
                    "uid": "5b1e7f0a-2c4d-4e6f-8a9b-0c1d2e3f4a5b",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-20T09:14:07Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {
                                ".": {},
                                "f:prometheus.io/port": {},
                                "f:prometheus.io/scrape": {},
                            },
                            "f:generateName": {},
                            "f:labels": {".": {}, **{f"f:{k}": {} for k in LABELS}},
                            "f:ownerReferences": {".": {}, 'k:{"uid":"5b1e7f0a"}': {}},
                        },
                        "f:spec": {"f:containers": fields_spec, "f:dnsPolicy": {}, "f:volumes": {".": {}}},
                    },
                }
            ],
        },
        "spec": _pod_spec(containers, volumes),
        "status": {},
    }


def scenario_bodies() -> list[Scenario]:
    one = [_app_container("checkout-api", IMAGE, env=3)]
    pod = _replicaset_pod(True, one, [])
    plain = _replicaset_pod(False, one, [])

    # ~200 KiB: 30 containers, each with many variables and volume mounts, and their volumes.
    def large(env: int) -> JsonObj:
        containers = [
            _app_container(f"worker-{i:02d}", f"registry.example.com/shop/worker-{i:02d}:1.{i}.0", env, 4, i)
            for i in range(30)
        ]
        volumes: list[JsonObj] = [
            {"name": f"worker-{i:02d}-data-{j}", "configMap": {"name": f"worker-{i:02d}-config-{j}"}}
            for i in range(30)
            for j in range(3)
        ]
        return _replicaset_pod(True, containers, volumes)

    env = 10
    while len(json.dumps(large(env), separators=(",", ":"))) < 200 * 1024:
        env += 1
    big = large(env)

    deployment: JsonObj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout-api",
            "namespace": "shop",
            "creationTimestamp": None,
            "labels": dict(LABELS),
            "annotations": {LEGACY_ANNOTATION: "true", "deployment.kubernetes.io/revision": "1"},
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "time": "2026-11-20T09:14:06Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:annotations": {".": {}}, "f:labels": {".": {}}}},
                }
            ],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "checkout-api"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": dict(LABELS)},
                "spec": _pod_spec([_app_container("checkout-api", IMAGE, env=3)], []),
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }

    def size(obj: JsonObj) -> int:
        return len(json.dumps(obj, separators=(",", ":")))

    prefix = "b7e0c0de-5eed-4b00-8000-00000000000"
    return [
        Scenario(
            "1-pod-rs",
            "Pod from a ReplicaSet, opted in",
            prefix + "1",
            True,
            _review(pod, prefix + "1", "pods", "", CONTROLLER_USER),
            size(pod),
        ),
        Scenario(
            "2-pod-large",
            "Pod, 30 containers, opted in",
            prefix + "2",
            True,
            _review(big, prefix + "2", "pods", "", CONTROLLER_USER),
            size(big),
        ),
        Scenario(
            "3-deployment",
            "Deployment CREATE, opted in",
            prefix + "3",
            True,
            _review(deployment, prefix + "3", "deployments", "checkout-api", ADMIN_USER),
            size(deployment),
        ),
        Scenario(
            "4-pod-not-opted-in",
            "Pod from a ReplicaSet, not opted in",
            prefix + "4",
            False,
            _review(plain, prefix + "4", "pods", "", CONTROLLER_USER),
            size(plain),
        ),
    ]


def write_native_templates(folder: Path, count: int) -> None:
    """``count`` native template ConfigMaps, one file each, as a mounted template folder holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"sidecar-{n:04d}.yaml").write_text(
            f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: sidecar-{n}
  labels:
    sidecar-injector.io/template: "true"
data:
  template: |
    containers:
    - name: sidecar-{n}
      image: registry.example.com/sidecar:{n}
      args: ["--listen=127.0.0.1:{15000 + n}", "--upstream=127.0.0.1:8080"]
      resources:
        requests: {{cpu: 10m, memory: 16Mi}}
        limits: {{memory: 64Mi}}
      volumeMounts:
      - name: sidecar-{n}-data
        mountPath: /var/run/sidecar-{n}
    volumes:
    - name: sidecar-{n}-data
      emptyDir: {{}}
    env:
    - name: SIDECAR_{n}_ENDPOINT
      value: http://127.0.0.1:{15000 + n}
"""
        )


# --------------------------------------------------------------------------------------------------
# Processes


def read_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def read_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"{key} not in /proc/{pid}/status")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def code_fingerprint() -> str:
    """Hash of webhook/'s sources: tells whether every server of a run executed the same code."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "webhook").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".json"):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_entrypoint() -> Path:
    """The ``sidecar-injector`` console script of this environment, installed editable if absent."""
    candidates = [Path(sys.executable).parent / "sidecar-injector"]
    which = shutil.which("sidecar-injector")
    if which:
        candidates.append(Path(which))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    if sys.prefix == sys.base_prefix:
        raise BenchError("sidecar-injector is not installed: activate the venv and `pip install -e .`")
    print("bench: installing the project into this venv (pip install -e .)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", str(REPO)], check=True)
    return candidates[0]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("wrk is missing: install it (apt-get install -y wrk) or run this script as root")
    print("bench: wrk not found; running apt-get install -y wrk", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get did not provide wrk")
    return found


@dataclass
class Env:
    entrypoint: Path
    wrk: str
    work: Path
    certs: Path
    can_pin: bool
    bodies: dict[str, Path] = field(default_factory=dict)
    _logs: int = 0

    def log_path(self) -> Path:
        self._logs += 1
        return self.work / f"server-{self._logs}.log"


class Server:
    """One ``sidecar-injector serve`` process, as the image starts it, optionally pinned to core 0."""

    def __init__(
        self,
        env: Env,
        templates: Sequence[Path],
        *,
        pinned: bool,
        workers: int | None = None,
        certs: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        """``certs``: a folder with tls.crt, tls.key and ca.crt (default: the one ``prepare()`` made);
        ``extra_args`` are appended to the ``serve`` command line."""
        self.env = env
        self.port, self.metrics_port = free_port(), free_port()
        self.log = env.log_path()
        certs = certs or env.certs
        command = [
            str(env.entrypoint),
            "serve",
            "--cert",
            str(certs / "tls.crt"),
            "--key",
            str(certs / "tls.key"),
            *[arg for folder in templates for arg in ("--templates", str(folder))],
            "--log-format",
            "json",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
        ]
        if workers is not None:
            command += ["--workers", str(workers)]
        command += extra_args
        if pinned:
            command = ["taskset", "-c", "0", *command]
        self.command = command
        self.context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        self.process: subprocess.Popen[bytes] | None = None
        self.code = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> float:
        """Spawn and poll /readyz; returns seconds from spawn to the first 200."""
        self.code = code_fingerprint()
        with self.log.open("wb") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                self.command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.get("/readyz") == 200:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise BenchError(f"server not ready within {timeout} s:\n{self.log_tail()}")

    def get(self, path: str) -> int | None:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def post(self, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=10)
        try:
            connection.request("POST", "/mutate", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def pids(self) -> list[int]:
        return process_tree(self.pid)

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            with suppress(OSError):
                total += read_cpu_seconds(pid)
        return total

    def rss_kib(self) -> int:
        return sum(read_status_kib(pid, "VmRSS") for pid in self.pids())

    def hwm_kib(self) -> int:
        return sum(read_status_kib(pid, "VmHWM") for pid in self.pids())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, keep_log: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if not keep_log:
            self.log.unlink(missing_ok=True)


@contextmanager
def running(
    env: Env,
    templates: Sequence[Path],
    *,
    pinned: bool,
    workers: int | None = None,
    certs: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[tuple[Server, float]]:
    server = Server(env, templates, pinned=pinned, workers=workers, certs=certs, extra_args=extra_args)
    ok = False
    try:
        ready = server.start()
        yield server, ready
        ok = True
    finally:
        server.stop(keep_log=not ok)


def check_answer(server: Server, scenario: Scenario) -> tuple[int, int]:
    """One request outside wrk: a readable error if the answer is wrong; returns (ops, response bytes)."""
    status, body = server.post(scenario.body)
    if status != 200:
        raise BenchError(f"{scenario.key}: HTTP {status}: {body[:300]!r}")
    response = json.loads(body)["response"]
    if response.get("uid") != scenario.uid or response.get("allowed") is not True:
        raise BenchError(f"{scenario.key}: wrong answer: {body[:300]!r}")
    if ("patch" in response) != scenario.expect_patch:
        raise BenchError(f"{scenario.key}: patch expected={scenario.expect_patch}: {body[:300]!r}")
    ops = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return len(ops), len(body)


# --------------------------------------------------------------------------------------------------
# wrk


COUNT_KEYS = ("requests", "good", "bad", "bad_status", "bad_uid", "bad_allowed", "bad_patch")
SOCKET_KEYS = ("connect", "read", "write", "status", "timeout")


@dataclass
class Run:
    values: dict[str, float]
    cpu_seconds: float
    rss_kib: int
    hwm_kib: int

    @property
    def failures(self) -> int:
        return int(sum(self.values[k] for k in ("bad", *SOCKET_KEYS)))

    @property
    def rps(self) -> float:
        return self.values["requests"] / (self.values["duration_us"] / 1e6)

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_seconds * 1000 / max(self.values["requests"], 1)


def wrk_command(
    env: Env,
    server: Server,
    scenario: Scenario,
    conns: int,
    threads: int,
    duration: float,
    pinned: bool,
    *,
    connection_close: bool = False,
) -> list[str]:
    """wrk posting ``scenario`` through admission.lua; ``connection_close``: a new connection per request."""
    command = [
        env.wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"https://127.0.0.1:{server.port}/mutate",
        "--",
        str(env.bodies[scenario.key]),
        scenario.uid,
        scenario.expect,
    ]
    if connection_close:
        command.append("close")
    return ["taskset", "-c", "1", *command] if pinned else command


def parse_bench_line(stdout: str) -> dict[str, float] | None:
    """The values of admission.lua's ``BENCH key=value ...`` line, or None if wrk printed none."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        return None
    return {key: float(value) for key, value in (pair.split("=") for pair in line.split()[1:])}


def run_wrk(
    env: Env, server: Server, scenario: Scenario, conns: int, threads: int, duration: float, pinned: bool
) -> Run:
    command = wrk_command(env, server, scenario, conns, threads, duration, pinned)
    cpu_before = server.cpu_seconds()
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    cpu_after = server.cpu_seconds()
    values = parse_bench_line(result.stdout)
    if result.returncode != 0 or values is None:
        raise BenchError(
            f"wrk failed ({result.returncode}): {shlex.join(command)}\n{result.stdout}{result.stderr}"
        )
    return Run(values, cpu_after - cpu_before, server.rss_kib(), server.hwm_kib())


@dataclass
class Point:
    section: str
    scenario: str
    pinning: str
    conns: int
    threads: int
    runs: list[Run] = field(default_factory=list)
    workers: int = 1
    code: str = ""

    def median(self, metric: Callable[[Run], float]) -> float:
        return statistics.median(metric(run) for run in self.runs)

    @property
    def failures(self) -> int:
        return sum(run.failures for run in self.runs)

    def summary(self) -> JsonObj:
        return {
            "section": self.section,
            "scenario": self.scenario,
            "pinning": self.pinning,
            "workers": self.workers,
            "code": self.code,
            "conns": self.conns,
            "wrk_threads": self.threads,
            "rps": self.median(lambda r: r.rps),
            "p50_ms": self.median(lambda r: r.values["p50_us"]) / 1000,
            "p90_ms": self.median(lambda r: r.values["p90_us"]) / 1000,
            "p99_ms": self.median(lambda r: r.values["p99_us"]) / 1000,
            "cpu_s_per_1k": self.median(lambda r: r.cpu_per_1k),
            "rss_mib": self.median(lambda r: r.rss_kib) / 1024,
            "hwm_mib": max(run.hwm_kib for run in self.runs) / 1024,
            "requests": sum(int(run.values["requests"]) for run in self.runs),
            "good": sum(int(run.values["good"]) for run in self.runs),
            "failures": self.failures,
            "runs": [asdict(run) for run in self.runs],
        }


# --------------------------------------------------------------------------------------------------
# The plan


@dataclass
class Options:
    duration: float
    repeat: int
    warmup: float
    conns: list[int]
    starts: int
    idle_seconds: float
    quick: bool
    scenarios: list[str]
    unpinned_scenarios: list[str]
    template_conns: list[int]
    worker_conns: list[int]
    churn: int

    def scenarios_keys(self) -> tuple[str, str, str]:
        """Scenario keys for the targets: the small pod, the 200 KiB pod, the pod not opted in."""
        return SCENARIO_KEYS[0], SCENARIO_KEYS[1], SCENARIO_KEYS[3]


@dataclass
class Report:
    meta: JsonObj = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    answers: dict[str, JsonObj] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    churn: JsonObj = field(default_factory=dict)

    def find(self, section: str, scenario: str, pinning: str, conns: int, workers: int = 1) -> Point | None:
        for point in self.points:
            if (point.section, point.scenario, point.pinning, point.conns, point.workers) == (
                section,
                scenario,
                pinning,
                conns,
                workers,
            ):
                return point
        return None


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure_points(
    env: Env,
    opts: Options,
    report: Report,
    server: Server,
    scenario: Scenario,
    *,
    section: str,
    pinned: bool,
    conns_list: Sequence[int],
    workers: int = 1,
) -> None:
    pinning = "pinned" if pinned else "unpinned"
    points = []
    for conns in conns_list:
        threads = 1 if pinned else min(conns, 2)
        points.append(
            Point(section, scenario.key, pinning, conns, threads, workers=workers, code=server.code)
        )
    report.points.extend(points)
    if opts.warmup > 0:
        warm = run_wrk(env, server, scenario, 8, 1 if pinned else 2, opts.warmup, pinned)
        if warm.failures:
            print(
                f"bench: {scenario.key} warm-up: bad answers or socket errors: {warm.values}", file=sys.stderr
            )
            report.scalars["warmup_failures"] = report.scalars.get("warmup_failures", 0) + warm.failures
    for repeat in range(opts.repeat):
        for point in points:
            run = run_wrk(env, server, scenario, point.conns, point.threads, opts.duration, pinned)
            point.runs.append(run)
            progress(
                f"{section} {scenario.key} {pinning} w{workers} c{point.conns} #{repeat + 1}: "
                f"{run.rps:,.0f}/s p99 {run.values['p99_us'] / 1000:.2f} ms "
                f"cpu {run.cpu_per_1k:.2f} s/1k rss {run.rss_kib / 1024:.0f} MiB"
                + (f"  FAILURES {run.failures}: {run.values}" if run.failures else "")
            )


def connection_churn(server: Server, scenario: Scenario, batch: int) -> JsonObj:
    """Two batches of ``batch`` fresh TLS connections with one review each: RSS and CPU per connection.

    Growth that repeats in the second batch is retained per connection (a leak), not a one-off pool.
    """
    rss = [server.rss_kib()]
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    for _ in range(2):
        for _ in range(batch):
            status, _body = server.post(scenario.body)
            if status != 200:
                raise BenchError(f"connection churn: HTTP {status}")
        rss.append(server.rss_kib())
    elapsed = time.perf_counter() - started
    return {
        "connections": 2 * batch,
        "rss_mib": [r / 1024 for r in rss],
        "kib_per_conn_1": (rss[1] - rss[0]) / batch,
        "kib_per_conn_2": (rss[2] - rss[1]) / batch,
        "server_cpu_ms_per_conn": (server.cpu_seconds() - cpu) * 1000 / (2 * batch),
        "conns_per_s": 2 * batch / elapsed,
    }


def idle_snapshot(server: Server, seconds: float) -> tuple[float, float]:
    """(RSS MiB, CPU %) while idle for ``seconds``."""
    cpu = server.cpu_seconds()
    time.sleep(seconds)
    return server.rss_kib() / 1024, (server.cpu_seconds() - cpu) * 100 / seconds


def median_start(env: Env, templates: Sequence[Path], starts: int) -> float:
    times = []
    for _ in range(starts):
        with running(env, templates, pinned=env.can_pin) as (_server, ready):
            times.append(ready)
    return statistics.median(times)


def workers_supported(env: Env) -> bool:
    result = subprocess.run(
        [str(env.entrypoint), "serve", "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    return result.returncode == 0 and "--workers" in result.stdout


def run_plan(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    examples = [EXAMPLES]
    one = env.work / "templates-1"
    one.mkdir()
    shutil.copy(LEGACY_TEMPLATE, one / LEGACY_TEMPLATE.name)
    thousand = env.work / "templates-1000"
    write_native_templates(thousand, 1000)

    progress(f"startup: {opts.starts} starts with --templates examples")
    report.scalars["ready_s"] = median_start(env, examples, opts.starts)
    progress(f"startup: {opts.starts} starts with 1,000 templates")
    report.scalars["ready_1000_s"] = median_start(env, [thousand, EXAMPLES], opts.starts)

    with running(env, [one], pinned=env.can_pin) as (server, _):
        report.scalars["idle_rss_1_template_mib"], _cpu = idle_snapshot(server, opts.idle_seconds)

    modes = [True, False] if env.can_pin else [False]
    for pinned in modes:
        chosen = opts.scenarios if pinned or not env.can_pin else opts.unpinned_scenarios
        for key in chosen:
            scenario = scenarios[key]
            with running(env, examples, pinned=pinned) as (server, _ready):
                rss, cpu = idle_snapshot(server, opts.idle_seconds)
                if pinned == env.can_pin and key == opts.scenarios[0]:
                    report.scalars["idle_rss_mib"] = rss
                    report.scalars["idle_cpu_pct"] = cpu
                ops, size = check_answer(server, scenario)
                report.answers[key] = {
                    "title": scenario.title,
                    "object_bytes": scenario.object_bytes,
                    "review_bytes": len(scenario.body),
                    "response_bytes": size,
                    "ops": ops,
                }
                measure_points(
                    env, opts, report, server, scenario, section="main", pinned=pinned, conns_list=opts.conns
                )

    progress(f"connection churn: 2 x {opts.churn} new TLS connections, one review each")
    with running(env, examples, pinned=env.can_pin) as (server, _ready):
        time.sleep(1.0)
        report.churn = connection_churn(server, scenarios[opts.scenarios[0]], opts.churn)

    progress("1,000 templates: memory, idle CPU and scenario 1 latency")
    first = scenarios[opts.scenarios[0]]
    with running(env, [thousand, EXAMPLES], pinned=env.can_pin) as (server, _ready):
        rss, cpu = idle_snapshot(server, opts.idle_seconds)
        report.scalars["idle_rss_1000_mib"] = rss
        report.scalars["idle_cpu_1000_pct"] = cpu
        check_answer(server, first)
        measure_points(
            env,
            opts,
            report,
            server,
            first,
            section="templates-1000",
            pinned=env.can_pin,
            conns_list=opts.template_conns,
        )
        report.scalars["hwm_1000_mib"] = server.hwm_kib() / 1024

    if not workers_supported(env):
        report.notes.append("workers: not supported")
        print("workers: not supported", file=sys.stderr)
        return
    for workers in (1, 2):
        try:
            with running(env, examples, pinned=False, workers=workers) as (server, _ready):
                time.sleep(1.0)
                processes = len(server.pids())
                report.scalars[f"workers_{workers}_processes"] = processes
                check_answer(server, first)
                measure_points(
                    env,
                    opts,
                    report,
                    server,
                    first,
                    section="workers",
                    pinned=False,
                    conns_list=opts.worker_conns,
                    workers=workers,
                )
        except BenchError as exc:
            report.notes.append(f"workers: not supported (--workers {workers} failed: {exc})")
            print("workers: not supported", file=sys.stderr)
            return
    if report.scalars.get("workers_2_processes", 0) < 2:
        report.notes.append(
            "workers: `--workers 2` is accepted but only one server process runs (the flag is parsed into "
            "Settings.workers and not used), so the two columns measure the same single process"
        )


# --------------------------------------------------------------------------------------------------
# Report


def churn_rows(churn: JsonObj) -> list[str]:
    if not churn:
        return []
    rss = " → ".join(f"{r:.1f}" for r in churn["rss_mib"])
    return [
        f"| connection churn: RSS over 2 x {churn['connections'] // 2} new TLS connections (1 review each)"
        f" | {rss} MiB |",
        f"| retained RSS per new connection, batch 1 / batch 2 | {churn['kib_per_conn_1']:.0f} /"
        f" {churn['kib_per_conn_2']:.0f} KiB |",
        "| server CPU per new connection (handshake + 1 review) |"
        f" {churn['server_cpu_ms_per_conn']:.2f} ms |",
    ]


def fmt(value: float | None, digits: int = 1, thousands: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"


def targets(report: Report, opts: Options) -> list[tuple[str, str, bool | None]]:
    pin = "pinned" if any(p.pinning == "pinned" for p in report.points) else "unpinned"
    s1, s2, s4 = opts.scenarios_keys()

    def metric(scenario: str, conns: int, key: str) -> float | None:
        point = report.find("main", scenario, pin, conns)
        return point.summary()[key] if point and point.runs else None

    rows: list[tuple[str, str, bool | None]] = []

    def check(
        label: str, value: float | None, limit: float, at_least: bool, unit: str, digits: int = 1
    ) -> None:
        ok = None if value is None else (value >= limit if at_least else value <= limit)
        sign = "≥" if at_least else "≤"
        rows.append((f"{label} {sign} {limit:,g} {unit}", f"{fmt(value, digits, True)} {unit}", ok))

    check(f"scenario 1, 8 conns {pin}: admissions/s", metric(s1, 8, "rps"), 2500, True, "/s", 0)
    check(f"scenario 1, 8 conns {pin}: p99", metric(s1, 8, "p99_ms"), 8, False, "ms", 2)
    check(f"scenario 1, 1 conn {pin}: p99", metric(s1, 1, "p99_ms"), 1.5, False, "ms", 2)
    check(f"scenario 4, 8 conns {pin}: admissions/s", metric(s4, 8, "rps"), 4000, True, "/s", 0)
    check(f"200 KiB pod, 8 conns {pin}: admissions/s", metric(s2, 8, "rps"), 150, True, "/s", 0)
    check(f"200 KiB pod, 8 conns {pin}: p99", metric(s2, 8, "p99_ms"), 40, False, "ms", 2)
    check("RSS idle", report.scalars.get("idle_rss_mib"), 80, False, "MiB")
    loaded = [(p.summary()["hwm_mib"], p) for p in report.points if p.section == "main" and p.runs]
    peak = max(loaded, key=lambda item: item[0]) if loaded else None
    where = f" ({peak[1].scenario} {peak[1].pinning})" if peak else ""
    check(f"RSS under load, peak VmHWM{where}", peak[0] if peak else None, 110, False, "MiB")
    first = [h for h, p in loaded if p.scenario == s1]
    check(f"RSS under load, peak VmHWM ({s1})", max(first) if first else None, 110, False, "MiB")
    check("RSS with 1,000 templates (peak)", report.scalars.get("hwm_1000_mib"), 150, False, "MiB")
    check("startup to ready", report.scalars.get("ready_s"), 1.5, False, "s", 2)
    return rows


def render(report: Report, opts: Options, scenarios: dict[str, Scenario]) -> str:
    m = report.meta
    s = report.scalars
    out = [
        "# sidecar-injector benchmark",
        "",
        f"- date: {m['date']}",
        f"- command: `{m['command']}`",
        f"- machine: {m['cores']} cores (os.cpu_count()), {m['cpu_model']}, Linux {m['kernel']}",
        f"- Python {m['python']}; {m['versions']}; {m['wrk_version']}; commit {m['commit']}",
        f"- server: `{m['server_command']}` (JSON logs at INFO to a file, 1 worker)",
        "- pinned: server under `taskset -c 0`, `taskset -c 1 wrk -t1`; unpinned: no taskset,"
        " `wrk -t min(conns, 2)`; startup and template measurements are pinned",
        f"- points: {opts.duration:g} s each, median of {opts.repeat}, {opts.warmup:g} s warm-up per server;"
        " latency percentiles are wrk's (per request, keep-alive, no coordinated-omission correction)",
        "",
        "## Bodies",
        "",
        "| scenario | object | review | response | patch ops |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, a in report.answers.items():
        out.append(
            f"| {key}: {a['title']} | {a['object_bytes'] / 1024:.1f} KiB | {a['review_bytes'] / 1024:.1f} KiB"
            f" | {a['response_bytes']:,} B | {a['ops']} |"
        )
    out += [
        "",
        "## Startup and memory",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| startup to ready, examples (median of {opts.starts}) | {fmt(s.get('ready_s'), 2)} s |",
        f"| startup to ready, 1,000 templates + examples (median of {opts.starts}) |"
        f" {fmt(s.get('ready_1000_s'), 2)} s |",
        f"| idle RSS, 1 template | {fmt(s.get('idle_rss_1_template_mib'))} MiB |",
        f"| idle RSS, examples (2 templates) | {fmt(s.get('idle_rss_mib'))} MiB |",
        f"| idle RSS, 1,000 templates + examples | {fmt(s.get('idle_rss_1000_mib'))} MiB |",
        f"| peak RSS (VmHWM) after load, 1,000 templates | {fmt(s.get('hwm_1000_mib'))} MiB |",
        f"| idle CPU, examples | {fmt(s.get('idle_cpu_pct'))} % of a core |",
        *churn_rows(report.churn),
        f"| idle CPU, 1,000 templates (folder polling) | {fmt(s.get('idle_cpu_1000_pct'))} % of a core |",
        "",
    ]
    header = [
        "| scenario | pinning | workers | conns | wrk -t | req/s | p50 ms | p90 ms | p99 ms |"
        " server CPU s/1k req | RSS after MiB | peak RSS MiB | good / total |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    mixed = len({p.code for p in report.points if p.code}) > 1

    def rows(section: str) -> list[str]:
        lines = []
        for point in report.points:
            if point.section != section or not point.runs:
                continue
            x = point.summary()
            label = f"{point.scenario} [{point.code}]" if mixed else point.scenario
            lines.append(
                f"| {label} | {point.pinning} | {point.workers} | {point.conns} | {point.threads} |"
                f" {x['rps']:,.0f} | {x['p50_ms']:.2f} | {x['p90_ms']:.2f} | {x['p99_ms']:.2f} |"
                f" {x['cpu_s_per_1k']:.3f} | {x['rss_mib']:.1f} | {x['hwm_mib']:.1f} |"
                f" {x['good']:,} / {x['requests']:,} |"
            )
        return lines

    out += ["## Throughput and latency (--templates examples)", "", *header, *rows("main"), ""]
    out += ["## Scenario 1 with 1,000 templates loaded", "", *header, *rows("templates-1000"), ""]
    s1 = opts.scenarios_keys()[0]
    pin = "pinned" if any(p.pinning == "pinned" for p in report.points) else "unpinned"
    for point in report.points:
        if point.section != "templates-1000" or not point.runs:
            continue
        base = report.find("main", s1, pin, point.conns)
        if base and base.runs:
            a, b = base.summary(), point.summary()
            out.append(
                f"- c{point.conns}: p50 {a['p50_ms']:.2f} → {b['p50_ms']:.2f} ms, p99 {a['p99_ms']:.2f} →"
                f" {b['p99_ms']:.2f} ms, {a['rps']:,.0f} → {b['rps']:,.0f}/s (2 → 1,002 templates)"
            )
    out.append("")
    worker_rows = rows("workers")
    out += ["## Workers (scenario 1, unpinned)", ""]
    if worker_rows:
        p1, p2 = s.get("workers_1_processes"), s.get("workers_2_processes")
        out += [f"Processes seen: --workers 1 → {fmt(p1, 0)}, --workers 2 → {fmt(p2, 0)}.", ""]
        out += [*header, *worker_rows, ""]
        for conns in opts.worker_conns:
            one, two = (report.find("workers", s1, "unpinned", conns, w) for w in (1, 2))
            if one and two and one.runs and two.runs:
                ratio = two.summary()["rps"] / one.summary()["rps"]
                out.append(f"- c{conns}: 2 workers / 1 worker = {ratio:.2f}x throughput")
        out.append("")
    codes = sorted({p.code for p in report.points if p.code})
    if len(codes) > 1:
        out.append(
            f"- **webhook/ changed during this run** (source fingerprints {', '.join(codes)}): rows were"
            " measured against different code; see `code` in latest.json per point; re-run"
        )
    out += [f"- {note}" for note in report.notes]
    out += ["", "## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
    rows_t = targets(report, opts)
    for label, value, ok in rows_t:
        out.append(f"| {label} | {value} | {'n/a' if ok is None else ('yes' if ok else '**no**')} |")
    met = sum(1 for _, _, ok in rows_t if ok)
    out += ["", f"Targets met: {met}/{len(rows_t)}."]
    total = sum(p.failures for p in report.points) + int(s.get("warmup_failures", 0))
    out.append(f"Bad answers or socket errors across all wrk runs: {total}.")
    return "\n".join(out) + "\n"


def comparison_line(report: Report, opts: Options) -> str:
    rows = targets(report, opts)
    parts = [
        f"{label} → {value} {'?' if ok is None else ('ok' if ok else 'MISS')}" for label, value, ok in rows
    ]
    met = sum(1 for _, _, ok in rows if ok)
    return f"targets met {met}/{len(rows)}: " + " | ".join(parts)


def machine_meta(env: Env, argv: Sequence[str]) -> JsonObj:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    interpreter = env.entrypoint.read_text().splitlines()[0].removeprefix("#!").strip()
    probe = (
        "import importlib.metadata as m, platform\n"
        "names = ['uvicorn', 'uvloop', 'httptools', 'starlette', 'fastapi', 'orjson', 'prometheus_client']\n"
        "def v(n):\n"
        "    try:\n        return m.version(n)\n    except m.PackageNotFoundError:\n        return 'absent'\n"
        "print(platform.python_version()); print(', '.join(f'{n} {v(n)}' for n in names))\n"
    )
    found = subprocess.run([interpreter, "-c", probe], capture_output=True, text=True, timeout=60)
    python_version, versions = [*found.stdout.splitlines(), "?", "?"][:2]
    wrk_version = subprocess.run([env.wrk, "-v"], capture_output=True, text=True).stdout.splitlines()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "webhook"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + shlex.join(argv),
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": python_version,
        "versions": versions,
        "wrk_version": " ".join(wrk_version[0].split()[:2]) if wrk_version else "wrk",
        "commit": (commit or "?")
        + (" (webhook/ modified)" if dirty else "")
        + f", webhook/ source fingerprint {code_fingerprint()}",
        "server_command": "sidecar-injector serve --cert tls.crt --key tls.key --templates examples "
        "--log-format json --host 127.0.0.1 --port P --metrics-port M",
    }


# --------------------------------------------------------------------------------------------------
# Entry point


SCENARIO_KEYS = ("1-pod-rs", "2-pod-large", "3-deployment", "4-pod-not-opted-in")


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s points, 1 repeat, fewer points")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 3)")
    parser.add_argument("--repeat", type=int, help="runs per point, median reported (default 3; quick 1)")
    parser.add_argument("--warmup", type=float, help="seconds of unreported load per server (default 2)")
    parser.add_argument("--conns", help="comma-separated connection counts (default 1,8,32,64)")
    parser.add_argument("--starts", type=int, help="starts for the startup median (default 5; quick 3)")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    conns = [int(c) for c in args.conns.split(",")] if args.conns else ([1, 8] if quick else [1, 8, 32, 64])
    return Options(
        duration=args.duration or (3.0 if quick else 10.0),
        repeat=args.repeat or (1 if quick else 3),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        conns=conns,
        starts=args.starts or (3 if quick else 5),
        idle_seconds=2.0 if quick else 3.0,
        quick=quick,
        scenarios=list(SCENARIO_KEYS),
        unpinned_scenarios=[SCENARIO_KEYS[0]] if quick else list(SCENARIO_KEYS),
        template_conns=[c for c in conns if c in (1, 8)] or conns[:1],
        churn=200 if quick else 500,
        worker_conns=[8] if quick else [c for c in conns if c in (8, 64)] or conns,
    )


def prepare() -> tuple[Env, dict[str, Scenario]]:
    """Tools, a work folder, a certificate from ``certs generate`` and the review bodies on disk."""
    entrypoint = find_entrypoint()
    wrk = ensure_wrk()
    cores = os.cpu_count() or 1
    can_pin = cores >= 2 and shutil.which("taskset") is not None
    if not can_pin:
        print("bench: fewer than 2 cores or no taskset: running unpinned only", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-"))
    env = Env(entrypoint, wrk, work, work / "certs", can_pin)
    certs = f"certs generate --service sidecar-injector --namespace bench --out {env.certs}"
    subprocess.run(
        [str(entrypoint), *shlex.split(certs), "--extra-name", "localhost", "--extra-name", "127.0.0.1"],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    scenarios = {s.key: s for s in scenario_bodies()}
    for scenario in scenarios.values():
        path = work / f"{scenario.key}.json"
        path.write_bytes(scenario.body)
        env.bodies[scenario.key] = path
    return env, scenarios


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    opts = parse_options(argv[1:])
    started = time.monotonic()
    try:
        env, scenarios = prepare()
        work = env.work
        report = Report(meta=machine_meta(env, argv))
        try:
            run_plan(env, opts, report, scenarios)
        finally:
            # Partial results are still worth a report when something breaks halfway.
            text = render(report, opts, scenarios)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "latest.md").write_text(text)
            (RESULTS / "latest.json").write_text(
                json.dumps(
                    {
                        "meta": report.meta,
                        "scalars": report.scalars,
                        "answers": report.answers,
                        "notes": report.notes,
                        "churn": report.churn,
                        "points": [p.summary() for p in report.points if p.runs],
                    },
                    indent=1,
                )
            )
        shutil.rmtree(work, ignore_errors=True)
    except (BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"bench: setup or server failure: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(comparison_line(report, opts))
    print(f"(written to {RESULTS / 'latest.md'}; {time.monotonic() - started:.0f} s)")
    failures = sum(p.failures for p in report.points) + int(report.scalars.get("warmup_failures", 0))
    if failures:
        print(f"bench: {failures} bad answers or socket errors under load", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
