"""Where journeys end: opportunities closed (won, lost or open at the end) and customers won, recorded
as CRM facts; and the installed base a run starts with."""

from __future__ import annotations

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
    """A new deal's value: seats x price for seat-priced motions, else the segment's ACV draw."""
    if cm.acv == "seats":
        return seats * w.price * 12.0
    return w.draws("acv", cm.name, seg)


def amounts(w: World, cm: CMotion, seg: np.ndarray, seats: np.ndarray) -> np.ndarray:
    """`amount` for a batch of new deals, in order (the same values as one call per deal)."""
    if cm.acv == "seats":
        return seats * w.price * 12.0
    return w.draws.many("acv", cm.name, seg)


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
        min(k, cm.n_stages - 1),
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
