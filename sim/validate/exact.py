"""Exact FCFS multi-server queues for many independent runs at once (numpy, vectorised across runs).

sim.validate.false_alarms feeds these replays, correct by construction, to the very decision rules of
the queue checks (sim.validate.queues) to measure how often a correct engine would fail them.

A station of c FCFS servers keeps, for every run, the sorted times at which its servers are next free
(the Kiefer-Wolfowitz vector, in absolute time). An arrival at time a takes the server free first: it
starts at s = max(free[0], a), and that server is next free at s + S (S its service time), which is
inserted into the sorted rest. The free[0] values taken, in step order, are the station's departures
in time order (each is released when its server is taken next), i.e. the next station's arrivals in a
tandem. Service starts are non-decreasing in arrival order (FCFS), so a time window of service starts
is a contiguous range of customers.

The replays mirror the validation presets (configs/experiment/mmc.yaml, tandem.yaml): Poisson arrivals
from time 0 on an empty system, a warm-up of warm / lambda days, a window [lo, hi) of leads / lambda
days, and the run's end at hi (customers arriving later are generated only to release departures; no
statistic uses them). Waits count at service start, as in the engine (sim/model.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


class Station:
    """c FCFS servers in each of `runs` independent runs; free[:, r] sorted, -inf = never used."""

    def __init__(self, c: int, runs: int) -> None:
        self.c = c
        self.free = np.full((c, runs), -np.inf)
        self._spare = np.empty_like(self.free)

    def serve(self, arrival: np.ndarray, service: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start times of one arrival per run, and the departure each one's server had before (the
        station's departures in time order; -inf for the first c customers)."""
        f = self.free
        released = f[0].copy()
        start = np.maximum(released, arrival)
        nxt = start + service
        if self.c == 1:
            f[0] = nxt
        else:  # insert nxt into the sorted f[1:]: out[i] = max(f[i], min(f[i + 1], nxt))
            g = self._spare
            np.minimum(f[1:], nxt, out=g[:-1])
            g[-1] = nxt
            np.maximum(g[1:], f[1:], out=g[1:])
            self.free, self._spare = g, f
        return start, released


def _n_arrivals(lam: float, end: float, c: int) -> int:
    """Arrivals to generate: enough that every run's arrivals reach past `end` (checked after)."""
    m = lam * end
    return int(math.ceil(m + 8.0 * math.sqrt(m) + 50 + 4 * c))


@dataclass
class MMcRuns:
    """Per-run data of exact M/M/c replays: what check_erlang_c and check_littles_law look at."""

    gaps: np.ndarray  # (runs, customers) float32 gaps between arrivals (arrival = float64 cumsum)
    waits: np.ndarray  # (runs, customers) float32 waits, in arrival (= service start) order
    lo: float
    hi: float
    probe: float  # days between probes of the queue length

    def run(self, i: int, k: int) -> dict[str, np.ndarray]:
        """Run i: `window` waits (service start in [lo, hi), in order), and by time batch (k equal
        batches of [lo, hi)) `wait_sums` (by service start) and `probe_sums` / `probe_counts`."""
        a = np.cumsum(self.gaps[i], dtype=float)  # the very sums the replay added up
        w = self.waits[i].astype(float)
        s = a + w
        edges = np.linspace(self.lo, self.hi, k + 1)
        at = np.searchsorted(s, edges, side="left")  # s never decreases (FCFS)
        cw = np.concatenate(([0.0], np.cumsum(w)))
        # probe j is at t_j = (j + 1) probe, accumulated in floating point as simpy does; probes
        # lev[b] .. lev[b + 1] - 1 lie in [edges[b], edges[b + 1]). A lead is in the queue at probe
        # j when a < t_j < s, i.e. for j in [floor(a / probe), max(ceil(s / probe) - 1, that)).
        lev = _probe_levels(edges, self.probe)
        ka = np.floor(a / self.probe)
        ks = np.maximum(np.ceil(s / self.probe) - 1.0, ka)
        return {
            "window": w[at[0] : at[-1]],
            "wait_sums": cw[at[1:]] - cw[at[:-1]],
            "probe_sums": _below(ks, lev) - _below(ka, lev),
            "probe_counts": np.diff(lev),
            "edges": edges,
        }


