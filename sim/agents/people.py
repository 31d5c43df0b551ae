"""People over time for one role: hiring plan, ramp, attrition with a tenure distribution, backfill, cost.

All of it is decided before the replication starts (nobody's career depends on the pipeline), so it is
plain array work: the engine only reads the monthly headcount and productivity it produces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.config import Role
from sim.distributions import sample
from sim.records import MONTH_DAYS


@dataclass(frozen=True)
class StaffPlan:
    role: str
    headcount: np.ndarray  # reps employed at each month's midpoint
    fte: np.ndarray  # sum of ramp productivity at each month's midpoint
    cost: np.ndarray  # fully loaded cost paid in each month (pro rata)
    active: tuple[tuple[str, ...], ...]  # ids of reps employed at each month's midpoint
    # per rep (rows in `reps` order) and month: ramp productivity at the month's midpoint, and days
    # employed in the month (what a rep's ramped, pro-rata quota is made of)
    reps: tuple[str, ...] = ()
    rep_ramp: np.ndarray | None = None
    rep_days: np.ndarray | None = None

    @property
    def productivity(self) -> np.ndarray:
        """Average share of full productivity per head (1 where nobody is employed)."""
        return np.divide(
            self.fte, self.headcount, out=np.ones_like(self.fte), where=self.headcount > 0
        )


def plan_staff(
    name: str, role: Role, n_months: int, end_day: float, rng: np.random.Generator
) -> StaffPlan:
    """Draw every rep's start and end day, then read off monthly headcount, productivity and cost."""
    tenures = iter(
        sample(role.tenure_months, rng, 4 * (role.count + sum(role.hires)) + 64) * MONTH_DAYS
    )
    pending: list[float] = [-10 * 365.0] * role.count  # initial reps: long since ramped
    pending += [m * MONTH_DAYS for m, h in enumerate(role.hires[:n_months]) for _ in range(h)]
    starts: list[float] = []
    ends: list[float] = []
    while pending:
        s = pending.pop(0)
        try:
            ten = next(tenures)
        except StopIteration:  # more backfills than foreseen: draw another batch
            tenures = iter(sample(role.tenure_months, rng, 256) * MONTH_DAYS)
            ten = next(tenures)
        e = (0.0 if s < 0 else s) + ten
        starts.append(s)
        ends.append(e)
        if role.backfill and e < end_day:
            pending.append(e + role.hiring_lag_days)
    s_arr, e_arr = np.array(starts), np.array(ends)
    mid = (np.arange(n_months) + 0.5) * MONTH_DAYS
    on = (s_arr[:, None] <= mid[None, :]) & (mid[None, :] < e_arr[:, None])
    tenure_m = np.floor((mid[None, :] - s_arr[:, None]) / MONTH_DAYS).astype(int)
    ramp = np.asarray(role.ramp + [1.0], dtype=float)
    prod = ramp[np.clip(tenure_m, 0, len(ramp) - 1)]
    lo = np.arange(n_months) * MONTH_DAYS
    overlap = np.clip(
        np.minimum(e_arr[:, None], lo[None, :] + MONTH_DAYS)
        - np.maximum(s_arr[:, None], lo[None, :]),
        0.0,
        MONTH_DAYS,
    )
    ids = [f"{name.upper()}-{i + 1:03d}" for i in range(len(starts))]
    active = tuple(tuple(ids[i] for i in np.flatnonzero(on[:, m])) for m in range(n_months))
    return StaffPlan(
        role=name,
        headcount=on.sum(axis=0),
        fte=(prod * on).sum(axis=0),
        cost=overlap.sum(axis=0) / MONTH_DAYS * role.cost_month,
        active=active,
        reps=tuple(ids),
        rep_ramp=prod,
        rep_days=overlap,
    )


def productivity_multipliers(n: int, cv: float, rng: np.random.Generator) -> np.ndarray:
    """One productivity multiplier per rep, lognormal with mean 1 and coefficient of variation
    `cv` (1.0 exactly for every rep when cv = 0). Drawn as exp(mu + sigma z) from standard normals
    z, so the same seed gives the same z whatever cv is: a rep's rank never depends on the spread."""
    z = rng.standard_normal(n)
    sigma2 = math.log1p(cv * cv)
    return np.exp(-sigma2 / 2.0 + math.sqrt(sigma2) * z)
