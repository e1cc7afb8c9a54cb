"""The server's /metrics, read as the benchmarks need it: samples by name and labels."""

from __future__ import annotations

import urllib.request

REVIEWS = "sidecar_injector_reviews_total"
RELOADS = "sidecar_injector_certificate_reloads_total"
READY = "sidecar_injector_ready"
EXPIRY = "sidecar_injector_certificate_expiry_timestamp_seconds"


def scrape(port: int) -> dict[str, float]:
    """/metrics as {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        value
        for key, value in samples.items()
        if (key == name or key.startswith(name + "{")) and all(w in key for w in wanted)
    )
