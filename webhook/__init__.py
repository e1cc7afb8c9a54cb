"""A mutating admission webhook that injects sidecars from ConfigMap templates."""

__version__ = "0.1.0"
