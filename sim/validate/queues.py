"""Queueing checks: the engine's SDR and AE queues against Erlang C, Little's law, a Jackson network
and an independent simulator (ciw).

Every check runs the engine through its validation presets (configs/experiment/mmc.yaml and
tandem.yaml) and compares what it measured with a known answer. Tolerances are statistical, never
hand-picked, and each rule's REAL false-alarm rate was measured (see "Measured false-alarm rates"):
a correct engine must fail a row less than once in 10,000 runs, while a wrong one (a server that
works two leads at once, service twice as fast) lands far outside.

Intervals come from batch means on one long run: warm-up deleted (the preset's warmup_leads), the
observations in service-start order cut into k = 20 contiguous batches of equal size, half-width
t_{k-1}(1 - ALPHA/2) x sd(batch means) / sqrt(k). Batch means are only nearly independent when
batches are long compared with the queue's memory, so the lag-1 autocorrelation r1 of the batch
means is checked: if r1 >= 0.2, adjacent batches are merged (k = 10, twice as long) and the note
says so. Only positive r1 triggers merging: negative correlation makes the batch-means variance an
over-estimate (a wider, safer interval), and with k = 20 the sampling sd of r1 is about 0.22, so
merging on |r1| would widen a third of all intervals for nothing.

Why ALPHA = 1e-5 and not 1e-4. A rule that is exact at two-sided alpha fails a correct engine with
probability alpha, so alpha = 1e-4 means once in 10,000 runs, not less; and batch means are only
nearly normal and nearly independent, the Welch df is an approximation. Nominal 1e-5 leaves a
tenfold margin for that; the harness then measures the real rate (Little's law, the AE holding
time and the tandem throughput use it; three rules needed smaller alphas, below). It costs width: t_19 at 1 - 5e-6 is 5.9 instead of 4.9.

P(wait > 0) rows. Near saturation the indicator's batch means are correlated beyond what the r1
merge catches, so the t rule is anti-conservative there: at M/M/10, rho 0.9 (fast size, 30,000
exact runs, seed 11) 7 runs failed at nominal 1e-4 and 1 at 1e-5 (upper bound 1.6e-4). These rows
therefore use P_WAIT_ALPHA = 1e-6 (t_19 quantile 7.07, 19% wider than at 1e-5), re-measured on
fresh seeds.

Mean-wait rows (check_erlang_c, check_tandem) use another rule. Waits are right-skewed and, near
saturation, carried by rare long excursions: in short runs a run that misses an excursion has both
a low mean and a small batch sd, so the plain t rule fails far more often than its alpha (measured:
3e-4 to 4e-3 at nominal 1e-4 at size "fast"). The waits are cut into k = WAIT_BATCHES = 10 batches
(longer, so less skewed and less correlated), and the interval is Cox's method for the mean of a
lognormal sample applied to the batch means: with y = log(batch mean), log(mean) lies in
ybar + s_y^2/2 +- t_{k-1}(1 - alpha/2) x sqrt(s_y^2/k + s_y^4/(2(k-1))), back-transformed with
exp. On the log scale the batch means are nearly symmetric and their spread no longer shrinks with
their level; the interval is asymmetric (longer above). Even so the real rate at nominal 1e-4 was
9e-4 at (5, 0.9), so the alpha was calibrated down to 1e-6, and then, because M/M/10 at rho 0.9
still failed once in 30,000 exact runs at 1e-6 (17 at 1e-4, 3 at 1e-5), to WAIT_ALPHA = 1e-7
(t_9 quantile 15.2), re-measured on fresh seeds. The cost is width: at fast size the interval
spans roughly Wq / 2.5 to 2.5 Wq (up to 6 Wq at rho 0.9), which still rejects a server working two
leads at once (waits near 0) or halved service times (Wq drops by a factor 6 or more) by a wide
margin, but would not flag subtler shifts of the mean wait alone: those are left to the
P(wait > 0) and Little's law rows.

The ciw peer rows compare replication means of two simulators with a Welch interval (a difference
of two like-skewed means is nearly symmetric). With 10 replications a side, Welch's df
approximation is liberal in the far tail: at nominal 1e-4 the throughput row failed 7 times in
30,000 exact runs and at 1e-5 the SDR and throughput rows once each (upper bound 1.6e-4), so these
rows use PEER_ALPHA = 1e-6 (t quantile about 7.2 at df 18, 20% wider than at 1e-5), re-measured on
fresh seeds.

Measured false-alarm rates. python -m sim.validate.false_alarms replays every rule on queues that
are correct by construction (sim.validate.exact: FCFS M/M/c stations by the Kiefer-Wolfowitz
recursion, the preset's warm-up, window, batching and probe, two independent samples for the peer
rows) through the very decision functions below (wait_interval, interval_from_batches,
littles_interval, holding_interval, throughput_interval, welch_interval), and writes the alarms per
rule and case with their 95% Clopper-Pearson upper bound to sim/validate/false_alarms.csv. Each
row's note quotes its measurement, and docs/validation.md has the whole table.

One alarm is not a verdict. A rule that is exactly right at nominal alpha alarms at least once in n
runs with probability 1 - (1 - alpha)^n, 26% at alpha 1e-5 and n = 30,000; such a rule then needs
about 47,000 runs for its 95% upper bound to fall below 1e-4. So an alarm is looked at, and fresh
runs are pooled (false_alarms --add), before a rule is judged. Example: the tandem throughput rule
had one alarm in its first 30,000 runs (seed 11, chunk 13, run 523). Its 20 batch counts of closes
(2,480 to 2,571 a batch, 2,500 expected) are ordinary one by one, but their total is 3.3 Poisson sd
high (the departures of a Jackson network are Poisson: Burke) while their spread, sd 23, is half the
Poisson sd of 50; t = 7.2 on 19 df, p = 8.6e-7. Over 23 rules x 30,000 runs of exactly calibrated
rules a p-value that small turns up about every other time, and the rule's other p-values were
uniform (24 runs below 1e-3, 30 expected). 20,000 fresh runs (seed 12) gave no alarm: 1 in 50,000,
upper bound 9.5e-5.

The tests use fixed seeds, so they are deterministic; a false alarm can only appear when a change
reshuffles the random streams, and then re-running with another seed tells a fluke (it passes) from
a bug (it fails again).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

import numpy as np
from scipy import special

from sim.compose import compose_config, resolve
from sim.metrics import scalar_metrics
from sim.model import simulate_replication
from sim.records import MONTH_DAYS
from sim.validate import CheckRow, measured
from sim.validate.theory import erlang_c, mmc_mean_wait

ALPHA = 1e-5  # two-sided, nominal: see "Why ALPHA = 1e-5" and "Measured false-alarm rates" above
BATCHES = 20
MIN_BATCHES = 10
R1_MAX = 0.2
# Mean-wait rows: Cox's log-scale interval on WAIT_BATCHES batch means at a calibrated nominal alpha
# (see "Mean-wait rows" above); the real false-alarm rate was measured by sim.validate.false_alarms.
WAIT_BATCHES = 10
WAIT_ALPHA = 1e-7
# P(wait > 0) rows: the plain batch-means rule at a calibrated nominal alpha (see "P(wait > 0) rows").
P_WAIT_ALPHA = 1e-6
# ciw peer rows: Welch's interval at a calibrated nominal alpha (see "The ciw peer rows").
PEER_ALPHA = 1e-6

# (servers, utilisation) pairs of the Erlang C and Little's law checks; service rate 1 a day.
MMC_PAIRS = ((1, 0.5), (2, 0.8), (5, 0.8), (5, 0.9), (10, 0.9))

# Leads per measured window (warm-up: a tenth as many on top) by size.
SIZES = {
    "fast": {"mmc_leads": 40_000, "tandem_leads": 50_000, "peer_reps": 10, "peer_leads": 4_000},
    "full": {"mmc_leads": 400_000, "tandem_leads": 400_000, "peer_reps": 30, "peer_leads": 20_000},
}

# The tandem network of check_tandem / check_peer_ciw: lambda, c1, mu1, c2, mu2 (days).
TANDEM = {
    "arrival_rate": 4.0,
    "sdr_servers": 5,
    "sdr_service_rate": 1.0,
    "ae_servers": 8,
    "ae_service_rate": 0.6,
}

SEED = 20_260_101


def t_quantile(df: float, alpha: float = ALPHA) -> float:
    """The two-sided `alpha` quantile of Student's t (scipy.special.stdtrit: what stats.t.ppf
    evaluates, without its per-call overhead; the false-alarm harness calls this millions of times)."""
    return float(special.stdtrit(df, 1.0 - alpha / 2.0))


# -- batch means ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    mean: float
    half: float  # half-width at the rule's nominal alpha
    k: int  # batches used
    r1: float  # lag-1 autocorrelation of the batch means actually used
    merged: bool  # batches were merged because r1 was too large at k = 20
    lo: float | None = None  # explicit (asymmetric) bounds, e.g. of the log-scale interval
    hi: float | None = None
    se: float = math.nan  # standard error of `centre` (on the log scale when `log`)
    df: float = math.nan  # degrees of freedom of the t quantile
    centre: float | None = None  # the interval's centre on its own scale (default: mean)
    log: bool = False  # the interval is centre +- t se on the log scale
    alpha: float = ALPHA  # the nominal two-sided alpha it was built at

    def covers(self, x: float) -> bool:
        """The check's decision: pass when the interval holds x."""
        return bool(self.low <= x <= self.high)

    def p_value(self, x: float) -> float:
        """Two-sided p of x under the interval's t statistic: the interval at two-sided level
        alpha covers x exactly when p_value(x) >= alpha (sim.validate.false_alarms uses it to
        count false alarms at other alphas)."""
        c = self.mean if self.centre is None else self.centre
        d = abs((math.log(x) if self.log else x) - c)
        return float(2.0 * special.stdtr(self.df, -d / self.se)) if self.se > 0 else float(d == 0)

    @property
    def low(self) -> float:
        return self.mean - self.half if self.lo is None else self.lo

    @property
    def high(self) -> float:
        return self.mean + self.half if self.hi is None else self.hi

    def describe(self, total: float, unit: str) -> str:
        """The note: batches used (each total / k `unit` long), r1, and the half-width."""
        per = f"{total / self.k:,.0f} {unit}"
        how = (
            f"merged to k = {self.k} batches of {per} because r1 >= {R1_MAX} at k = {BATCHES}"
            if self.merged
            else f"k = {self.k} batches of {per}"
        )
        if self.r1 < R1_MAX:
            r1 = f"r1 = {self.r1:+.2f} < {R1_MAX}: batches long enough"
        else:
            r1 = f"r1 = {self.r1:+.2f} >= {R1_MAX} even at k = {self.k}: batches may be too short"
        return (
            f"batch means, {how}; lag-1 autocorrelation of batch means {r1}; half-width "
            f"t_{self.k - 1}(1 - {self.alpha / 2:g}) = {t_quantile(self.k - 1, self.alpha):.2f} x sd "
            f"/ sqrt(k) = {self.half:.4g} (nominal alpha {self.alpha:g})"
        )


