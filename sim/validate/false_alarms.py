"""Real false-alarm rate of the queue checks' mean-wait rows (sim.validate.queues).

A correct engine's FCFS M/M/c waits are, in distribution, the Kiefer-Wolfowitz recursion: with V the
sorted vector of the c servers' remaining workloads seen by an arrival, the arrival waits V[0], then
V <- sort(V[0] + S, V[1:]) - A, clipped at 0 (S the service time, A the next inter-arrival time;
Lindley's recursion when c = 1). This module runs that recursion for many independent runs at once
(numpy, vectorised across runs), with the check's parameters: service rate 1 a day, arrival rate
rho c, the same number of measured leads after leads // 10 warm-up leads, starting empty, and the
same batching (WAIT_BATCHES batch means by count). Each run's batch means go through the very rule
of the check (sim.validate.queues.wait_interval) and a run "fails" when its interval misses Erlang C's
Wq. The rate is reported with its one-sided 95% binomial (Clopper-Pearson) upper bound.

Cases: the Erlang C pairs (MMC_PAIRS, mmc_leads) and the tandem network's two stations (tandem_leads;
by Burke's theorem each station is an M/M/c queue with the network's lambda; time is rescaled so the
service rate is 1, which leaves the rule's verdict unchanged).

    python -m sim.validate.false_alarms                 # fast size, 10,000 runs per case
    python -m sim.validate.false_alarms --size full --runs 2000 --cases 5,0.9
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from sim.validate.queues import MMC_PAIRS, SIZES, TANDEM, WAIT_BATCHES, wait_interval
from sim.validate.theory import mmc_mean_wait


def batch_means(
    c: int, rho: float, leads: int, runs: int, seed: int, k: int = WAIT_BATCHES, chunk: int = 500
) -> np.ndarray:
    """(runs, k) batch means of exact FCFS M/M/c waits (mu = 1), leads // 10 warm-up leads dropped;
    like batches_by_count, the first leads mod k measured waits are dropped too."""
    rng = np.random.default_rng(seed)
    lam = rho * c
    warm, m = leads // 10, leads // k
    skip = warm + leads - k * m
    n = warm + leads
    v = np.zeros((runs, c))
    sums = np.zeros((runs, k))
    i = 0
    while i < n:
        s = min(chunk, n - i)
        a = rng.exponential(1.0 / lam, (s, runs))
        srv = rng.exponential(1.0, (s, runs))
        for j in range(s):
            w = v[:, 0]
            if i + j >= skip:
                sums[:, (i + j - skip) // m] += w
            if c == 1:
                v[:, 0] = np.maximum(w + srv[j] - a[j], 0.0)
            else:
                v[:, 0] = w + srv[j]
                v.sort(axis=1)
                v -= a[j][:, None]
                np.maximum(v, 0.0, out=v)
        i += s
    return sums / m


def upper95(fails: int, runs: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a binomial rate."""
    return 1.0 if fails >= runs else float(stats.beta.ppf(0.95, fails + 1, runs - fails))


def cases(size: str) -> list[tuple[str, int, float, int]]:
    s = SIZES[size]
    out = [(f"M/M/{c} rho {rho}", c, rho, s["mmc_leads"]) for c, rho in MMC_PAIRS]
    lam = TANDEM["arrival_rate"]
    for name, c, mu in (
        ("SDR", TANDEM["sdr_servers"], TANDEM["sdr_service_rate"]),
        ("AE", TANDEM["ae_servers"], TANDEM["ae_service_rate"]),
    ):
        out.append(
            (
                f"tandem {name} M/M/{c} rho {lam / (c * mu):.3f}",
                c,
                lam / (c * mu),
                s["tandem_leads"],
            )
        )
    return out


def measure(c: int, rho: float, leads: int, runs: int, seed: int) -> tuple[int, int]:
    """(runs whose interval lies above Wq, runs whose interval lies below Wq)."""
    wq = mmc_mean_wait(c, rho * c, 1.0)
    b = batch_means(c, rho, leads, runs, seed)
    low = high = 0
    for row in b:
        iv = wait_interval(row)
        low += iv.low > wq  # interval entirely above Wq
        high += iv.high < wq
    return low, high


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="fast", choices=sorted(SIZES))
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", default="", help="only these, e.g. '5,0.9;10,0.9' (c,rho)")
    a = ap.parse_args(argv)
    want = [tuple(x.split(",")) for x in a.cases.split(";") if x]
    for i, (name, c, rho, leads) in enumerate(cases(a.size)):
        if want and not any(int(w[0]) == c and abs(float(w[1]) - rho) < 1e-3 for w in want):
            continue
        t0 = time.time()
        above, below = measure(c, rho, leads, a.runs, a.seed * 1000 + i)
        f = above + below
        print(
            f"{a.size} {name}: {leads:,} leads, {a.runs:,} runs: {f} false alarms "
            f"({above} interval above Wq, {below} below), rate {f / a.runs:.1e}, "
            f"95% upper bound {upper95(f, a.runs):.1e} [{time.time() - t0:.0f} s]",
            flush=True,
        )


if __name__ == "__main__":
    main()
