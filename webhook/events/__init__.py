"""Kubernetes Events about the injector's decisions, off the request path.

``occurrences`` (pure: what a decided review or a template change calls for), ``series``
(aggregation of identical Events into one with a count), ``sender`` (the thread that talks to the
API through ``webhook.kube.events``, with backoff), ``recorder`` (the bounded queue the request path
feeds, and what the runtime wires in).
"""
