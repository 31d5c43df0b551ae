"""What really happened after a cutoff, and the naive forecasts people make without a simulator.

All functions read the importer's opportunity table (the simulator's schema, docs/metrics.md:
created_date, close_date, their day offsets, outcome, segment, amount) and use only what was known at
the cutoff, except `actuals`, which is the truth the forecasts are scored against. Win rates, cycle
times and won value are sim.metrics' (`win_rate`, `cycle_days`, `bookings`). A period is the days
(start, end]: a deal closed on the cutoff date is history; one closed on the next day is in the
horizon.

- `same_as_last_period`: the horizon repeats the period of equal length that ended at the cutoff.
- `seasonal_naive`: the horizon repeats the same days a year before (unavailable when the file does
  not record closes that far back).
- `poisson_band`: last period's count with Poisson noise; won value compound Poisson (resampled
  last-period deal values).
- `stage_weighted`: the open pipeline times the historical win rate, plus the run-rate of new deals.
  Per segment: win rate w = won / (won + lost) over deals closed by the cutoff (when the file records
  no losses at all, as in olist, w = won / created over deals created at least D days before the
  cutoff); D = the 90th percentile of days to close of deals won by the cutoff. Open deals older than D
  are stale and left out, as an analyst cleaning the pipeline would; the rest count w each (and w times
  the segment's mean won value). The run-rate part is what closed won in the last period from deals
  created inside that period (new business that is created and won within one period), repeated.
  `stage_weighted_band` is its distribution: each live deal a Bernoulli(w) draw, the run-rate part
  compound Poisson.

`forecasts` gives all four at a cutoff as `Naive` (point and samples), scored alike by
sim.calibrate.scoring: the point forecasts as one sample (CRPS = absolute error), the bands by
their samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibrate.importer import day_of, reopen
from sim.metrics import bookings, closed_in, cycle_days, opportunity_columns, win_rate
from sim.records import WON

METRICS = ("won_deals", "won_value")


def _day(x) -> pd.Timestamp:
    return pd.Timestamp(x).normalize()


def period(start, end) -> tuple[float, float]:
    """The days (start, end] as a metrics window [lo, hi) of day offsets: a close at the very
    start of `start` is out, one at the start of `end` is in."""
    return (
        float(np.nextafter(day_of(_day(start)), np.inf)),
        float(np.nextafter(day_of(_day(end)), np.inf)),
    )


def won_between(opp: pd.DataFrame, start, end) -> pd.DataFrame:
    """Deals won in the days (start, end]."""
    c = opportunity_columns(opp)
    return opp[closed_in(c, *period(start, end)) & (c["outcome"] == WON)]


def totals(won: pd.DataFrame) -> dict[str, float]:
    """won_deals and won_value of a table of won deals (value: sum of known amounts)."""
    return {"won_deals": float(len(won)), "won_value": bookings(won)}


def actuals(opp: pd.DataFrame, cutoff, horizon_days: int) -> dict[str, float]:
    """What the file says was won in (cutoff, cutoff + horizon_days]."""
    c = _day(cutoff)
    return totals(won_between(opp, c, c + pd.Timedelta(days=horizon_days)))


def same_as_last_period(opp: pd.DataFrame, cutoff, horizon_days: int) -> dict[str, float]:
    """The naive forecast 'same as last period': what was won in (cutoff - horizon, cutoff]."""
    c = _day(cutoff)
    return totals(won_between(opp, c - pd.Timedelta(days=horizon_days), c))


def known_at(opp: pd.DataFrame, cutoff) -> pd.DataFrame:
    """The table as it looked at the cutoff: deals created by then; outcomes after it are 'open'
    (no close date, and the amount recorded at that later close unknown); adds age_days = cutoff -
    created, in whole days."""
    c = _day(cutoff)
    out = opp[opp["created_date"] <= c].copy()
    out.loc[out["close_date"] > c, "amount"] = np.nan  # a close value is not known before the close
    reopen(out, out["close_date"].isna() | (out["close_date"] > c))
    out["age_days"] = (c - out["created_date"]).dt.days.astype(float)
    return out


def _pipeline(
    opp: pd.DataFrame, cutoff, horizon_days: int, no_losses: bool | None = None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The stage-weighted pipeline's parts: each live open deal's win rate and value, and the
    run-rate deals (won in the last period and created inside it)."""
    c = _day(cutoff)
    k = known_at(opp, c)
    if no_losses is None:
        no_losses = not (opp["outcome"] == "lost").any()
    cycle = np.floor(cycle_days(k))  # whole days, as the analyst counts them
    stale = float(np.percentile(cycle, 90)) if len(cycle) else float("inf")
    rates, values = [], []
    for _seg, g in k.groupby("segment", observed=True):
        w_seg = g[g["outcome"] == "won"]
        if no_losses:
            old = g[g["age_days"] >= stale]
            n_dec = len(old)
            rate = int((old["outcome"] == "won").sum()) / n_dec if n_dec else float("nan")
        else:
            rate = win_rate(g)
        if math.isnan(rate):  # nothing decided in the segment
            continue
        mean_won = float(w_seg["amount"].mean()) if w_seg["amount"].notna().any() else 0.0
        live = g[(g["outcome"] == "open") & (g["age_days"] <= stale)]
        rates.append(np.full(len(live), rate))
        values.append(live["amount"].fillna(mean_won).to_numpy(dtype=float))
    start = c - pd.Timedelta(days=horizon_days)
    fresh = won_between(opp, start, c)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return cat(rates), cat(values), fresh[fresh["created_date"] > start]


