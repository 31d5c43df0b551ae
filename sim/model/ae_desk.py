"""The AE desk: an AE block holds one pipeline slot from acceptance to close. Slots follow the AE team's
monthly capacity (headcount x ramp x max_open_opps); waiting for a slot erodes the first stage's win
probability (wait_decay_days). With `team.ae.deal_hours`, AE selling time is the capacity as well:
each AE stage books hours in the team's calendar (sim.model.ae_hours), slips and decays when AEs
are overloaded."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.agents.people import StaffPlan, productivity_multipliers
from sim.model.ae_hours import AeHours, walk_block_hours
from sim.model.customers import close
from sim.model.desk import Desk
from sim.model.journey import advance, walk_block
from sim.motions import OPEN, PASSED
from sim.records import MONTH_DAYS, spread_over_months

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


class AeDesk(Desk):
    """AE pipeline slots, the ramp-weighted round-robin of reps who own the deals and the reps'
    productivity. A deal in line is `lead`, with `lead.t` the time it reached the block."""

    def __init__(self, w: World) -> None:
        self.slots = np.rint(w.staff["ae"].fte * w.sc.team.ae.max_open_opps).astype(int)
        super().__init__(w.env, self.slots.tolist())
        self.w = w
        self._active, self._last_month = w.staff["ae"].active, w.n_months - 1
        # weighted round-robin (see `owner`): credit by rep, each month's (rep, weight) pairs
        self._ids, self._weights = _ramp_weights(w.staff["ae"])
        self._credit = [0.0] * len(self._ids)
        self._total = [sum(x for _, x in pairs) for pairs in self._weights]
        self._waits, self._waits_at = w.rec.waits["ae"], w.rec.waits["ae_at"]
        self._held_from: list[float] = []  # slots held, see `hold`
        self._held_to: list[float] = []
        # AE selling hours (None: not modelled, slots only)
        self.hours = AeHours(w) if w.sc.team.ae.deal_hours is not None else None
        # Rep differences: each rep's productivity multiplier m (lognormal, mean 1) scales the win
        # chance of the deals they own by m over the motion's AE stages, m ** (1 / n) at each of its
        # n AE stages (capped at 1). cv 0: no draw, every rep 1 (identical reps).
        plan, cv = w.staff["ae"], w.sc.team.ae.productivity_cv
        self.rep_mult: dict[str, float] = {}
        if cv > 0:
            m = productivity_multipliers(len(plan.reps), cv, w.streams("people/ae/productivity"))
            self.rep_mult = dict(zip(plan.reps, m.tolist(), strict=True))
        self._n_ae = [max(1, sum(1 for st in cm.stages if st.queue == "ae")) for cm in w.motions]
        if plan.rep_ramp is not None:  # who was employed when, with their ramped quota
            w.rec.rep_months(
                plan.reps,
                plan.rep_ramp,
                plan.rep_days,
                w.sc.team.ae.quota_year,
                np.array([self.rep_mult.get(r, 1.0) for r in plan.reps]),
            )

    def arrive(self, lead: Lead) -> None:
        self.request(lead)

    def start(self, lead: Lead) -> float:
        """An AE takes the deal: its stages in this block are walked now (the wait erodes the first
        stage's chance); returns when the slot frees up, at the block's outcome."""
        w = self.w
        now, end, book, cm = self.env._now, w.end, w.book, lead.cm
        wait = now - lead.t
        lead.owner = owner = self.owner()
        decay = book.decay[book.code(lead.pu, lead.seg, now) if lead.pu is not None else 0]
        b = cm.blocks[lead.block]
        f = self.rep_mult.get(owner, 1.0) ** (1.0 / self._n_ae[cm.index])  # per AE stage
        if self.hours is None:  # slots only: the block's share of m on its first stage
            if f != 1.0:
                f **= sum(1 for j in range(b.start, b.stop) if cm.stages[j].queue == "ae")
            status, k, t_end = walk_block(w, lead, b, now, math.exp(-wait / decay) * f)
        else:  # the days its stages waited for AE time count as waiting for an AE
            status, k, t_end, waited = walk_block_hours(
                w, lead, b, now, math.exp(-wait / decay), decay, f
            )
            wait += waited
        self._waits.append(wait)
        self._waits_at.append(now)
        if status == OPEN:  # keeps the slot to the end of the run ...
            # ... unless its stage has `stall_days`: a deal open at the end entered stage k at
            # t_end, and one that stalls stays open in the CRM while its AE stops working it, so
            # the slot frees stall_days into the stage (a deal that does not stall would close by
            # then, so freeing there never cuts a live deal short)
            stall = cm.stages[k].stall if k < cm.n_stages else None
            free = math.inf if stall is None else (t_end if t_end > now else now) + stall
            self.hold(now, end if end < free else free, lead)
            close(w, lead, OPEN, k, t_end)
            return free
        self.hold(now, end if end < t_end else t_end, lead)
        if status == PASSED:
            lead.block += 1
            advance(w, lead, t_end, k)
        else:
            close(w, lead, status, k, t_end)
        return t_end

    def owner(self) -> str:
        """The rep who takes the next deal: a smooth weighted round-robin over the reps employed
        this month, weighted by their ramp (a rep at 40 % gets 40 % of a ramped rep's deals, as they
        carry 40 % of the quota; ramped reps take turns). Each rep's credit grows by their weight at
        every deal; the rep with the most credit takes it and gives back the month's total weight."""
        m = int(self.env._now // MONTH_DAYS)
        if m > self._last_month:
            m = self._last_month
        reps = self._active[m]
        if not reps:
            return "AE-unassigned"
        credit, best, top = self._credit, 0, -math.inf
        for i, x in self._weights[m]:
            c = credit[i] = credit[i] + x
            if c > top:
                best, top = i, c
        credit[best] -= self._total[m]
        return self._ids[best]

    def hold(self, a: float, b: float, lead: Lead) -> None:
        """A slot held over days [a, b) for `lead`: logged, spread over months by `slot_days`, and
        to the records by motion and segment (cost attribution, when AE time is slots; with
        selling hours the hours each deal booked are attributed instead, see World.run)."""
        if self.hours is None:
            self.w.rec.work("ae", lead.cm.index, lead.seg, a, b)
        self._held_from.append(a)
        self._held_to.append(b)

    def slot_days(self) -> np.ndarray:
        """Slot-days held in each month of the run (`sim.records.spread_over_months`: each hold's
        first and last month get their part, the months between a whole month each)."""
        a, b = np.array(self._held_from, dtype=float), np.array(self._held_to, dtype=float)
        return spread_over_months(a, b, self.w.n_months, np.zeros(len(a), dtype=np.int64), 1)[0]


def _ramp_weights(plan: StaffPlan) -> tuple[list[str], list[list[tuple[int, float]]]]:
    """Rep ids, and each month's employed reps as (index into the ids, ramp productivity): the
    assignment weights, in `active` order; 1 each when the plan has no per-rep ramp."""
    ids = list(plan.reps) or sorted({r for reps in plan.active for r in reps})
    row = {r: i for i, r in enumerate(ids)}
    ramp = plan.rep_ramp
    return ids, [
        [(row[r], 1.0 if ramp is None else max(float(ramp[row[r], m]), 1e-9)) for r in reps]
        for m, reps in enumerate(plan.active)
    ]
