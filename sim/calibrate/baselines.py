"""What really happened after a cutoff, and the two naive forecasts people make without a simulator.

All functions read the importer's opportunity table (the simulator's schema, docs/metrics.md:
created_date, close_date, their day offsets, outcome, segment, amount) and use only what was known at
the cutoff, except `actuals`, which is the truth the forecasts are scored against. Win rates, cycle
times and won value are sim.metrics' (`win_rate`, `cycle_days`, `bookings`). A period is the days
(start, end]: a deal closed on the cutoff date is history; one closed on the next day is in the
horizon.

- `same_as_last_period`: the horizon repeats the period of equal length that ended at the cutoff.
- `stage_weighted`: the open pipeline times the historical win rate, plus the run-rate of new deals.
  Per segment: win rate w = won / (won + lost) over deals closed by the cutoff (when the file records
  no losses at all, as in olist, w = won / created over deals created at least D days before the
  cutoff); D = the 90th percentile of days to close of deals won by the cutoff. Open deals older than D
  are stale and left out, as an analyst cleaning the pipeline would; the rest count w each (and w times
  the segment's mean won value). The run-rate part is what closed won in the last period from deals
  created inside that period (new business that is created and won within one period), repeated.
"""

from __future__ import annotations

import math

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


def stage_weighted(
    opp: pd.DataFrame, cutoff, horizon_days: int, no_losses: bool | None = None
) -> dict[str, float]:
    """The naive forecast 'stage-weighted pipeline plus run-rate' (see the module docstring).

    `no_losses`: whether the file records no losses at all (default: inferred from the table).
    """
    c = _day(cutoff)
    k = known_at(opp, c)
    if no_losses is None:
        no_losses = not (opp["outcome"] == "lost").any()
    cycle = np.floor(cycle_days(k))  # whole days, as the analyst counts them
    stale = float(np.percentile(cycle, 90)) if len(cycle) else float("inf")
    deals, value = 0.0, 0.0
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
        deals += rate * len(live)
        amounts = live["amount"].fillna(mean_won).to_numpy(dtype=float)
        value += rate * float(amounts.sum())
    start = c - pd.Timedelta(days=horizon_days)
    fresh = won_between(opp, start, c)
    run = totals(fresh[fresh["created_date"] > start])
    return {"won_deals": deals + run["won_deals"], "won_value": value + run["won_value"]}
