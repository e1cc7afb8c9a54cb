"""``explain``: why an object is, or would be, injected or not; offline from manifests, or live.

The reading is here (manifests, the API, template folders or ConfigMaps); the decision and the
report are ``webhook.explain``'s, which runs the server's own code. Exit status: 0 injected or
would be, 1 error, 2 skipped or denied, 3 a live object not at the current revisions; with
several objects, the highest of theirs (an error among skipped objects exits 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webhook.cli import arguments, cluster, options
from webhook.settings import DEFAULTS

if TYPE_CHECKING:
    from webhook.core import AdmissionFacts, InjectionPolicy, TemplateSet
    from webhook.explain import Explanation, Rejection
    from webhook.kube.resources import Resources
    from webhook.templates import TemplateError

KINDS = {
    "Pod": ("pod", "pods", "po"),
    "Deployment": ("deployment", "deployments", "deploy"),
    "StatefulSet": ("statefulset", "statefulsets", "sts"),
    "DaemonSet": ("daemonset", "daemonsets", "ds"),
    "ReplicaSet": ("replicaset", "replicasets", "rs"),
    "Job": ("job", "jobs"),
    "CronJob": ("cronjob", "cronjobs", "cj"),
}
_KIND_OF = {alias: kind for kind, aliases in KINDS.items() for alias in (kind.lower(), *aliases)}
EXIT_ERROR = 1


def register(commands: Any) -> None:
    explain = options.command(
        commands,
        "explain",
        "say why an object is or would be injected, or not",
        "For each object: every opt-in signal and which one decides, each template asked for "
        "(source, revision, load status and problems), what would be added, what is skipped and "
        "why, a live object's status against the current revisions, and the verdict with the "
        "server's reason token. Offline with -f, else against the cluster (kubeconfig or "
        "in-cluster). Exit status: 0 injected or would be, 1 error, 2 skipped or denied, 3 a live "
        "object not at the current revisions (outdated, missing its injection, template gone); "
        "with several objects, the highest.",
    )
    explain.add_argument(
        "objects", nargs="*", metavar="KIND/NAME", help=f"objects in the cluster; kinds: {', '.join(KINDS)}"
    )
    explain.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        help="explain FILE's manifests offline (- for standard input; default: KIND/NAME, live)",
    )
    explain.add_argument(
        "-n",
        "--namespace",
        type=arguments.dns_label,
        metavar="NS",
        help="the objects' namespace (default: the kubeconfig context's; offline, for objects that "
        f"name none: {DEFAULTS.namespace})",
    )
    explain.add_argument("-o", "--output", choices=("json",), help="print JSON (default: the human report)")
    cluster.add_source_flags(explain)
    options.add_policy_flags(explain)
    explain.set_defaults(run=run_explain, check=_check, command_parser=explain)


def _check(args: argparse.Namespace) -> str | None:
    if args.filename is not None and args.objects:
        return "give either -f FILE or KIND/NAME objects, not both"
    if args.filename is not None and not args.templates:
        return "-f needs --templates DIR (offline, the templates come from folders)"
    if args.filename is None and not args.objects:
        return "give -f FILE (offline) or KIND/NAME objects to read from the cluster"
    return None


def run_explain(args: argparse.Namespace) -> int:
    from webhook.templates.workload_checks import workload_readers

    policy = dataclasses.replace(
        options.injection_policy(args), readers=workload_readers(args.kubernetes_version)
    )
    if args.filename is not None:
        reports, code = _offline(args, policy)
    else:
        reports, code = _live(args, policy)
    _print(reports, args.output)
    return max([code, *(report.exit_code for report in reports)])


def _offline(args: argparse.Namespace, policy: InjectionPolicy) -> tuple[list[Explanation], int]:
    from webhook.cli.inject import load_template_folders
    from webhook.core.levels import PodSecurityLevel
    from webhook.core.workloads import SUPPORTED_KINDS
    from webhook.manifests import ManifestError
    from webhook.offline import offline_objects

    templates, errors = load_template_folders(
        args.templates, args.kubernetes_version, options.security_policy(args)
    )
    source = "standard input" if args.filename == "-" else args.filename
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
        objects = offline_objects(
            text, args.namespace or DEFAULTS.namespace, PodSecurityLevel(args.pod_security_default_level)
        )
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return [], EXIT_ERROR
    except ManifestError as exc:
        print(f"error: {source}: {exc}", file=sys.stderr)
        return [], EXIT_ERROR
    reports, code = [], 0
    for obj, facts in objects:
        if facts.kind not in SUPPORTED_KINDS:
            what = f"{facts.kind or 'an object'} {facts.name!r}"
            print(f"note: {what} has no pod template; not explained", file=sys.stderr)
            continue
        report = _explain(obj, facts, templates, policy, rejections(errors, None, facts.namespace))
        code = max(code, 0 if report is not None else EXIT_ERROR)
        reports += [report] if report is not None else []
    if not reports and code == 0:
        print(f"error: {source}: no workload or Pod to explain", file=sys.stderr)
        code = EXIT_ERROR
    return reports, code


def _live(args: argparse.Namespace, policy: InjectionPolicy) -> tuple[list[Explanation], int]:
    import logging

    # The template store logs each rejected template; the report lists them with every problem.
    logging.getLogger("webhook.templates").setLevel(logging.ERROR)
    targets = []
    for target in args.objects:
        kind, _, name = target.partition("/")
        if _KIND_OF.get(kind.lower()) is None or not name:
            print(f"error: {target}: expected KIND/NAME with a kind of {', '.join(KINDS)}", file=sys.stderr)
            return [], EXIT_ERROR
        targets.append((_KIND_OF[kind.lower()], name))
    resources, default_namespace = cluster.connect(args)
    namespace = args.namespace or default_namespace
    templates, errors = cluster.current_template_documents(args, resources)
    shared = None if args.templates else {args.injector_namespace, *args.shared_template_namespace}
    facts_namespace = _namespace_facts(resources, namespace, args)
    reports, code = [], 0
    for kind, name in targets:
        obj = _read(resources, kind, namespace, name)
        if obj is None:
            code = EXIT_ERROR
            continue
        facts = _live_facts(obj, kind, namespace, name, facts_namespace)
        report = _explain(obj, facts, templates, policy, rejections(errors, shared, namespace), live=True)
        code = max(code, 0 if report is not None else EXIT_ERROR)
        reports += [report] if report is not None else []
    return reports, code


def _explain(
    obj: dict[str, Any],
    facts: AdmissionFacts,
    templates: TemplateSet,
    policy: InjectionPolicy,
    rejected: dict[str, Rejection],
    *,
    live: bool = False,
) -> Explanation | None:
    """The report; None (after one error line) when the engine fails: a bug, never the input's."""
    from webhook.explain import explain_object

    try:
        return explain_object(obj, facts, templates, policy, rejected, live=live)
    except Exception as exc:
        print(f"error: {facts.kind} {facts.name}: the decision failed internally: {exc!r}", file=sys.stderr)
        return None


