"""Exact FCFS multi-server queues for many independent runs at once.

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
statistic uses them). Waits count at service start, as in the engine (sim/model/sdr_desk.py).

Random numbers come from numpy, a block of 256 customers for all runs at a time; the per-customer
steps and the per-run statistics are numba kernels (a Python loop over 440,000 customers per run was
what made full-size measurements take a day). They do the float operations of the numpy loops they
replaced in the same order; when they replaced them, every array of mmc_runs, MMcRuns.run,
tandem_runs and tandem_means was checked bit-identical for the same seed, so the stored counts of
false_alarms.csv stay reproducible by their commands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit


@njit(cache=True)
def _insert(free, r, nxt):
    """Kiefer-Wolfowitz step of run r: its server free first is taken and is next free at nxt
    (free[:, r] stays sorted). Loops run customers outer, runs inner: contiguous in memory."""
    i = 1
    while i < free.shape[0] and free[i, r] < nxt:
        free[i - 1, r] = free[i, r]
        i += 1
    free[i - 1, r] = nxt


@njit(cache=True)
def _serve_block(free, arrival, service, start, released):
    """Kiefer-Wolfowitz steps for a block of customers in every run (numba: the per-customer loop
    is what a correct replay cannot vectorise). free (c, runs) sorted, updated in place; arrival
    and service (m, runs); writes start and released (m, runs)."""
    for j in range(arrival.shape[0]):
        for r in range(arrival.shape[1]):
            released[j, r] = free[0, r]
            start[j, r] = max(free[0, r], arrival[j, r])
            _insert(free, r, start[j, r] + service[j, r])


class Station:
    """c FCFS servers in each of `runs` independent runs; free[:, r] sorted, -inf = never used."""

    def __init__(self, c: int, runs: int) -> None:
        self.c = c
        self.free = np.full((c, runs), -np.inf)

    def serve_block(
        self, arrival: np.ndarray, service: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start times of m arrivals per run ((m, runs) arrays, in arrival order), and the
        departure each one's server had before (the station's departures in time order; -inf for
        the first c customers)."""
        arrival = np.ascontiguousarray(arrival, dtype=float)
        service = np.ascontiguousarray(service, dtype=float)
        start, released = np.empty_like(arrival), np.empty_like(arrival)
        _serve_block(self.free, arrival, service, start, released)
        return start, released

    def serve(self, arrival: np.ndarray, service: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """serve_block for one arrival per run."""
        start, released = self.serve_block(arrival[None, :], service[None, :])
        return start[0], released[0]


@njit(cache=True)
def _mmc_block(free, a, g, service, gaps, waits, i0):
    """M/M/c replay of one block of m customers in every run: arrivals a += g (float64 running sums
    of the float32 gaps, updated in place), Kiefer-Wolfowitz steps, and the gaps and float32 waits
    stored run-major at columns i0 .. i0 + m - 1."""
    for j in range(g.shape[0]):
        for r in range(g.shape[1]):
            a[r] += np.float64(g[j, r])
            t = a[r]
            s = max(free[0, r], t)
            _insert(free, r, s + service[j, r])
            gaps[r, i0 + j] = g[j, r]
            waits[r, i0 + j] = np.float32(s - t)


def _arrivals(a: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Arrival times of a block: a + gaps[0], + gaps[1], ... added one at a time in float64 (the
    column-wise cumsum adds row by row, as a running `a += gap` would); a is updated in place."""
    out = np.cumsum(np.vstack((a[None, :], gaps.astype(float))), axis=0)[1:]
    a[:] = out[-1]
    return out


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
        edges = np.linspace(self.lo, self.hi, k + 1)
        lev = _probe_levels(edges, self.probe)
        at, wait_sums, probe_sums = _run_stats(self.gaps[i], self.waits[i], edges, lev, self.probe)
        return {
            "window": self.waits[i, at[0] : at[-1]].astype(float),
            "wait_sums": wait_sums,
            "probe_sums": probe_sums,
            "probe_counts": np.diff(lev),
            "edges": edges,
        }


@njit(cache=True)
def _run_stats(gaps, waits, edges, lev, probe):
    """One run's window bounds `at` (first service start at or after each edge), wait sums by
    time batch and queue-length probe sums by batch. Arrivals are the float64 running sums of the
    float32 gaps (the very sums the replay added up), s = a + w the service starts (never
    decreasing: FCFS). Probe j is at t_j = (j + 1) probe, accumulated in floating point as simpy
    does; probes lev[b] .. lev[b + 1] - 1 lie in [edges[b], edges[b + 1]). A lead is in the queue
    at probe j when a < t_j < s, i.e. for j in [floor(a / probe), max(ceil(s / probe) - 1, that))."""
    n = gaps.shape[0]
    s, ka, ks = np.empty(n), np.empty(n), np.empty(n)
    a = 0.0
    for i in range(n):
        a += np.float64(gaps[i])
        s[i] = a + np.float64(waits[i])
        ka[i] = np.floor(a / probe)
        ks[i] = max(np.ceil(s[i] / probe) - 1.0, ka[i])
    at = np.searchsorted(s, edges)
    cw = _prefix_at(waits, at)
    return at, cw[1:] - cw[:-1], _below(ks, lev) - _below(ka, lev)


@njit(cache=True)
def _prefix_at(x, idx):
    """Running float64 sums of x (from 0, one value at a time) read at the sorted indices idx."""
    out = np.empty(len(idx))
    acc, i = 0.0, 0
    for b in range(len(idx)):
        while i < idx[b]:
            acc += np.float64(x[i])
            i += 1
        out[b] = acc
    return out


@njit(cache=True)
def _below(x, lev):
    """For non-decreasing x: sum over i of #{integers j in [lev[b], lev[b + 1]) with j < x_i}."""
    pos = np.searchsorted(x, lev)  # x[pos[b]:pos[b + 1]] lie in [lev[b], lev[b + 1])
    cx = _prefix_at(x, pos)
    k = len(lev) - 1
    out = np.empty(k)
    for b in range(k):
        inside = (cx[b + 1] - cx[b]) - lev[b] * (pos[b + 1] - pos[b])
        out[b] = inside + (lev[b + 1] - lev[b]) * (len(x) - pos[b + 1])
    return out


@lru_cache(maxsize=8)
def _probe_cache(lo: float, hi: float, k: int, probe: float) -> np.ndarray:
    edges = np.linspace(lo, hi, k + 1)
    times = np.cumsum(np.full(int(hi / probe) + 10, probe))
    return np.searchsorted(times, edges, side="left").astype(float)


def _probe_levels(edges: np.ndarray, probe: float) -> np.ndarray:
    """Index of the first probe at or after each edge (probe j at the float sum of j + 1 probes)."""
    return _probe_cache(float(edges[0]), float(edges[-1]), len(edges) - 1, probe)


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
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        g = rng.standard_exponential((m, runs), dtype=np.float32) / np.float32(lam)
        serv = rng.exponential(1.0 / mu, (m, runs))
        _mmc_block(st.free, a, g, serv, gaps, waits, i0)
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
    # service starts never decrease (FCFS), so #(starts < lo) is the window's first index
    first1, stop1, first2, stop2 = (np.zeros(runs, dtype=np.int64) for _ in range(4))
    i2 = 0  # AE arrivals so far: the SDR's first c1 releases are its servers' initial -inf
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        gaps = rng.exponential(1.0 / lam, (m, runs))
        serv1 = rng.exponential(1.0 / mu1, (m, runs))
        serv2 = rng.exponential(1.0 / mu2, (m, runs))
        arr = _arrivals(a, gaps)
        s, out = s1.serve_block(arr, serv1)
        sdr[:, i0 : i0 + m] = (s - arr).astype(np.float32).T
        first1 += (s < lo).sum(axis=0)
        stop1 += (s < hi).sum(axis=0)
        skip = max(0, c1 - i0)
        out, hold2 = out[skip:], serv2[skip:]
        t, _ = s2.serve_block(out, hold2)
        j2 = m - skip
        ae[:, i2 : i2 + j2] = (t - out).astype(np.float32).T
        close[:, i2 : i2 + j2] = (t + hold2).T
        hold[:, i2 : i2 + j2] = hold2.T
        first2 += (t < lo).sum(axis=0)
        stop2 += (t < hi).sum(axis=0)
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
    sums = np.zeros((len(_MEANS), runs))  # rows: _MEANS
    counts = np.zeros((len(_MEANS), runs))
    for i0 in range(0, n, chunk):
        m = min(chunk, n - i0)
        gaps = rng.exponential(1.0 / lam, (m, runs))
        serv1 = rng.exponential(1.0 / mu1, (m, runs))
        serv2 = rng.exponential(1.0 / mu2, (m, runs))
        _tandem_block(
            s1.free, s2.free, a, gaps, serv1, serv2, max(0, c1 - i0), lo, hi, sums, counts
        )
    if s1.free[0].min() < hi:
        raise RuntimeError("too few arrivals generated")
    out = {key: sums[i] / counts[i] for i, key in enumerate(_MEANS[:4])}
    out["throughput"] = sums[4] / (hi - lo)
    out["ciw_throughput"] = out["throughput"]  # ciw counts node-2 exits in [lo, hi): the same
    return out


_MEANS = ("sdr", "ae", "ciw_sdr", "ciw_ae", "throughput")  # the rows of _tandem_block's tallies


@njit(cache=True)
def _tandem_block(free1, free2, a, gaps, serv1, serv2, skip, lo, hi, sums, counts):
    """One block of m customers of exact tandem runs (SDR then AE), tallied as tandem_means reports
    them (rows of sums / counts: _MEANS), in customer order per run; the first `skip` SDR releases
    are the servers' initial -inf, not customers."""
    for j in range(gaps.shape[0]):
        for r in range(gaps.shape[1]):
            a[r] += gaps[j, r]
            t = a[r]
            out = free1[0, r]
            s = max(out, t)
            _insert(free1, r, s + serv1[j, r])
            _tally_one(sums, counts, 0, r, s - t, s, s + serv1[j, r], lo, hi)
            if j < skip:
                continue
            u = max(free2[0, r], out)
            close = u + serv2[j, r]
            _insert(free2, r, close)
            _tally_one(sums, counts, 1, r, u - out, u, close, lo, hi)
            if lo <= close < hi:
                sums[4, r] += 1.0


@njit(cache=True)
def _tally_one(sums, counts, row, r, wait, start, leave, lo, hi):
    """A wait counts when its service starts in [lo, hi) (salesim), and for ciw (row + 2) only if
    the service also ends before hi (ciw records a node when the customer leaves it)."""
    if lo <= start < hi:
        sums[row, r] += wait
        counts[row, r] += 1.0
        if leave < hi:
            sums[row + 2, r] += wait
            counts[row + 2, r] += 1.0
