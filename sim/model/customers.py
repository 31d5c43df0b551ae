"""Where journeys end: opportunities closed (won, lost or open at the end) and customers won, recorded
as CRM facts; and the installed base a run starts with."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.motions import OPEN, PASSED, CMotion
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


def installed_base(w: World) -> None:
    """Customers the run starts with, their contracts started uniformly over one term before day 0."""
    rng = w.streams("installed_base")
    base = len(w.motions)  # customer motion code for the installed base
    for i, s in enumerate(w.sc.segments.values()):
        n = s.initial_customers
        if not n:
            continue
        term = s.contract_months * MONTH_DAYS
        starts = np.sort(-rng.random(n) * term)
        seg = np.full(n, i)
        acv = w.draws.many("acv", "installed_base", seg)  # the pool's values, in customer order
        w.rec.customers(seg, base, starts, acv, np.full(n, term))


def amount(w: World, cm: CMotion, seg: int, seats: float) -> float:
    """A new deal's list value drawn when it closes (deals made before deal sizes were drawn at
    creation): seats x price for seat-priced motions, else the segment's ACV draw."""
    if cm.acv == "seats":
        return seats * w.price * 12.0
    return w.draws("acv", cm.name, seg)


class DealSize:
    """A new deal's size and price, fixed when its lead is born (docs/model.md#deal-size-and-price).

    Its list ACV is seats x price x 12 for seat-priced motions, else a draw from the segment's `acv`
    out of the pool `acv/<motion>/<source>/<segment>` (its own stream: common random numbers). It is
    sold at list x (1 - pricing.discount), the `amount` it is recorded and closes at. At every AE
    stage its odds are multiplied by (list / acv_ref)^size_elasticity.win x (1 - discount)^-e (e =
    pricing.discount_win_elasticity) and its duration by (list / acv_ref)^size_elasticity.days.
    acv_ref defaults to the segment's median deal, acv.mean / sqrt(1 + acv.cv^2) (exact for a
    lognormal), so the typical deal converts at the graph's p and takes its days."""

    def __init__(self, w: World) -> None:
        segs = list(w.sc.segments.values())
        pr = w.sc.pricing
        self.w = w
        self.keep = 1.0 - pr.discount
        disc = self.keep**-pr.discount_win_elasticity if pr.discount else 1.0
        self.ref = np.array([s.acv_ref or s.acv.mean / math.sqrt(1 + s.acv.cv**2) for s in segs])
        self.e_win = np.array([s.size_elasticity.win for s in segs])
        self.e_days = np.array([s.size_elasticity.days for s in segs])
        self.disc_odds = disc
        # neutral: no factor at all, so the walks see exactly the size-blind floats
        self.neutral = disc == 1.0 and not self.e_win.any() and not self.e_days.any()

    def list_acv(self, cm: CMotion, source: str, seg: np.ndarray, seats: np.ndarray) -> np.ndarray:
        if cm.acv == "seats":
            return seats * self.w.price * 12.0
        return self.w.draws.many("acv", f"{cm.name}/{source}", seg)

    def batch(self, cm: CMotion, source: str, seg: np.ndarray, seats: np.ndarray):
        """(amount, AE odds multiplier, AE duration multiplier) for a batch of new deals; the
        multipliers are None when size and price are neutral."""
        acv = self.list_acv(cm, source, seg, seats)
        if self.neutral:
            return acv * self.keep, None, None
        x = acv / self.ref[seg]
        return acv * self.keep, x ** self.e_win[seg] * self.disc_odds, x ** self.e_days[seg]

    def one(self, cm: CMotion, source: str, seg: int, seats: float) -> tuple[float, float, float]:
        """`batch` for one deal born on its own (outbound meetings): (amount, odds x, days x)."""
        if cm.acv == "seats":
            acv = seats * self.w.price * 12.0
        else:
            acv = self.w.draws("acv", f"{cm.name}/{source}", seg)
        if self.neutral:
            return acv * self.keep, 1.0, 1.0
        x = acv / float(self.ref[seg])
        return (
            acv * self.keep,
            x ** float(self.e_win[seg]) * self.disc_odds,
            x ** float(self.e_days[seg]),
        )


def ae_odds(odds: float | None, mult: float) -> float | None:
    """The odds a lead's AE stages use: its fit odds times its size-and-price multiplier (None when
    both are neutral, so the stage rule sees the size-blind floats)."""
    if mult == 1.0:
        return odds
    return mult if odds is None else odds * mult


def close(w: World, lead: Lead, status: int, k: int, t: float) -> None:
    """Record how a lead's journey ended: open leads by stage, and its opportunity if any."""
    cm = lead.cm
    if status == OPEN:
        w.rec.open_at_end[cm.index, k] += 1
    opp_t = lead.opp_t
    if opp_t != opp_t or opp_t >= w.end:  # never became an opportunity
        return
    if status == OPEN or t >= w.end:
        outcome, closed = 2, float("nan")
    else:
        outcome, closed = (1 if status == PASSED else 0), t
    value = lead.amount if lead.amount is not None else amount(w, cm, lead.seg, lead.seats)
    customer = -1
    if outcome == 1:
        customer = w.rec.customer(lead.seg, cm.index, t, value, w.terms[lead.seg])
    w.rec.opportunity(
        "new",
        cm.index,
        lead.seg,
        lead.source,
        lead.owner or "self-serve",
        lead.lead_t,
        opp_t,
        closed,
        k if k < len(cm.stages) else len(cm.stages) - 1,
        outcome,
        value,
        customer,
    )


def close_batch(
    w: World, cm: CMotion, source: str, seg, lead_t, created, status, t_out, stage, amounts
) -> None:
    """Record the opportunities of a batch of leads whose journeys ended in a numpy walk (`status`,
    `t_out` as the walk left them): a customer for each win, in batch order."""
    outcome = np.where(status == PASSED, 1, np.where(status == OPEN, 2, 0))
    closed = np.where(status == OPEN, np.nan, t_out)
    customer = np.full(len(status), -1)
    won = np.flatnonzero(status == PASSED)
    if len(won):
        customer[won] = w.rec.customers(
            seg[won], cm.index, t_out[won], amounts[won], np.asarray(w.terms)[seg[won]]
        )
    w.rec.opportunities(
        "new", cm.index, seg, source, "self-serve", lead_t, created, closed, stage, outcome,
        amounts, customer,
    )  # fmt: skip
