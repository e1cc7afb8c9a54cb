"""Scenario ``template-bomb`` of bench/reliability.py: a hostile template beside the examples."""

from __future__ import annotations

from bench.checks import Options, Report
from bench.common import EXAMPLES, JsonObj, progress
from bench.environment import Env
from bench.procfs import rss_mib
from bench.report import secs
from bench.reviews import Scenario
from bench.server import check_answer, running


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    """Issue 16 A: a 700-byte "billion laughs" template (aliases 8 levels deep, 9 wide, ending in a
    schema error) beside the examples: time to ready, peak RSS, log size; reviews still answered."""
    scenario = scenarios["1-pod-rs"]
    folder = env.work / "bomb-templates"
    folder.mkdir(exist_ok=True)
    lines = [
        "initContainers:",
        "- {name: l0, image: i, args: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]}",
    ]
    lines += [
        f"- {{name: l{n}, image: i, args: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]}}" for n in range(1, 8)
    ]
    lines += ["containers: [{name: c, image: i, args: *l7}]"]
    (folder / "bomb.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: lol, labels: {sidecar-injector.io/template: 'true'}}\n"
        "data:\n  template: |\n" + "".join(f"    {line}\n" for line in lines)
    )
    with running(env, [EXAMPLES, folder], pinned=False) as (server, ready):
        check_answer(server, scenario)
        peak, log_bytes = rss_mib(server.pid, "VmHWM"), server.log.stat().st_size
    report.results["template-bomb"] = {"ready_s": ready, "peak_rss_mib": peak, "log_bytes": log_bytes}
    progress(f"template-bomb: ready {ready:.2f} s, peak RSS {peak:.0f} MiB, log {log_bytes} B")
    report.check("template-bomb", "ready within 5 s beside the template", secs(ready), ready < 5, hard=False)
    report.check("template-bomb", "peak RSS below 150 MiB", f"{peak:.0f} MiB", peak < 150, hard=False)
    report.check("template-bomb", "server log below 64 KiB", f"{log_bytes} B", log_bytes < 65536, hard=True)


def section(result: JsonObj, opts: Options) -> list[str]:
    return []  # its figures are in the expectations table