def stage_weighted(
    opp: pd.DataFrame, cutoff, horizon_days: int, no_losses: bool | None = None
) -> dict[str, float]:
    """The naive forecast 'stage-weighted pipeline plus run-rate' (see the module docstring).

    `no_losses`: whether the file records no losses at all (default: inferred from the table).
    """
    rates, values, fresh = _pipeline(opp, cutoff, horizon_days, no_losses)
    run = totals(fresh)
    return {
        "won_deals": float(rates.sum()) + run["won_deals"],
        "won_value": float(np.dot(rates, values)) + run["won_value"],
    }


# -- the naive forecasts as distributions ---------------------------------------------------------------
@dataclass(frozen=True)
class Naive:
    """One naive forecast at one cutoff: its point (what the analyst would say) and samples of its
    distribution per metric (one sample for a point forecast), or None with the reason when the
    history cannot give it."""

    name: str
    label: str
    kind: str  # "point" or "band": how it is scored (a point's CRPS is its absolute error)
    point: dict[str, float] | None
    samples: dict[str, np.ndarray] | None
    why: str = ""

    @property
    def available(self) -> bool:
        return self.point is not None


NAIVE_LABELS = {
    "last_period": "same as last period",
    "seasonal_naive": "seasonal naive (a year before)",
    "poisson_band": "Poisson band around last period",
    "stage_weighted": "stage-weighted pipeline",
}
DRAWS = 4000  # samples of each naive band: CRPS and percentiles to well under 1 % of the spread


def _point(name: str, value: dict[str, float]) -> Naive:
    samples = {m: np.array([value[m]]) for m in METRICS}
    return Naive(name, NAIVE_LABELS[name], "point", dict(value), samples)


def seasonal_naive(opp: pd.DataFrame, cutoff, horizon_days: int, recorded_from) -> Naive:
    """'Same period a year before': what was won in (cutoff - 1 year, cutoff - 1 year + horizon].
    Unavailable when that period starts before `recorded_from` (the first day the file records
    closes): the file cannot say what was won then."""
    c = _day(cutoff)
    start = c - pd.DateOffset(years=1)
    if start < _day(recorded_from):
        why = f"the file records closes from {_day(recorded_from).date()}, not a year before the cutoff"
        return Naive("seasonal_naive", NAIVE_LABELS["seasonal_naive"], "point", None, None, why)
    return _point(
        "seasonal_naive", totals(won_between(opp, start, start + pd.Timedelta(days=horizon_days)))
    )


