"""`make bench`: throughput of one replication and memory over many, against a plain simpy yardstick.

    python bench/bench.py                 # default and 10x scenarios, memory at 10/100/1000 replications
    python bench/bench.py --memory-reps 10 100   # a shorter memory check

Throughput is per replication, serial, in this process: leads/s (all leads born: marketing inquiries,
sign-ups, outbound meetings) and simpy events/s over the simulation alone (config -> records), then the
full replication cost with metrics. Peak memory is the maximum resident set size of a fresh process
that runs R replications of the default scenario through the normal path (streaming aggregates).
Figures and the machine they came from belong in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
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


def throughput(scale: int, reps: int, overrides: list[str]) -> dict:
    from sim.experiment import run_replication
    from sim.model import simulate_replication

    sc = load(scale, overrides)
    simulate_replication(sc, reps)  # warm caches and imports outside the timing
    sim_s, leads, events = 0.0, 0, 0
    for r in range(reps):
        t0 = time.perf_counter()
        rec = simulate_replication(sc, r)
        sim_s += time.perf_counter() - t0
        leads += int(rec.leads["leads"].sum())
        events += rec.events
    t0 = time.perf_counter()
    for r in range(reps):
        run_replication(sc, r)
    full_s = time.perf_counter() - t0
    return {
        "scale": scale,
        "reps": reps,
        "leads_per_rep": leads / reps,
        "events_per_rep": events / reps,
        "sim_s": sim_s / reps,
        "full_s": full_s / reps,
        "leads_s": leads / sim_s,
        "events_s": events / sim_s,
    }


def memory_child(reps: int) -> None:
    from sim.api import compose_config
    from sim.cli import resolve
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


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=10, help="replications timed per scenario")
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
        f"yardstick: plain simpy M/M/5 at rho 0.8: {ref:,.0f} customers/s "
        f"(goal: > {2 * ref:,.0f} leads/s, half a customer's cost per lead)"
    )
    print(
        f"{'scenario':<10}{'leads/rep':>11}{'events/rep':>12}{'sim s/rep':>11}{'leads/s':>11}"
        f"{'events/s':>11}{'vs goal':>9}{'full s/rep':>12}"
    )
    for scale in (1, 10):
        r = throughput(scale, a.reps if scale == 1 else max(2, a.reps // 5), a.overrides)
        name = "default" if scale == 1 else f"{scale}x"
        print(
            f"{name:<10}{r['leads_per_rep']:>11,.0f}{r['events_per_rep']:>12,.0f}{r['sim_s']:>11.3f}"
            f"{r['leads_s']:>11,.0f}{r['events_s']:>11,.0f}{r['leads_s'] / (2 * ref):>8.2f}x"
            f"{r['full_s']:>12.3f}"
        )
    if a.memory_reps:
        print(
            "peak memory of a fresh process running R replications of the default scenario (serial):"
        )
        for reps in a.memory_reps:
            mb, wall = memory(reps)
            print(f"  R = {reps:>5}: {mb:8.1f} MB peak RSS, {wall:7.1f} s")


if __name__ == "__main__":
    main()
