"""`make bench`: CPU per replication against a plain simpy yardstick, and memory over many replications.

    python bench/bench.py                          # default and 10x scenarios, memory at 10/100/1000
    python bench/bench.py --memory-reps 10 100     # a shorter memory check
    python bench/bench.py --baseline 5e0ee01 --memory-reps   # CPU against an earlier revision too

CPU per replication is the process CPU time of `run_replication` (simulation and its metrics, as the
executors run it), in a fresh process, median of --rounds processes. "x yardstick" is leads counted
in the metrics window per CPU second over plain simpy M/M/5 customers per second (DESIGN.md's budget:
at least 2.5x). With --baseline, the same work is timed in a checkout of that revision, alternating
with this one so the machine's drift hits both; "ratio" is now / then. Peak memory is the maximum
resident set size of a fresh process that runs R replications of the default scenario through the
normal path (streaming aggregates). Figures and the machine they came from go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mmc_reference import mmc_customers_per_second  # noqa: E402


def bigger(data: dict, k: int) -> dict:
    """The scenario with k times the leads and k times the people (and installed base)."""
    for ch in data.get("channels", {}).values():
        ch["leads_month"] *= k
        ch["budget_month"] *= k
        if ch.get("ref_budget_month"):
            ch["ref_budget_month"] *= k
    data["product"]["signups_month"] *= k
    for role in data["team"].values():
        role["count"] *= k
        role["hires"] = [h * k for h in role.get("hires", [])]
    for seg in data["segments"].values():
        seg["initial_customers"] *= k
    return data


def load(scale: int, overrides: list[str]):
    from omegaconf import OmegaConf

    from sim.api import compose_config
    from sim.config import RUN_KEYS, load_scenario

    data = OmegaConf.to_container(compose_config(overrides), resolve=True)
    data.pop("hydra", None)
    for k in RUN_KEYS:
        data.pop(k, None)
    return load_scenario(bigger(data, scale) if scale > 1 else data)


CHILD = """
import json, sys, time
root, reps, scale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, root)
from bench.bench import load
from sim.experiment import run_replication
sc = load(scale, sys.argv[4:])
run_replication(sc, 10**6)  # imports and caches warm, outside the timing
t0, leads, events = time.process_time(), 0.0, 0
for r in range(reps):
    res = run_replication(sc, r)
    leads += res.metrics["leads"]
    events += res.events
print(json.dumps({"cpu_s": (time.process_time() - t0) / reps, "window_leads": leads / reps,
                  "events": events / reps}))
"""


def cpu_per_replication(root: Path, scale: int, reps: int, overrides: list[str]) -> dict:
    """CPU seconds of one replication (simulation and its metrics, as the executors run it), in a
    fresh process of the checkout at `root`, with the leads it counts in the metrics window."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(reps), str(scale), *overrides],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
    ).stdout
    return json.loads(out.splitlines()[-1])


def memory_child(reps: int) -> None:
    from sim.compose import compose_config, resolve
    from sim.experiment import run_scenario

    sc, _ = resolve(compose_config([f"replications={reps}"]))
    t0 = time.perf_counter()
    run_scenario(sc, "serial", 1)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{reps} {peak_mb:.1f} {wall:.1f}")


def memory(reps: int) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(reps)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[1]), float(out[2])


def baseline_checkout(rev: str) -> Path:
    """A detached checkout of `rev` beside this one (made once, reused), for timing the same work."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"salesim-bench-{sha}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), sha],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=20, help="replications timed per scenario")
    ap.add_argument("--rounds", type=int, default=3, help="timed processes per checkout (median)")
    ap.add_argument(
        "--baseline", help="a git revision to time alongside (e.g. a release), for the CPU ratio"
    )
    ap.add_argument("--memory-reps", type=int, nargs="*", default=[10, 100, 1000])
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. motion=mlg")
    a = ap.parse_args()
    if a.memory_child:
        memory_child(a.memory_child)
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}; "
        f"Python {platform.python_version()}"
    )
    ref = mmc_customers_per_second()
    print(
        f"yardstick: plain simpy M/M/5 at rho 0.8: {ref:,.0f} customers/s; goal: a lead counted in "
        f"the metrics window costs at most 0.4 of one customer (>= 2.5x the yardstick)"
    )
    base = baseline_checkout(a.baseline) if a.baseline else None
    print(
        f"{'scenario':<10}{'window leads':>13}{'events/rep':>12}{'CPU ms/rep':>12}"
        f"{'x yardstick':>13}" + (f"{'baseline ms':>13}{'ratio':>8}" if base else "")
    )
    for scale in (1, 10):
        reps = a.reps if scale == 1 else max(2, a.reps // 5)
        now, then = [], []
        for _ in range(a.rounds):  # alternate, so a drift of the machine's speed hits both alike
            now.append(cpu_per_replication(ROOT, scale, reps, a.overrides))
            if base:
                then.append(cpu_per_replication(base, scale, reps, a.overrides))
        cpu = statistics.median([r["cpu_s"] for r in now])
        leads = now[0]["window_leads"]
        name = "default" if scale == 1 else f"{scale}x"
        line = (
            f"{name:<10}{leads:>13,.0f}{now[0]['events']:>12,.0f}{cpu * 1e3:>12.1f}"
            f"{leads / cpu / ref:>12.2f}x"
        )
        if base:
            b_cpu = statistics.median([r["cpu_s"] for r in then])
            line += f"{b_cpu * 1e3:>13.1f}{cpu / b_cpu:>8.2f}"
        print(line)
    if a.memory_reps:
        print(
            "peak memory of a fresh process running R replications of the default scenario (serial):"
        )
        for reps in a.memory_reps:
            mb, wall = memory(reps)
            print(f"  R = {reps:>5}: {mb:8.1f} MB peak RSS, {wall:7.1f} s")


if __name__ == "__main__":
    main()