@lru_cache(maxsize=8)
def _probe_cache(lo: float, hi: float, k: int, probe: float) -> np.ndarray:
    edges = np.linspace(lo, hi, k + 1)
    times = np.cumsum(np.full(int(hi / probe) + 10, probe))
    return np.searchsorted(times, edges, side="left").astype(float)


def _probe_levels(edges: np.ndarray, probe: float) -> np.ndarray:
    """Index of the first probe at or after each edge (probe j at the float sum of j + 1 probes)."""
    return _probe_cache(float(edges[0]), float(edges[-1]), len(edges) - 1, probe)


def _below(x: np.ndarray, lev: np.ndarray) -> np.ndarray:
    """For non-decreasing x: sum over i of #{integers j in [lev[b], lev[b + 1]) with j < x_i}."""
    pos = np.searchsorted(x, lev, side="left")  # x[pos[b]:pos[b + 1]] lie in [lev[b], lev[b + 1])
    cx = np.concatenate(([0.0], np.cumsum(x)))
    inside = (cx[pos[1:]] - cx[pos[:-1]]) - lev[:-1] * np.diff(pos)
    return inside + np.diff(lev) * (len(x) - pos[1:])


def mmc_runs(
    c: int,
    lam: float,
    mu: float,
    warm: int,
    leads: int,
    probe: float,
    runs: int,
    rng: np.random.Generator,
    chunk: int = 256,
) -> MMcRuns:
    """`runs` replays of the M/M/c preset: c servers, arrival rate lam, service rate mu, warm-up of
    warm / lam days, window of leads / lam days, the queue probed every `probe` days."""
    lo, hi = warm / lam, (warm + leads) / lam
    n = _n_arrivals(lam, hi, c)
    st = Station(c, runs)
    a = np.zeros(runs)
    gaps = np.empty((runs, n), dtype=np.float32)  # run-major, for the per-run analysis
    waits = np.empty((runs, n), dtype=np.float32)
    buf = np.empty((chunk, runs), dtype=np.float32)
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        g = rng.standard_exponential((m, runs), dtype=np.float32) / np.float32(lam)
        serv = rng.exponential(1.0 / mu, (m, runs))
        for j in range(m):
            a += g[j]
            s, _ = st.serve(a, serv[j])
            buf[j] = s - a
        gaps[:, i0 : i0 + m] = g.T
        waits[:, i0 : i0 + m] = buf[:m].T
    if a.min() < hi:
        raise RuntimeError("too few arrivals generated")
    return MMcRuns(gaps, waits, lo, hi, probe)


@dataclass
class TandemRuns:
    """Per-run data of exact tandem (SDR M/M/c1 -> AE M/M/c2) replays, as check_tandem sees them;
    arrays are (runs, customers), in arrival order at each station."""

    sdr: np.ndarray  # float32 SDR waits (arrival order = service start order)
    sdr_first: np.ndarray  # (runs,) first customer whose SDR service starts in [lo, hi)
    sdr_stop: np.ndarray  # (runs,) one past the last
    ae: np.ndarray  # float32 AE waits
    ae_first: np.ndarray
    ae_stop: np.ndarray
    close: np.ndarray  # float64 close days (end of the AE holding time)
    hold: np.ndarray  # float32 AE holding times (the deal stage's days)
    edges: np.ndarray  # the window [lo, hi) cut into k time batches


def _tandem(p: dict) -> tuple[float, int, float, int, float]:
    """Arrival rate, SDR servers and rate, AE servers and rate of the tandem preset's knobs."""
    return (
        p["arrival_rate"],
        p["sdr_servers"],
        p["sdr_service_rate"],
        p["ae_servers"],
        p["ae_service_rate"],
    )