def rejections(
    errors: list[TemplateError], cluster_wide: set[str] | None, namespace: str
) -> dict[str, Rejection]:
    """The rejected templates an object in ``namespace`` could use, by template name: the name is
    the ConfigMap's (a legacy ``<name>-initializer`` serves ``<name>``). ``cluster_wide``: the
    namespaces whose ConfigMaps serve every namespace (None: template folders, all cluster-wide)."""
    from webhook.explain import Rejection
    from webhook.templates.parsing import LEGACY_KEY, LEGACY_SUFFIX

    found: dict[str, Rejection] = {}
    for error in errors:
        _, marker, configmap = error.source.rpartition("ConfigMap ")
        owner, _, name = configmap.rpartition("/")
        if not marker or not name or name == "None":
            continue
        if cluster_wide is not None and owner not in cluster_wide and owner != namespace:
            continue
        if error.key == LEGACY_KEY and name.endswith(LEGACY_SUFFIX):
            name = name[: -len(LEGACY_SUFFIX)]
        where = f"{error.file}: {error.source}" if error.file else error.source
        found.setdefault(name, Rejection(name, f"{where}, key {error.key!r}", tuple(error.lines())))
    return found


def _namespace_facts(resources: Resources, namespace: str, args: argparse.Namespace) -> dict[str, Any]:
    """The Pod Security level and opt-in metadata of the objects' namespace, as the server's
    namespace watch reports them; unknown (no level, no namespace opt-in) when it cannot be read."""
    from webhook.core.levels import PodSecurityLevel
    from webhook.core.model import NamespaceMetadata
    from webhook.core.optin import annotations_of, labels_of
    from webhook.core.pod_security import enforced_level
    from webhook.kube.client import KubeError

    try:
        found = resources.list_namespaces(namespace)
    except KubeError as exc:
        print(f"warning: cannot read namespace {namespace!r}, taken as unknown: {exc}", file=sys.stderr)
        return {}
    if not found:
        print(f"warning: namespace {namespace!r} not found", file=sys.stderr)
        return {}
    labels = labels_of(found[0])
    level = enforced_level(labels, PodSecurityLevel(args.pod_security_default_level))
    return {
        "pod_security_level": level,
        "namespace_metadata": NamespaceMetadata(labels, annotations_of(found[0])),
    }


def _read(resources: Resources, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    from webhook.kube.client import KubeError

    try:
        obj = resources.read(kind, namespace, name)
    except KubeError as exc:
        missing = exc.status == 404
        what = "not found" if missing else f"cannot be read: {exc}"
        print(f"error: {kind} {namespace}/{name} {what}", file=sys.stderr)
        return None
    obj.setdefault("kind", kind)  # a typed read answers with it; be sure
    return obj


def _live_facts(
    obj: dict[str, Any], kind: str, namespace: str, name: str, known: dict[str, Any]
) -> AdmissionFacts:
    """The live object's CREATE: what the server decides when it is (re)created now."""
    from webhook.core import AdmissionFacts

    return AdmissionFacts("explain", "CREATE", kind, namespace, name, **known)


def _print(reports: list[Explanation], output: str) -> None:
    from webhook.explain import as_data, as_text

    if output == "json":
        import orjson

        data = {"items": [as_data(report) for report in reports]}
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    sys.stdout.write("\n".join(as_text(report) for report in reports))
