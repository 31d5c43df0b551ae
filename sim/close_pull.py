"""Quarter-end and month-end bunching of closes: reps pull a deal that would close just after a period
ends into that period (docs/model.md#closes-pulled-into-the-period).

A won close that would land within `days` after a period end is pulled, with probability `share`, to a
time uniform over the last `days` of the period (not before its stage started: only a deal already in
its closing stage at the period end can be pushed). Quarter ends use the quarter keys, the other month
ends the month keys. The pull moves timing only: the deal wins (or not) as it would have, at the same
amount, so no win is added; the period after pays for the bunching with fewer early closes.

The pull uniform costs no random draw: a won lead advanced because u < p', so v = u / p' is uniform
on [0, 1) and independent of everything else; pulled iff v < share, and v / share places the close
inside the window. A warm-started deal, whose outcome is drawn elsewhere (sim.open_pipeline), carries
-v in u instead (u <= 0 advances at any p'). With share 0 nothing moves and the walks see the floats
they always saw.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.records import MONTH_DAYS


@dataclass(frozen=True)
class ClosePull:
    """Period ends (days from the run's start, ascending) with each end's window and share."""

    ends: tuple[float, ...]
    days: tuple[float, ...]
    share: tuple[float, ...]

    def at(self, t: float, end: float, v: float) -> float:
        """The close time of a won stage that started at t and would end at `end` (one lead)."""
        i = bisect.bisect_right(self.ends, end) - 1
        if i < 0:
            return end
        b = self.ends[i]
        if b <= t or end - b >= self.days[i] or v >= self.share[i]:
            return end
        lo = max(t, b - self.days[i])
        return lo + (v / self.share[i]) * (b - lo)

    def batch(self, t: np.ndarray, end: np.ndarray, won: np.ndarray, v: np.ndarray) -> np.ndarray:
        """`at` for arrays (won: the leads that advanced; the others keep `end`)."""
        ends, days, share = (np.asarray(x) for x in (self.ends, self.days, self.share))
        i = np.searchsorted(ends, end, side="right") - 1
        ok = i >= 0
        i = np.maximum(i, 0)
        b, dd, q = ends[i], days[i], share[i]
        pull = won & ok & (b > t) & (end - b < dd) & (v < q)
        if not pull.any():
            return end
        lo = np.maximum(t, b - dd)
        return np.where(
            pull, lo + np.divide(v, q, where=q > 0, out=np.zeros_like(v)) * (b - lo), end
        )

    def window(self, t: float) -> tuple[float, float, float]:
        """(end, days, share) of the last period end at or before t, (nan, 0, 0) if none: the pull a
        deal open at t may already have escaped (sim.open_pipeline)."""
        i = bisect.bisect_right(self.ends, t) - 1
        if i < 0:
            return float("nan"), 0.0, 0.0
        return self.ends[i], self.days[i], self.share[i]

    def next_end(self, t: float) -> float:
        """The first period end after t (inf if none)."""
        i = bisect.bisect_right(self.ends, t)
        return self.ends[i] if i < len(self.ends) else float("inf")


def period_ends(start: dt.date, total_days: float) -> tuple[list[float], list[bool]]:
    """Month ends from the month `start` falls in to past the run's end, as days from `start` (the
    first day of the next month; the one at or before day 0 included, for warm-started deals), and
    whether each ends a calendar quarter. When the run's own months (MONTH_DAYS long, sim.records)
    end earlier, their end is used, so a pulled close lands in its month both in the export's dates
    and in the run's monthly series."""
    ends, quarter = [], []
    y, m = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
    k = -1  # the run's month that this calendar month maps to, when start is the 1st
    while True:
        y2, m2 = (y + 1, 1) if m == 12 else (y, m + 1)
        b = float((dt.date(y2, m2, 1) - start).days)
        if start.day == 1:
            k += 1
            b = min(b, k * MONTH_DAYS)
        ends.append(b)
        quarter.append(m % 3 == 0)
        if b > total_days + 31:
            return ends, quarter
        y, m = y2, m2


def compile_pull(cfg, start: dt.date, total_days: float) -> ClosePull | None:
    """A stage's `close_pull` keys (sim.config.ClosePull) on the run's calendar; None when neutral."""
    if cfg is None or (cfg.quarter_share == 0 and cfg.month_share == 0):
        return None
    ends, quarter = period_ends(start, total_days)
    return ClosePull(
        tuple(ends),
        tuple(cfg.quarter_days if q else cfg.month_days for q in quarter),
        tuple(cfg.quarter_share if q else cfg.month_share for q in quarter),
    )
