"""The benchmarks: performance measured over real HTTPS, never asserted in tests (bench/README.md).

Entry points (commands unchanged):

    python bench/run.py            throughput, latency, startup, memory (throughput.py, throughput_report.py)
    python bench/reliability.py    shutdown, rotation, bodies, slow clients, overload, hostile clients
    python bench/profile.py        where the time goes (py-spy, in-process handler timing)
    python -m bench.propagation    how fast a ConfigMap change reaches the template store
    python bench/hostile.py        one hostile pattern against a running server

Shared plumbing, written once: ``common`` (paths, BenchError, progress), ``environment`` (the console
script, wrk, certificates, machine description), ``server`` (a ``serve`` process as the image runs
it), ``reviews`` (the AdmissionReview bodies), ``wrk`` (timed and background load through
admission.lua), ``procfs`` (CPU and RSS), ``scraping`` (/metrics), ``probes`` (readiness and
handshake watchers, raw answers), ``report`` (percentiles and number formats). Each reliability
scenario is one module (``shutdown``, ``rotation``, ``oversized``, ``slow_clients``, ``overload``,
``hostile_scenario``, ``template_bomb``) with ``measure()`` and its report ``section()``; ``checks``
holds what they share.

Helpers the tests also need live in tests/support/ and are imported from there (the kubelet volume
writer, free ports, review envelopes, the fake API server), never copied: the tests are where those
helpers are proven, and the dependency runs one way, from the benchmarks to the tests' support code.
"""
