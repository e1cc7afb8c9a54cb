"""Day 2 at the edge: which workloads run outdated templates (drift), bringing them to the current
revision a bounded number at a time (rollout), the server's pod watch and its metrics, and the leader
election that lets one replica roll out continuously. It reads the cluster through ``webhook.kube``
and decides with ``webhook.core.lifecycle``; it never imports the Kubernetes client itself."""
