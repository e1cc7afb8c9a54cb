"""How calm the machine is in a given minute: a loop pinned to a core timing a fixed unit of work.

On a shared virtual machine some stretches run many times slower than others (the host serves other
guests): a 10 µs unit of pure Python takes 100 to 200 µs in them, for a few to a few tens of
milliseconds at a time, and whole minutes run up to twice as slow as others. Every answer in flight
during a slow stretch is late, so a p99 measures the minute as much as the server. A probe before a
run does not predict the run (the stretches come and go within seconds): bench/run.py reports each
run's CPU time per review instead, which the same code and work make a measure of the machine's
speed. This script probes the cores by themselves:

    python bench/machine.py --cores 0,1 --seconds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

SLOW_FACTOR = 3.0  # a unit this many times the median ran in a slow stretch
UNIT_ITERATIONS = 400  # about 10 µs of pure Python on this machine


def slow_share(durations: Sequence[float]) -> float:
    """The share (0 to 1) of the total time spent in units of at least SLOW_FACTOR times the median."""
    if not durations:
        return 0.0
    limit = SLOW_FACTOR * statistics.median(durations)
    total = sum(durations)
    return sum(d for d in durations if d >= limit) / total if total > 0 else 0.0


def time_units(seconds: float) -> list[float]:
    """Durations of the fixed unit of work, run back to back for ``seconds`` (after a short warm-up)."""
    clock = time.perf_counter

    def unit() -> int:
        total = 0
        for i in range(UNIT_ITERATIONS):
            total += i
        return total

    for _ in range(2000):
        unit()
    durations: list[float] = []
    end = clock() + seconds
    while True:
        started = clock()
        unit()
        finished = clock()
        durations.append(finished - started)
        if finished > end:
            return durations


def slow_shares(cores: Sequence[int], seconds: float) -> list[float]:
    """``slow_share`` of each core, probed at the same time by one pinned process per core."""
    probes = [
        subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, __file__, "--child", f"{seconds:g}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for core in cores
    ]
    shares = []
    for probe in probes:
        out, _ = probe.communicate(timeout=seconds + 60)
        shares.append(float(out.strip() or "nan"))
    return shares


def idle_policy(sys_root: Path = Path("/sys")) -> str:
    """What an idle core does, as the kernel says: its cpuidle driver and, under KVM's haltpoll
    driver, how long it polls before it halts. On a guest that halts at once, the host must resume a
    halted vCPU for every packet, which adds tens of microseconds to each answer on one connection
    (docs/design.md, "One connection"), so the reports say it beside the CPU model."""
    cpuidle = sys_root / "devices/system/cpu/cpuidle"
    driver = _read(cpuidle / "current_driver")
    if driver is None or driver == "none":
        return "no cpuidle driver"
    governor = _read(cpuidle / "current_governor") or _read(cpuidle / "current_governor_ro") or "?"
    policy = f"cpuidle {driver} (governor {governor})"
    poll_ns = _read(sys_root / "module/haltpoll/parameters/guest_halt_poll_ns")
    if driver == "haltpoll" and poll_ns is not None:
        policy += f", guest_halt_poll_ns {poll_ns}" + (" (halts at once)" if poll_ns == "0" else "")
    return policy


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cores", default="0,1", help="comma-separated cores to probe together")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)  # one probe; prints its share
    args = parser.parse_args(argv)
    if args.child is not None:
        print(slow_share(time_units(args.child)))
        return 0
    cores = [int(c) for c in args.cores.split(",")]
    print(f"idle cores: {idle_policy()}")
    for core, share in zip(cores, slow_shares(cores, args.seconds), strict=True):
        print(f"core {core}: {share * 100:.1f} % of the time in slow stretches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