def tandem_runs(
    p: dict,
    warm: int,
    leads: int,
    k: int,
    runs: int,
    rng: np.random.Generator,
    chunk: int = 256,
) -> TandemRuns:
    """`runs` replays of the tandem preset with parameters p (sim.validate.queues.TANDEM)."""
    lam, c1, mu1, c2, mu2 = _tandem(p)
    lo, hi = warm / lam, (warm + leads) / lam
    edges = np.linspace(lo, hi, k + 1)
    n = _n_arrivals(lam, hi, c1)
    s1, s2 = Station(c1, runs), Station(c2, runs)
    a = np.zeros(runs)
    sdr = np.empty((runs, n), dtype=np.float32)
    ae = np.empty((runs, n), dtype=np.float32)
    close = np.full((runs, n), np.inf)
    hold = np.zeros((runs, n), dtype=np.float32)
    b1, b2 = np.empty((chunk, runs), dtype=np.float32), np.empty((chunk, runs), dtype=np.float32)
    b3 = np.empty((chunk, runs))
    # service starts never decrease (FCFS), so #(starts < lo) is the window's first index
    first1, stop1, first2, stop2 = (np.zeros(runs, dtype=np.int64) for _ in range(4))
    i2 = 0  # AE arrivals so far: the SDR's first c1 releases are its servers' initial -inf
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        gaps = rng.exponential(1.0 / lam, (m, runs))
        serv1 = rng.exponential(1.0 / mu1, (m, runs))
        serv2 = rng.exponential(1.0 / mu2, (m, runs))
        j2 = 0
        for j in range(m):
            a += gaps[j]
            s, out = s1.serve(a, serv1[j])
            b1[j] = s - a
            first1 += s < lo
            stop1 += s < hi
            if i0 + j < c1:
                continue
            t, _ = s2.serve(out, serv2[j])
            b2[j2] = t - out
            b3[j2] = t + serv2[j]
            first2 += t < lo
            stop2 += t < hi
            j2 += 1
        sdr[:, i0 : i0 + m] = b1[:m].T
        ae[:, i2 : i2 + j2] = b2[:j2].T
        close[:, i2 : i2 + j2] = b3[:j2].T
        hold[:, i2 : i2 + j2] = serv2[m - j2 :].T
        i2 += j2
    if s1.free[0].min() < hi:  # a departure before the end was never released to the AEs
        raise RuntimeError("too few arrivals generated")
    return TandemRuns(
        sdr, first1, stop1, ae[:, :i2], first2, stop2, close[:, :i2], hold[:, :i2], edges
    )


def tandem_means(
    p: dict, warm: int, leads: int, runs: int, rng: np.random.Generator, chunk: int = 256
) -> dict[str, np.ndarray]:
    """Replication statistics of exact tandem runs, the way check_peer_ciw takes them from each
    simulator: keys sdr, ae, throughput (salesim: waits of service starts in [lo, hi), closes in
    [lo, hi) per day) and ciw_sdr, ciw_ae, ciw_throughput (ciw writes a node's record when the
    customer leaves it, so its waits also need the service to end before hi)."""
    lam, c1, mu1, c2, mu2 = _tandem(p)
    lo, hi = warm / lam, (warm + leads) / lam
    n = _n_arrivals(lam, hi, c1)
    s1, s2 = Station(c1, runs), Station(c2, runs)
    a = np.zeros(runs)
    sums = {key: np.zeros(runs) for key in ("sdr", "ae", "ciw_sdr", "ciw_ae", "throughput")}
    counts = {key: np.zeros(runs) for key in ("sdr", "ae", "ciw_sdr", "ciw_ae")}
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        gaps = rng.exponential(1.0 / lam, (m, runs))
        serv1 = rng.exponential(1.0 / mu1, (m, runs))
        serv2 = rng.exponential(1.0 / mu2, (m, runs))
        for j in range(m):
            a += gaps[j]
            s, out = s1.serve(a, serv1[j])
            _tally(sums, counts, "sdr", s - a, s, s + serv1[j], lo, hi)
            if i0 + j < c1:
                continue
            t, _ = s2.serve(out, serv2[j])
            close = t + serv2[j]
            _tally(sums, counts, "ae", t - out, t, close, lo, hi)
            sums["throughput"] += (close >= lo) & (close < hi)
    if s1.free[0].min() < hi:
        raise RuntimeError("too few arrivals generated")
    out = {key: sums[key] / counts[key] for key in counts}
    out["throughput"] = sums["throughput"] / (hi - lo)
    out["ciw_throughput"] = out["throughput"]  # ciw counts node-2 exits in [lo, hi): the same
    return out


def _tally(sums, counts, key, wait, start, leave, lo, hi) -> None:
    inside = (start >= lo) & (start < hi)
    sums[key] += np.where(inside, wait, 0.0)
    counts[key] += inside
    done = inside & (leave < hi)
    sums[f"ciw_{key}"] += np.where(done, wait, 0.0)
    counts[f"ciw_{key}"] += done