def _compound_poisson(
    rng: np.random.Generator, mean_count: float, values: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """n draws of (N, sum of N values resampled from `values`), N ~ Poisson(mean_count)."""
    counts = rng.poisson(mean_count, n)
    if len(values) == 0 or counts.sum() == 0:
        return counts.astype(float), np.zeros(n)
    picks = rng.choice(values, size=int(counts.sum()), replace=True)
    owner = np.repeat(np.arange(n), counts)  # which draw each picked value belongs to
    return counts.astype(float), np.bincount(owner, weights=picks, minlength=n)


def poisson_band(
    opp: pd.DataFrame, cutoff, horizon_days: int, rng: np.random.Generator, n: int = DRAWS
) -> Naive:
    """'Same as last period' with Poisson noise: won deals ~ Poisson(last period's won deals); won
    value is compound Poisson, the sum of that many values resampled from the last period's won
    deals (an unknown amount counts 0, as in the point forecast), so its mean is last period's
    value and its spread comes from both the count and the deal sizes."""
    c = _day(cutoff)
    last = won_between(opp, c - pd.Timedelta(days=horizon_days), c)
    deals, value = _compound_poisson(
        rng, float(len(last)), last["amount"].fillna(0.0).to_numpy(dtype=float), n
    )
    return Naive(
        "poisson_band",
        NAIVE_LABELS["poisson_band"],
        "band",
        totals(last),
        {"won_deals": deals, "won_value": value},
    )


def stage_weighted_band(
    opp: pd.DataFrame,
    cutoff,
    horizon_days: int,
    rng: np.random.Generator,
    n: int = DRAWS,
    no_losses: bool | None = None,
) -> Naive:
    """The stage-weighted pipeline as a distribution: each live open deal wins independently with
    its segment's win rate (a Poisson-binomial count; its value counts when it wins), plus the
    run-rate as compound Poisson around the last period's created-and-won deals. Its mean is the
    point forecast `stage_weighted`."""
    rates, values, fresh = _pipeline(opp, cutoff, horizon_days, no_losses)
    wins = rng.random((n, len(rates))) < rates if len(rates) else np.zeros((n, 0), dtype=bool)
    run_deals, run_value = _compound_poisson(
        rng, float(len(fresh)), fresh["amount"].fillna(0.0).to_numpy(dtype=float), n
    )
    run = totals(fresh)
    point = {
        "won_deals": float(rates.sum()) + run["won_deals"],
        "won_value": float(np.dot(rates, values)) + run["won_value"],
    }
    samples = {
        "won_deals": wins.sum(axis=1) + run_deals,
        "won_value": wins.astype(float) @ values + run_value,
    }
    return Naive("stage_weighted", NAIVE_LABELS["stage_weighted"], "band", point, samples)


def forecasts(
    opp: pd.DataFrame,
    cutoff,
    horizon_days: int,
    recorded_from=None,
    seed: int = 0,
    n: int = DRAWS,
) -> dict[str, Naive]:
    """The four naive forecasts at the cutoff, in NAIVE_LABELS order; the bands are drawn from one
    generator seeded by `seed` (the same call gives the same samples). `recorded_from`: the first
    day the file records closes (default: its first close)."""
    if recorded_from is None:
        recorded_from = opp["close_date"].min()
    rng = np.random.default_rng(seed)
    return {
        "last_period": _point("last_period", same_as_last_period(opp, cutoff, horizon_days)),
        "seasonal_naive": seasonal_naive(opp, cutoff, horizon_days, recorded_from),
        "poisson_band": poisson_band(opp, cutoff, horizon_days, rng, n),
        "stage_weighted": stage_weighted_band(opp, cutoff, horizon_days, rng, n),
    }