def lag1(b: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (the usual estimator, 0 for a constant series)."""
    d = b - b.mean()
    den = float(d @ d)
    return float(d[:-1] @ d[1:]) / den if den > 0 else 0.0


def interval_from_batches(b: np.ndarray, alpha: float = ALPHA) -> Interval:
    """Batch-means interval from BATCHES equal batch values; merge pairs while r1 is too large."""
    b = np.asarray(b, dtype=float)
    merged = False
    r1 = lag1(b)
    while r1 >= R1_MAX and len(b) // 2 >= MIN_BATCHES and len(b) % 2 == 0:
        b = b.reshape(-1, 2).mean(axis=1)
        merged = True
        r1 = lag1(b)
    k = len(b)
    se = float(b.std(ddof=1)) / math.sqrt(k)
    half = t_quantile(k - 1, alpha) * se
    return Interval(float(b.mean()), half, k, r1, merged, se=se, df=k - 1, alpha=alpha)


def p_wait_interval(w: np.ndarray) -> Interval:
    """P(wait > 0) rule: batch means (by count) of the indicator wait > 0, at P_WAIT_ALPHA."""
    return interval_from_batches(batches_by_count((np.asarray(w) > 0).astype(float)), P_WAIT_ALPHA)


def wait_interval(b: np.ndarray, alpha: float = WAIT_ALPHA) -> Interval:
    """Mean-wait interval from (WAIT_BATCHES) positive batch means: Cox's method for a lognormal mean
    applied to y = log(batch mean), i.e. log(mean) in ybar + s^2/2 +- t_{k-1}(1 - alpha/2) x
    sqrt(s^2/k + s^4/(2(k-1))), back-transformed with exp (asymmetric: wider on the high side). No
    merging. If some batch mean is not positive the log is undefined and the plain t interval at the
    same alpha is used. `half` is half the interval's width; `mean` is the plain mean of the batches."""
    b = np.asarray(b, dtype=float)
    k, m, r1 = len(b), float(b.mean()), lag1(b)
    t = t_quantile(k - 1, alpha)
    if np.all(b > 0):
        y = np.log(b)
        v = float(y.var(ddof=1))
        se = math.sqrt(v / k + v * v / (2 * (k - 1)))
        centre = float(y.mean()) + v / 2
        lo, hi = math.exp(centre - t * se), math.exp(centre + t * se)
        log = True
    else:
        centre, se = m, float(b.std(ddof=1)) / math.sqrt(k)
        lo, hi, log = m - t * se, m + t * se, False
    return Interval(m, (hi - lo) / 2, k, r1, False, lo, hi, se, k - 1, centre, log, alpha)


def _real(size: str, rule: str, case: str) -> str:
    """The note's tail: the rule's real false-alarm rate measured on exact queues."""
    return f"; real false-alarm rate on exact queues: {measured.describe(size, rule, case)}"


def describe_wait(iv: Interval, total: float, unit: str, rate: str) -> str:
    """The note of a mean-wait row: method, batches, r1, bounds and the measured false-alarm rate."""
    return (
        f"Cox log-scale interval on k = {iv.k} batch means of {total / iv.k:,.0f} {unit}: "
        f"log(mean) in ybar + s^2/2 +- t_{iv.k - 1}(1 - {WAIT_ALPHA / 2:g}) = "
        f"{t_quantile(iv.k - 1, WAIT_ALPHA):.2f} x sqrt(s^2/k + s^4/(2(k-1))) on y = log(batch mean), "
        f"bounds [{iv.low:.4g}, {iv.high:.4g}]; lag-1 autocorrelation of batch means r1 = {iv.r1:+.2f}; "
        f"nominal alpha {WAIT_ALPHA:g}, calibrated so that the REAL false-alarm rate of exact M/M/c "
        f"waits (python -m sim.validate.false_alarms) is {rate}"
    )


def batches_by_count(x: np.ndarray, k: int = BATCHES) -> np.ndarray:
    """Means of k contiguous batches of equal size (the first n mod k values are dropped too)."""
    x = np.asarray(x, dtype=float)
    m = len(x) // k
    if m < 2:
        raise ValueError(f"{len(x)} observations cannot make {k} batches")
    return x[len(x) - k * m :].reshape(k, m).mean(axis=1)


def time_edges(lo: float, hi: float, k: int = BATCHES) -> np.ndarray:
    return np.linspace(lo, hi, k + 1)


def sums_by_time(at: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(edges, at, side="right") - 1
    ok = (idx >= 0) & (idx < len(edges) - 1)
    return np.bincount(idx[ok], weights=values[ok], minlength=len(edges) - 1)


def _row(check, expected_text, expected, iv: Interval, note: str) -> CheckRow:
    """A row whose interval is built around the observation: passes when it covers `expected`."""
    return CheckRow(
        check=check,
        expected=expected_text,
        observed=iv.mean,
        low=iv.low,
        high=iv.high,
        passed=iv.covers(expected),
        note=note,
    )


# -- running the engine -----------------------------------------------------------------------------
def _scenario(overrides: tuple[str, ...]):
    return resolve(compose_config(list(overrides)))[0]


@lru_cache(maxsize=16)
def mmc_records(servers: int, rho: float, leads: int, seed: int):
    """One long run of the M/M/c preset (service rate 1 a day); the probe samples the SDR queue about
    once per mean inter-arrival time. Cached: the Erlang C and Little checks share the runs."""
    lam = rho * servers
    sc = _scenario(
        (
            "experiment=mmc",
            f"mmc.servers={servers}",
            f"mmc.arrival_rate={lam!r}",
            "mmc.service_rate=1.0",
            f"mmc.leads={leads}",
            f"mmc.warmup_leads={leads // 10}",
            f"probe_days={1.0 / lam!r}",
            f"seed={seed}",
            "replications=1",
            "executor=serial",
        )
    )
    return simulate_replication(sc, 0)


def _window(rec, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Waits (and service-start times) of service starts inside the measurement window."""
    lo, hi = rec.window
    at = rec.waits[f"{key}_at"]
    sel = (at >= lo) & (at < hi)
    return rec.waits[key][sel], at[sel]


def _pairs(size: str):
    n = SIZES[size]["mmc_leads"]
    for i, (c, rho) in enumerate(MMC_PAIRS):
        yield c, rho, mmc_records(c, rho, n, SEED + i)


# -- checks -----------------------------------------------------------------------------------------
def check_erlang_c(size: str = "fast") -> list[CheckRow]:
    """M/M/c: mean wait in queue vs Erlang C's Wq, and P(wait > 0) vs C(c, a)."""
    rows = []
    for c, rho, rec in _pairs(size):
        lam = rho * c
        a = lam
        w, _ = _window(rec, "sdr")
        per = (len(w), "leads (one run, service starts in the window)")
        wq = mmc_mean_wait(c, lam, 1.0)
        iv = wait_interval(batches_by_count(w, WAIT_BATCHES))
        rows.append(
            _row(
                f"M/M/{c} at rho {rho}: mean wait in queue (days)",
                f"Erlang C: Wq = C(c,a) / (c mu - lambda) = {wq:.4f} "
                f"(c = {c}, lambda = {lam:g}, mu = 1, a = {a:g})",
                wq,
                iv,
                describe_wait(
                    iv, *per, measured.describe(size, "erlang_c_wait", f"M/M/{c} rho {rho}")
                ),
            )
        )
        pc = erlang_c(c, a)
        iv = p_wait_interval(w)
        rows.append(
            _row(
                f"M/M/{c} at rho {rho}: P(wait > 0)",
                f"Erlang C: C(c, a) = {pc:.4f} (c = {c}, a = {a:g})",
                pc,
                iv,
                iv.describe(*per) + _real(size, "erlang_c_p_wait", f"M/M/{c} rho {rho}"),
            )
        )
    return rows


def check_littles_law(size: str = "fast") -> list[CheckRow]:
    """L = lambda W on the SDR queue: the probe's time-average queue length (sdr_queue_length) vs
    served-per-day x mean wait (sdr_served_per_day x sdr_wait_days), on the Erlang C runs."""
    rows = []
    for c, rho, rec in _pairs(size):
        m = scalar_metrics(rec, 0.78)
        L, lam, W = m["sdr_queue_length"], m["sdr_served_per_day"], m["sdr_wait_days"]
        lo, hi = rec.window
        edges = time_edges(lo, hi)
        q_at, q = rec.waits["sdr_queue_at"], rec.waits["sdr_queue"]
        probes = sums_by_time(q_at, np.ones_like(q), edges)
        L_b = sums_by_time(q_at, q, edges) / probes
        w, at = _window(rec, "sdr")
        lw_b = sums_by_time(at, w, edges) / np.diff(edges)  # (served/T_b) x mean wait = sum(w)/T_b
        lw = lam * W
        iv, band = littles_interval(L_b, lw_b, lw)
        lam_in = rho * c  # the preset's arrival rate (service rate 1)
        rows.append(
            CheckRow(
                check=f"M/M/{c} at rho {rho}: Little's law on the SDR queue, L (probe)",
                expected=(
                    f"L = lambda x W = {lam:.4f}/day x {W:.4f} days = {lw:.4f} "
                    f"(Erlang C: Lq = {lam_in * mmc_mean_wait(c, lam_in, 1.0):.4f})"
                ),
                observed=L,
                low=band.low,
                high=band.high,
                passed=band.covers(L),
                note=(
                    f"interval lambda W +- the half-width of the paired difference "
                    f"L_b - (lambda W)_b (mean {iv.mean:+.4g}), probe every {1.0 / lam_in:.3g} days; "
                    + iv.describe(hi - lo, "days")
                    + _real(size, "littles_law", f"M/M/{c} rho {rho}")
                ),
            )
        )
    return rows


def littles_interval(L_b: np.ndarray, lw_b: np.ndarray, lw: float) -> tuple[Interval, Interval]:
    """Little's law rule: the batch-means interval of the paired differences L_b - (lambda W)_b, and
    the band lambda W +- its half-width that the probe's L must fall in."""
    iv = interval_from_batches(np.asarray(L_b) - np.asarray(lw_b))
    return iv, Interval(lw, iv.half, iv.k, iv.r1, iv.merged, se=iv.se, df=iv.df, alpha=iv.alpha)


# -- the tandem network -------------------------------------------------------------------------------
def _tandem_theory(p: dict) -> dict[str, float]:
    lam = p["arrival_rate"]
    c1, mu1, c2, mu2 = (
        p["sdr_servers"],
        p["sdr_service_rate"],
        p["ae_servers"],
        p["ae_service_rate"],
    )
    return {
        "sdr": mmc_mean_wait(c1, lam, mu1),
        "ae": mmc_mean_wait(c2, lam, mu2),
        "ae_p": erlang_c(c2, lam / mu2),
        "throughput": lam,
    }


def tandem_overrides(leads: int, seed: int, p: dict | None = None) -> tuple[str, ...]:
    p = TANDEM if p is None else p
    return (
        "experiment=tandem",
        *(f"tandem.{k}={v!r}" for k, v in p.items()),
        f"tandem.leads={leads}",
        f"tandem.warmup_leads={leads // 10}",
        f"seed={seed}",
        "replications=1",
        "executor=serial",
    )


def tandem_records(leads: int, seed: int, replication: int = 0):
    return simulate_replication(_scenario(tandem_overrides(leads, seed)), replication)


def _closed_times(rec) -> np.ndarray:
    """Close days of opportunities closed (won or lost) inside the window."""
    opp = rec.opportunities
    closed = opp["closed_day"].to_numpy(dtype=float)
    lo, hi = rec.window
    return closed[(closed >= lo) & (closed < hi)]


def holding_interval(
    month: np.ndarray, days: np.ndarray, n: np.ndarray, lo: float, hi: float
) -> tuple[Interval, int]:
    """AE holding-time rule: months (in order) wholly inside [lo, hi) cut into BATCHES runs of
    consecutive months, batch value = days held / deals decided; returns the interval and the
    number of months used."""
    month_lo = month * MONTH_DAYS
    keep = (month_lo >= lo) & (month_lo + MONTH_DAYS <= hi)
    days, n = days[keep], n[keep]
    groups = np.array_split(np.arange(len(days)), BATCHES)
    return interval_from_batches(np.array([days[g].sum() / n[g].sum() for g in groups])), len(days)


def throughput_interval(closed_by_batch: np.ndarray, edges: np.ndarray) -> Interval:
    """Throughput rule: batch means of closes per day over the time batches `edges`."""
    return interval_from_batches(np.asarray(closed_by_batch) / np.diff(edges))


def check_tandem(size: str = "fast") -> list[CheckRow]:
    """A two-station Jackson network (SDR M/M/c1 -> AE M/M/c2): each station's mean wait matches
    Erlang C for its own (c, a) with the same lambda; throughput = lambda."""
    p = TANDEM
    lam, c1, mu1, c2, mu2 = (p[k] for k in TANDEM)
    th = _tandem_theory(p)
    rec = tandem_records(SIZES[size]["tandem_leads"], SEED + 100)
    rows = []
    for key, c, mu, name in (("sdr", c1, mu1, "SDR"), ("ae", c2, mu2, "AE")):
        w, _ = _window(rec, key)
        iv = wait_interval(batches_by_count(w, WAIT_BATCHES))
        rate = measured.describe(size, f"tandem_{key}_wait", "tandem")
        rows.append(
            _row(
                f"Tandem (Jackson) network: {name} mean wait in queue (days)",
                f"Erlang C at the {name} station: Wq = {th[key]:.4f} "
                f"(c = {c}, lambda = {lam:g}, mu = {mu:g}, rho = {lam / (c * mu):.3f})",
                th[key],
                iv,
                describe_wait(iv, len(w), f"{name} service starts", rate),
            )
        )
    w, _ = _window(rec, "ae")
    iv = p_wait_interval(w)
    rows.append(
        _row(
            "Tandem (Jackson) network: AE P(wait > 0)",
            f"Erlang C: C(c, a) = {th['ae_p']:.4f} (c = {c2}, a = {lam / mu2:.4g})",
            th["ae_p"],
            iv,
            iv.describe(len(w), "AE service starts") + _real(size, "tandem_ae_p_wait", "tandem"),
        )
    )
    # the AE slot is held for the deal stage's days x cycle_scale: its mean must be 1 / mu2
    f = rec.funnel
    f = f[(f["stage"] == "deal")].sort_values("month")
    lo, hi = rec.window
    month = f["month"].to_numpy()
    iv, months = holding_interval(
        month, f["stage_days"].to_numpy(), (f["advanced"] + f["dropped"]).to_numpy(), lo, hi
    )
    rows.append(
        _row(
            "Tandem (Jackson) network: AE slot holding time, mean (days)",
            f"1 / mu = {1 / mu2:.4f} (deal stage: exponential, mean 1 / {mu2:g} days x cycle_scale 1)",
            1 / mu2,
            iv,
            iv.describe(months, "months (deals closed in them)")
            + _real(size, "tandem_holding", "tandem"),
        )
    )
    edges = time_edges(lo, hi)
    closed = _closed_times(rec)
    iv = throughput_interval(sums_by_time(closed, np.ones_like(closed), edges), edges)
    rows.append(
        _row(
            "Tandem (Jackson) network: throughput, opportunities closed per day",
            f"lambda = {lam:g} (every lead passes both stations; Burke: departures are Poisson)",
            lam,
            iv,
            iv.describe(hi - lo, "days") + _real(size, "tandem_throughput", "tandem"),
        )
    )
    return rows


# -- ciw as a peer ------------------------------------------------------------------------------------
def ciw_tandem(p: dict, leads: int, seed: int) -> dict[str, float]:
    """The tandem network in ciw: mean waits at both nodes and throughput, warm-up deleted (the same
    warm-up and window lengths as the salesim preset)."""
    import ciw  # lazy: the peer simulator is heavy and only this check uses it

    lam = p["arrival_rate"]
    warm, horizon = (leads // 10) / lam, leads / lam
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(lam), None],
        service_distributions=[
            ciw.dists.Exponential(p["sdr_service_rate"]),
            ciw.dists.Exponential(p["ae_service_rate"]),
        ],
        number_of_servers=[p["sdr_servers"], p["ae_servers"]],
        routing=[[0.0, 1.0], [0.0, 0.0]],
    )
    state = random.getstate()  # ciw draws from the global `random` module: leave it as found
    try:
        ciw.seed(seed)
        sim = ciw.Simulation(net)
        sim.simulate_until_max_time(warm + horizon)
        recs = sim.get_all_records()
    finally:
        random.setstate(state)
    hi = warm + horizon
    out = {}
    for node, key in ((1, "sdr"), (2, "ae")):
        w = [r.waiting_time for r in recs if r.node == node and warm <= r.service_start_date < hi]
        out[key] = float(np.mean(w))
    done = sum(1 for r in recs if r.node == 2 and warm <= r.exit_date < hi)
    out["throughput"] = done / horizon
    return out


def salesim_tandem(leads: int, seed: int, replication: int) -> dict[str, float]:
    rec = tandem_records(leads, seed, replication)
    lo, hi = rec.window
    return {
        "sdr": float(_window(rec, "sdr")[0].mean()),
        "ae": float(_window(rec, "ae")[0].mean()),
        "throughput": len(_closed_times(rec)) / (hi - lo),
    }


def welch_interval(x: np.ndarray, y: np.ndarray) -> Interval:
    """Peer rule: the band mean(y) +- t_df x se of a two-sample Welch interval, which the mean of x
    must fall in (se = sqrt(var x / n_x + var y / n_y), Welch-Satterthwaite df)."""
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1)) if se > 0 else 1.0
    m = float(y.mean())
    half = t_quantile(df, PEER_ALPHA) * se
    return Interval(m, half, len(x) + len(y), 0.0, False, se=se, df=df, alpha=PEER_ALPHA)


