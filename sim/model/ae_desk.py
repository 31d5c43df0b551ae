"""The AE desk: an AE block holds one pipeline slot from acceptance to close. Slots follow the AE team's
monthly capacity (headcount x ramp x max_open_opps); waiting for a slot erodes the first stage's win
probability (wait_decay_days)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.model.capacity import monthly_pool
from sim.model.customers import close
from sim.motions import OPEN, Block, walk_one
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World

NEVER = float("inf")


class AeDesk:
    """AE pipeline slots and the round-robin of reps who own the deals."""

    def __init__(self, w: World) -> None:
        self.w = w
        ae = w.staff["ae"]
        self.slots = np.rint(ae.fte * w.sc.team.ae.max_open_opps).astype(int)
        self.res = monthly_pool(w.env, self.slots.tolist(), w.n_months)
        self._turn = 0

    def serve(self, lead: Lead, b: Block, t: float):
        """Work `lead` through AE block `b`, reached at time t (a simpy sub-process). Returns
        (status, stage, time), or None when the journey ended here (recorded)."""
        w, env, end = self.w, self.w.env, self.w.end
        cm, book = lead.cm, w.book
        if b.start <= cm.opp_stage < b.stop and lead.opp_t != lead.opp_t:
            lead.opp_t = t
        req = self.res.request(priority=0)
        w.waiting[req] = (lead, b.start)
        yield req
        del w.waiting[req]
        wait = env.now - t
        w.rec.waits["ae"].append(wait)
        w.rec.waits["ae_at"].append(env.now)
        lead.owner = self.owner()
        decay = book.decay[book.code(lead.pu, lead.seg, env.now)]
        status, k, t_end, ot = walk_one(
            cm,
            max(b.start, lead.first),
            b.stop,
            lead.seg,
            lead.seats,
            env.now,
            lead.u,
            lead.d,
            w.scale_l[lead.seg],
            end,
            math.exp(-wait / decay),
            w.rec,
            book,
            lead.pu,
        )
        if lead.opp_t != lead.opp_t:
            lead.opp_t = ot
        self.hold(env.now, end if status == OPEN else min(t_end, end))
        if status == OPEN:
            close(w, lead, OPEN, k, t_end)
            yield env.timeout(NEVER)  # keeps the slot to the end of the run
        if t_end > env.now:
            yield env.timeout(t_end - env.now)
        self.res.release(req)
        return status, k, t_end

    def owner(self) -> str:
        """The rep who takes the next deal: round-robin over the reps employed this month."""
        w = self.w
        m = min(int(w.env.now // MONTH_DAYS), w.n_months - 1)
        reps = w.staff["ae"].active[m]
        if not reps:
            return "AE-unassigned"
        self._turn += 1
        return reps[self._turn % len(reps)]

    def hold(self, a: float, b: float) -> None:
        """Spread slot-days [a, b) over months."""
        arr, n = self.w.rec.ae_slot_days, self.w.n_months
        while a < b:
            m = int(a // MONTH_DAYS)
            if m >= n:
                break
            e = min(b, (m + 1) * MONTH_DAYS)
            arr[m] += e - a
            a = e
