"""The SDR desk: inbound leads queue for an SDR; the wait is the speed to lead, and contact probability
decays with it. SDRs make attempts until first contact (or give up); their spare time goes to outbound
prospecting (sim.model.outbound), during which they look at the inbound queue only between blocks."""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

from sim.model.capacity import monthly_pool
from sim.model.customers import close
from sim.motions import DROPPED, OPEN, PASSED, Block, stage_step
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


class SdrDesk:
    """SDR seats (a monthly capacity schedule) and the rules of working one inbound lead."""

    def __init__(self, w: World) -> None:
        self.w = w
        team = w.sc.team
        self.res = monthly_pool(w.env, w.staff["sdr"].headcount.tolist(), w.n_months)
        self.prod = w.staff["sdr"].productivity.tolist()
        self.busy = 0  # SDRs working an inbound lead right now
        self.check = 0.0  # inbound check interval while SDRs prospect (0: no prospecting)
        sdr = team.sdr
        self._stl_h = list(sdr.speed_to_lead_hours)
        self._stl_m = list(sdr.speed_to_lead_multiplier)
        self._attempts = sdr.max_attempts
        self._spacing = sdr.attempt_spacing_days

    def serve(self, lead: Lead, b: Block, t: float):
        """Work `lead` at the SDR stage of block `b`, reached at time t (a simpy sub-process).
        Returns (status, stage, time) for the journey to go on, or None when the lead's journey
        ended here (recorded)."""
        w, env, end = self.w, self.w.env, self.w.end
        cm, seg, book = lead.cm, lead.seg, w.book
        t_in = t
        c = book.code(lead.pu, seg, t)  # the plays the lead works under
        if self.check:  # SDRs are prospecting: the lead is seen at the next check
            g = math.ceil(t / self.check) * self.check
            if book.sla_days[c] != math.inf:  # checks on the SLA
                every = book.sla_days[c]
                g = math.ceil(t / every) * every if every > 0 else t
            if g >= end:
                close(w, lead, OPEN, b.start, end)
                return None
            if g > env.now:
                yield env.timeout(g - env.now)
        prio = 0.0
        if book.has_fit:  # lead scoring: best fit first
            prio = 1.0 - lead.fit if book.by_fit[c] else 0.5
        req = self.res.request(priority=prio)
        w.waiting[req] = (lead, b.start)
        yield req
        del w.waiting[req]
        self.busy += 1
        rec = w.rec
        wait = env.now - t
        rec.waits["sdr"].append(wait)
        rec.waits["sdr_at"].append(env.now)  # waits count when service starts
        rec.waits["sdr_fit"].append(lead.fit)
        m = min(int(env.now // MONTH_DAYS), w.n_months - 1)
        contacted, attempts = self.attempt(book.contact[c] * self.stl(wait * 24.0), lead.sdr_u)
        work = attempts * lead.sdr_w / self.prod[m]
        rec.sdr_busy[m] += work
        if env.now + work >= end:  # still being worked when the run ends
            close(w, lead, OPEN, b.start, end)
            yield env.timeout(work)  # holds the SDR to the end; never resumes
            return None
        yield env.timeout(work)
        self.res.release(req)
        self.busy -= 1
        # the stage lasts from queueing to the end of its own duration after contact;
        # it advances if the lead was contacted and then qualifies (the stage's rule)
        j = b.start
        cmi = cm.index
        ok, dk = stage_step(
            cm.stages[j],
            book.p_list[cmi][c][j][seg],
            lead.u[j],
            lead.d[j],
            w.scale_l[seg],
            book.d_list[cmi][c][j],
        )
        t = env.now + (attempts - 1) * self._spacing + dk
        if t >= end:
            return OPEN, j, t
        ok = contacted and ok
        rec.one(cmi, j, t, ok, t - t_in)
        if not ok:
            return DROPPED, j, t
        if t > env.now:
            yield env.timeout(t - env.now)
        return PASSED, j + 1, t

    def stl(self, hours: float) -> float:
        """Speed-to-lead multiplier on contact probability: piecewise linear in hours waited."""
        h, m = self._stl_h, self._stl_m
        if hours <= h[0]:
            return m[0]
        i = bisect.bisect_right(h, hours)
        if i >= len(h):
            return m[-1]
        return m[i - 1] + (m[i] - m[i - 1]) * (hours - h[i - 1]) / (h[i] - h[i - 1])

    def attempt(self, q: float, u: float) -> tuple[bool, int]:
        """Attempts until first contact (geometric with success q), capped at max_attempts."""
        K = self._attempts
        if q <= 0.0:
            return False, K
        if q >= 1.0:
            return True, 1
        if u >= 1.0 - (1.0 - q) ** K:
            return False, K
        return True, max(1, math.ceil(math.log1p(-u) / math.log1p(-q)))
