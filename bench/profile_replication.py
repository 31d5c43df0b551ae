"""Where one replication's CPU goes, phase by phase (process time, mean over R replications).

    python bench/profile_replication.py [--reps 30] [overrides ...]

Each phase is timed by wrapping the function that does it: set-up of the world, the marketing and
product sources (leads born in batches and walked in numpy), the simpy loop (desks, journeys,
prospecting), customer success, freezing the records, and the metrics of the replication.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()

    import simpy

    from sim import experiment
    from sim.model import world
    from sim.records import Recorder

    spent: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - t0

        return wrapper

    world.World.__init__ = timed("set-up (streams, people, desks)", world.World.__init__)
    world.sources.marketing = timed("marketing sources", world.sources.marketing)
    world.sources.product = timed("product sign-ups", world.sources.product)
    world.run_success = timed("customer success", world.run_success)
    simpy.Environment.run = timed("simpy loop", simpy.Environment.run)
    Recorder.finish = timed("records frozen", Recorder.finish)
    for name in ("scalar_metrics", "monthly_series", "funnel_counts"):
        setattr(experiment, name, timed("metrics", getattr(experiment, name)))

    sc = load(1, a.overrides)
    experiment.run_replication(sc, 10**6)  # warm
    spent.clear()
    t0 = time.process_time()
    for r in range(a.reps):
        experiment.run_replication(sc, r)
    total = (time.process_time() - t0) / a.reps
    print(f"CPU per replication: {total * 1e3:.1f} ms (mean of {a.reps})")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34}{s / a.reps * 1e3:7.1f} ms  {s / a.reps / total:6.1%}")
    other = total - sum(spent.values()) / a.reps
    print(f"  {'other':<34}{other * 1e3:7.1f} ms  {other / total:6.1%}")


if __name__ == "__main__":
    main()
