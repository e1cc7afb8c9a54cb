"""bench/run.py's report: the Markdown tables, the targets and the one-line comparison."""

from __future__ import annotations

from bench.common import JsonObj
from bench.report import fmt
from bench.reviews import REFERENCE_KEY, Scenario
from bench.throughput import Options, Report


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

    # Issue 17: 1.5x a compiled Go injector per core on its own request (bench/reference/README.md).
    ref = REFERENCE_KEY
    check(f"reference, 8 conns {pin}: admissions/s", metric(ref, 8, "rps"), 2900, True, "/s", 0)
    check(f"reference, 8 conns {pin}: p99", metric(ref, 8, "p99_ms"), 6, False, "ms", 2)
    check(f"reference, 1 conn {pin}: p99", metric(ref, 1, "p99_ms"), 0.8, False, "ms", 2)
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
        f"- machine: {m['cores']} cores (os.cpu_count()), {m['cpu_model']}, Linux {m['kernel']};"
        f" idle cores: {m.get('idle', '?')}",
        f"- Python {m['python']}, core {m.get('core', '?')}; {m['versions']}; {m['wrk_version']};"
        f" commit {m['commit']}",
        f"- server: `{m['server_command']}` (JSON logs at INFO to a file, 1 worker)",
        "- pinned: server under `taskset -c 0`, `taskset -c 1 wrk -t1`; unpinned: no taskset,"
        " `wrk -t min(conns, 2)`; startup and template measurements are pinned",
        f"- points: {opts.duration:g} s each, median of {opts.repeat}, {opts.warmup:g} s warm-up per server;"
        " latency percentiles are wrk's (per request, keep-alive, no coordinated-omission correction)",
        "- good/s and admissions/s count good admissions only (HTTP 200, the review's uid, allowed, the"
        " patch expected): a 503 with one of the server's overload refusals is *shed*, its designed load"
        " shedding, counted in its own column, never as an admission served nor as a failure; latency"
        " percentiles cover every answer, shed ones included",
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
        "| scenario | pinning | workers | conns | wrk -t | good/s | p50 ms | p90 ms | p99 ms |"
        " server CPU s/1k req | RSS after MiB | peak RSS MiB | good / total | shed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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
                f" {x['good']:,} / {x['requests']:,} | {x['shed']:,} |"
            )
        return lines

    served = f"`--templates examples`; {REFERENCE_KEY}: `--templates bench/reference/templates`"
    out += ["## Throughput and latency", "", f"({served})", "", *header, *rows("main"), ""]
    out += run_lines(report, REFERENCE_KEY)
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
    out.append(shed_line(report))
    return "\n".join(out) + "\n"


def shed_line(report: Report) -> str:
    """Where the server shed load (503 overload refusals), which is by design and not a failure."""
    shedding = report.shedding()
    if not shedding:
        return "Shed answers (503 overload refusals): none."
    where = "; ".join(f"{name}: {shed:,} of {total:,}" for name, shed, total in shedding)
    return (
        f"Shed answers (503 overload refusals, the server's designed load shedding, not failures):"
        f" {sum(shed for _, shed, _ in shedding):,}, at {where}."
    )


def run_lines(report: Report, scenario: str) -> list[str]:
    """Every pinned run of ``scenario`` in the order run, with the server's CPU time per review: the
    same code and work cost up to twice as much in some minutes as in others on a shared machine, and
    throughput and p99 follow it (docs/design.md, "The p99 targets and the machine")."""
    runs = [
        (point.conns, index, run)
        for point in report.points
        if point.section == "main" and point.scenario == scenario and point.pinning == "pinned"
        for index, run in enumerate(point.runs)
    ]
    if not runs:
        return []
    out = [f"Each pinned run of {scenario}, in order, with the server's CPU time per review:", ""]
    for conns, index, run in sorted(runs, key=lambda item: (item[1], item[0])):
        out.append(
            f"- c{conns} #{index + 1}: {run.rps:,.0f}/s, p50 {run.values['p50_us'] / 1000:.2f} ms,"
            f" p99 {run.values['p99_us'] / 1000:.2f} ms; CPU {run.cpu_per_1k:.3f} ms per review"
            + (f"; {run.shed:,} shed" if run.shed else "")
        )
    return [*out, ""]


def comparison_line(report: Report, opts: Options) -> str:
    rows = targets(report, opts)
    parts = [
        f"{label} → {value} {'?' if ok is None else ('ok' if ok else 'MISS')}" for label, value, ok in rows
    ]
    met = sum(1 for _, _, ok in rows if ok)
    return f"targets met {met}/{len(rows)}: " + " | ".join(parts)
