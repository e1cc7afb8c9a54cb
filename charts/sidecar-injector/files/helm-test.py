"""`helm test`: one real injection through the webhook's Service, checked end to end.

Runs in the injector's own image (its Python and jsonpatch), so the test pod needs nothing else.
It calls the Service the way the API server does (HTTPS verified against the CA the webhook
configuration trusts), waits for /readyz, then sends an AdmissionReview for a Pod that opts in to
TEMPLATE and checks the answer: same uid, allowed, a base64 JSON patch that applies cleanly and adds
the container EXPECT_CONTAINER, keeps the pod's own container, and records the template in the
status annotation. A template that is not loaded yet (the chart's test template ConfigMap is created
just before this pod) is retried until TIMEOUT_SECONDS. Exit 0 on success, 1 with the reason.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import jsonpatch

STATUS_ANNOTATION = "sidecar-injector.io/status"


class Failed(Exception):
    pass


def call(url: str, context: ssl.SSLContext, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def opted_in_pod(template: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "helm-test",
            "namespace": namespace,
            "annotations": {"sidecar-injector.io/inject": template},
        },
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": "registry.invalid/helm-test:1",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def admission_review(uid: str, pod: dict[str, Any]) -> dict[str, Any]:
    resource = {"group": "", "version": "v1", "resource": "pods"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": resource,
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": resource,
            "operation": "CREATE",
            "namespace": pod["metadata"]["namespace"],
            "name": pod["metadata"]["name"],
            "userInfo": {"username": "helm-test"},
            "object": pod,
            "dryRun": True,
        },
    }


def check_answer(answer: dict[str, Any], uid: str, pod: dict[str, Any], template: str, expect: str) -> str:
    """The injected pod's container names when the answer is right; raises Failed otherwise."""
    response = answer.get("response") or {}
    if response.get("uid") != uid:
        raise Failed(f"answer is for uid {response.get('uid')!r}, not {uid!r}")
    if response.get("allowed") is not True:
        raise Failed(f"the review was refused: {response.get('status')}")
    if "patch" not in response:
        raise Failed(f"no patch; warnings: {response.get('warnings')}")
    if response.get("patchType") != "JSONPatch":
        raise Failed(f"patchType is {response.get('patchType')!r}")
    operations = json.loads(base64.b64decode(response["patch"]))
    mutated = jsonpatch.apply_patch(pod, operations)
    spec = mutated["spec"]
    names = [c["name"] for c in spec.get("initContainers", []) + spec["containers"]]
    if expect not in names:
        raise Failed(f"the patch adds no container {expect!r}; the pod has {names}")
    if "app" not in names:
        raise Failed("the patch removed the pod's own container")
    status = json.loads(mutated["metadata"]["annotations"][STATUS_ANNOTATION])
    if template not in json.dumps(status):
        raise Failed(f"the status annotation does not name {template!r}: {status}")
    return ", ".join(names)


def run(env: dict[str, str]) -> None:
    base, template, expect = env["INJECTOR_URL"].rstrip("/"), env["TEMPLATE"], env["EXPECT_CONTAINER"]
    context = ssl.create_default_context(cafile=env["CA_FILE"])
    deadline = time.monotonic() + float(env.get("TIMEOUT_SECONDS", "60"))
    last = "nothing tried"
    while time.monotonic() < deadline:
        try:
            status, body = call(f"{base}/readyz", context)
            if status != 200:
                raise Failed(f"/readyz answered {status}: {body.decode(errors='replace')}")
            uid = f"helm-test-{time.time_ns()}"
            pod = opted_in_pod(template, env["REVIEW_NAMESPACE"])
            status, body = call(f"{base}/mutate", context, json.dumps(admission_review(uid, pod)).encode())
            if status != 200:
                raise Failed(f"/mutate answered {status}: {body.decode(errors='replace')}")
            containers = check_answer(json.loads(body), uid, pod, template, expect)
            print(f"ok: {base} injected template {template!r}; the pod now has {containers}")
            return
        except (Failed, OSError, ValueError, KeyError) as problem:
            last = f"{type(problem).__name__}: {problem}"
            print(f"not yet: {last}", flush=True)
            time.sleep(2)
    raise Failed(f"no correct injection within the deadline; last: {last}")


if __name__ == "__main__":
    try:
        run(dict(os.environ))
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