def check_peer_ciw(size: str = "fast") -> list[CheckRow]:
    """The tandem network in salesim and in ciw: replication means agree within a Welch interval."""
    s = SIZES[size]
    reps, leads = s["peer_reps"], s["peer_leads"]
    ours = [salesim_tandem(leads, SEED + 200, r) for r in range(reps)]
    peer = [ciw_tandem(TANDEM, leads, SEED + 300 + r) for r in range(reps)]
    th = _tandem_theory(TANDEM)
    rows = []
    for key, what in (
        ("sdr", "SDR mean wait (days)"),
        ("ae", "AE mean wait (days)"),
        ("throughput", "throughput (closed per day)"),
    ):
        x = np.array([o[key] for o in ours])
        y = np.array([o[key] for o in peer])
        iv = welch_interval(x, y)
        se, df, half = iv.se, iv.df, iv.half
        diff = float(x.mean() - y.mean())
        rows.append(
            CheckRow(
                check=f"Tandem network vs ciw: {what}",
                expected=(
                    f"ciw {ciw_version()}: {y.mean():.4f} (+- {y.std(ddof=1):.4f} sd over {len(y)} reps; "
                    f"theory {th[key]:.4f})"
                ),
                observed=float(x.mean()),
                low=iv.low,
                high=iv.high,
                passed=iv.covers(float(x.mean())),
                note=(
                    f"two-sample Welch interval: {len(x)} salesim and {len(y)} ciw replications of "
                    f"{leads:,} leads after {leads // 10:,} warm-up leads, difference {diff:+.4f}, "
                    f"se {se:.4f}, df {df:.1f}, half-width t(1 - {PEER_ALPHA / 2:g}) = "
                    f"{t_quantile(df, PEER_ALPHA):.2f} x se = {half:.4f} "
                    f"(nominal alpha {PEER_ALPHA:g})"
                    + _real(
                        size,
                        f"peer_{key if key == 'throughput' else key + '_wait'}",
                        "tandem vs ciw",
                    )
                ),
            )
        )
    return rows


def ciw_version() -> str:
    return metadata.version("ciw")


CHECKS = (check_erlang_c, check_littles_law, check_tandem, check_peer_ciw)
