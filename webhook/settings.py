"""Settings: built once by the CLI and passed down; nothing else reads flags or the environment.

A frozen dataclass filled by argparse rather than pydantic-settings: every knob is a flag the chart
passes explicitly, so environment parsing would add a second, hidden way to configure the server.

Every default is written here and only here: the CLI's option defaults, the server's ``Limits`` and
the edges' keyword defaults all read ``DEFAULTS`` (``tests/test_defaults.py`` fails on a copy). So
this module sits below every edge and imports only the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from webhook.core import InjectionPolicy
from webhook.core.levels import PodSecurityLevel
from webhook.core.security import TemplateSecurityPolicy

BUNDLED_TEMPLATES = Path(__file__).parent / "bundled"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    template_dirs: tuple[Path, ...] = ()
    kube: bool = False
    namespace: str = "default"
    watch_namespaces: tuple[str, ...] = ()
    watch_all_namespaces: bool = False
    shared_template_namespaces: tuple[str, ...] = ()
    kubeconfig: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    host: str = "0.0.0.0"
    port: int = 8443
    metrics_port: int = 9090
    policy: InjectionPolicy = field(default_factory=InjectionPolicy)
    template_security: TemplateSecurityPolicy = field(default_factory=TemplateSecurityPolicy)
    allow_on_internal_error: bool = False
    max_body_bytes: int = 3 * MIB
    """kube-apiserver's own request size limit."""
    drain_seconds: float = 5.0
    request_timeout: float = 10.0
    max_inflight: int = 256
    max_buffered_bytes: int = 12 * MIB
    """Four reviews of the largest size."""
    idle_timeout: float = 120.0
    max_connections: int = 1024
    """Connections open at once on the admission port, per process, TLS handshakes included."""
    probe_port: int = 0
    """Plain-HTTP port for /healthz and /readyz only (0: none); the kubelet cannot present the
    client certificate that --client-ca demands on the admission port."""
    kubernetes_version: str = "1.33"
    """The Kubernetes minor version whose schemas templates are validated against."""
    log_format: str = "text"
    log_level: str = "INFO"
    template_poll_seconds: float = 1.0
    cert_poll_seconds: float = 2.0
    workers: int = 1
    events: bool = True
    """Record Kubernetes Events (events.k8s.io/v1) about decisions and template ConfigMaps; they need
    the API (--kube)."""
    events_queue_size: int = 1024
    """Occurrences waiting for the Events sender; beyond, they are dropped and counted."""
    events_instance: str = ""
    """The Events' reportingInstance: this replica's Pod name ($POD_NAME); empty: the host name."""
    pod_security_default_level: PodSecurityLevel = PodSecurityLevel.PRIVILEGED
    """What Pod Security admission enforces on namespaces without the enforce label (the cluster's
    AdmissionConfiguration default); without --kube, namespace labels are unknown and every namespace
    is held to it."""
    watch_pods: bool = False
    """Watch Pods (metadata only) and export ``sidecar_injector_pods{template,state}``."""
    rollout_updater: bool = False
    """One elected replica rolls workloads of ``updatePolicy: rolling`` templates to new revisions."""
    rollout_max_in_flight: int = 1
    """Workloads rolling out at once, for ``rollout`` and the updater."""
    rollout_timeout: float = 600.0
    """Seconds a workload may take to finish its rollout before the rollout stops as failed
    (a Deployment's own progressDeadlineSeconds default)."""
    rollout_poll_seconds: float = 5.0
    """How often a rolling workload's status is read."""
    rollout_interval: float = 300.0
    """How often the updater looks for workloads to roll out (and at once when templates change)."""
    leader_election_lease_seconds: float = 15.0
    """How long a Lease held by a replica that stopped renewing it keeps the others out (client-go's
    default; renewed every 7.5th of it, given up after two thirds: 15, 2 and 10 s)."""
    leader_election_lease_name: str = "sidecar-injector-rollout"

    @property
    def watches_namespaces(self) -> bool:
        """The Pod Security check reads namespace labels, namespace opt-in their labels and
        annotations: either needs the namespace watch, which needs the API."""
        return self.kube and (self.policy.pod_security_check != "off" or self.policy.namespace_opt_in)

    @property
    def records_events(self) -> bool:
        return self.kube and self.events

    @property
    def uses_bundled_templates(self) -> bool:
        return not self.template_dirs and not self.kube

    @property
    def effective_template_dirs(self) -> tuple[Path, ...]:
        return (BUNDLED_TEMPLATES,) if self.uses_bundled_templates else self.template_dirs


DEFAULTS = Settings()
"""Every default, for the code that needs one without a Settings at hand (argparse, tests, edges)."""
