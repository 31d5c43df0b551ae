"""The SDR desk: inbound leads queue for an SDR; the wait is the speed to lead, and contact probability
decays with it. SDRs make attempts until first contact (or give up); their spare time goes to outbound
prospecting (sim.model.outbound), during which they look at the inbound queue only between blocks."""

from __future__ import annotations

import bisect
import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from sim.model.customers import close
from sim.model.desk import Call, Desk
from sim.model.journey import advance
from sim.motions import DROPPED, OPEN, stage_step
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


class SdrDesk(Desk):
    """SDR seats (a monthly capacity schedule) and the rules of working one inbound lead. A lead in
    line or at work is `lead`, with `lead.t` the time it reached the stage."""

    def __init__(self, w: World) -> None:
        super().__init__(w.env, w.staff["sdr"].headcount.tolist())
        self.w = w
        self.prod = w.staff["sdr"].productivity.tolist()
        self.check = 0.0  # inbound check interval while SDRs prospect (0: no prospecting)
        sdr = w.sc.team.sdr
        self._stl_h = list(sdr.speed_to_lead_hours)
        self._stl_m = list(sdr.speed_to_lead_multiplier)
        self._attempts = list(sdr.by_segment("max_attempts", w.segs))  # by segment
        self._spacing = sdr.attempt_spacing_days
        waits = w.rec.waits
        self._waits, self._waits_at, self._waits_fit = (
            waits["sdr"],
            waits["sdr_at"],
            waits["sdr_fit"],
        )
        self._last_month = w.n_months - 1
        self.busy_days = [0.0] * w.n_months  # SDR-days on inbound leads by month (to the records)
        # what `start` reads for every lead, looked up once
        self._book, self._end, self._scale = w.book, w.end, w.scale_l
        self._rec_one, self._rec_work = w.rec.one, w.rec.work
        self._n_stl = len(self._stl_h)

    def seen_at(self, lead: Lead, t: float) -> float:
        """When a lead that reaches the SDR stage at t is first looked at: at once, or, while SDRs
        prospect, at their next inbound check (the SLA's check for a lead under an SLA play)."""
        if not self.check:
            return t
        book = self.w.book
        pu = lead.pu  # without per-lead plays, code 0
        every = book.sla_days[book.code(pu, lead.seg, t) if pu is not None else 0]
        if every == math.inf:
            every = self.check
        return math.ceil(t / every) * every if every > 0 else t

    def seen_at_many(self, pu: np.ndarray | None, seg: np.ndarray, t: np.ndarray) -> np.ndarray:
        """`seen_at` for a batch of leads (adoption uniforms `pu` or None), the same values."""
        if not self.check:
            return t
        if pu is None:  # no per-lead plays: no SLA, the next inbound check
            return np.ceil(t / self.check) * self.check
        book = self.w.book
        sla = np.asarray(book.sla_days)[book.codes(pu, seg, t)]
        every = np.where(np.isfinite(sla), sla, self.check)
        return np.where(every > 0, np.ceil(t / np.where(every > 0, every, 1.0)) * every, t)

    def enter(self, lead: Lead, at: float) -> None:
        """A new inbound lead, at an SDR block of its motion that has no seat guard, woken at `at`,
        the time it is first looked at (`seen_at`, computed for its batch by `seen_at_many`): what
        `journey.advance` and `request` do for it, in one call. Not under lead scoring (`arrive`)."""
        cm = lead.cm
        t = lead.t
        lead.k = len(cm.stages)  # as `advance` leaves it: no walk yet
        if cm.blocks[lead.block].start == cm.opp_stage and lead.opp_t != lead.opp_t:
            lead.opp_t = t
        if at >= self._end:  # nobody looks at it before the end
            close(self.w, lead, OPEN, cm.blocks[lead.block].start, self._end)
            return
        env = self.env
        now, free_at = env._now, self.free_at
        if at > now:
            Call(env, at - now, self.request, lead)
            return
        while free_at and free_at[0] <= now:  # `request`, inlined
            heapq.heappop(free_at)
        if not self.line and len(free_at) < self.seats:
            heapq.heappush(free_at, self.start(lead))
            return
        self._n += 1
        heapq.heappush(self.line, (0.0, self._n, lead))
        self._call_back()

    def arrive(self, lead: Lead) -> None:
        """The lead is seen now (it reached the stage at `lead.t`): it takes an SDR or waits; under
        lead scoring, best fit first, and a lead scored below the play's `drop_below` is dropped
        at once, unworked."""
        book = self.w.book
        prio = 0.0
        if book.has_fit:  # lead scoring: best fit first
            c = book.code(lead.pu, lead.seg, lead.t)
            if lead.fit < book.drop_below[c]:
                self.skip(lead)
                return
            prio = 1.0 - lead.fit if book.by_fit[c] else 0.5
        self.request(lead, prio)

    def skip(self, lead: Lead) -> None:
        """Lead scoring drops the lead: a drop at the SDR stage, now, costing no SDR time."""
        w, now = self.w, self.env.now
        j = lead.cm.blocks[lead.block].start
        w.rec.one(lead.cm.index, j, now, False, now - lead.t)
        close(w, lead, DROPPED, j, now)

    def start(self, lead: Lead) -> float:
        """An SDR starts on the lead: the wait sets the contact chance, the attempts the work, and
        the stage's outcome is decided; returns when the SDR is free again. The stage lasts from
        queueing to the end of its own duration after contact, and advances if the lead was
        contacted and then qualifies (the stage's rule)."""
        now, book, cm, seg, reached = self.env._now, self._book, lead.cm, lead.seg, lead.t
        c = book.code(lead.pu, seg, reached) if lead.pu is not None else 0  # plays it works under
        wait = now - reached
        self._waits.append(wait)
        self._waits_at.append(now)  # waits count when service starts
        self._waits_fit.append(lead.fit)
        m = int(now // MONTH_DAYS)
        if m > self._last_month:
            m = self._last_month
        # speed to lead: the contact chance's multiplier is piecewise linear in the hours waited
        hours, h, sm = wait * 24.0, self._stl_h, self._stl_m
        if hours <= h[0]:
            f = sm[0]
        else:
            i = bisect.bisect_right(h, hours)
            if i >= self._n_stl:
                f = sm[-1]
            else:
                f = sm[i - 1] + (sm[i] - sm[i - 1]) * (hours - h[i - 1]) / (h[i] - h[i - 1])
        q = book.contact[c][seg] * f
        # attempts until first contact: geometric with success q, capped at max_attempts (the
        # lead's uniform decides both; written out here rather than in helpers, two calls a lead)
        n_max = self._attempts[seg]
        if q <= 0.0:
            contacted, attempts = False, n_max
        elif q >= 1.0:
            contacted, attempts = True, 1
        elif lead.sdr_u >= 1.0 - (1.0 - q) ** n_max:
            contacted, attempts = False, n_max
        else:
            attempts = math.ceil(math.log1p(-lead.sdr_u) / math.log1p(-q))
            contacted, attempts = True, attempts if attempts > 1 else 1
        work = attempts * lead.sdr_w / self.prod[m]
        self.busy_days[m] += work
        free = now + work
        mi = cm.index
        self._rec_work("sdr", mi, seg, now, free)  # for cost attribution
        j = cm.blocks[lead.block].start
        end = self._end
        if free >= end:  # still being worked when the run ends: holds the SDR to the end
            close(self.w, lead, OPEN, j, end)
            return math.inf
        ok, dk = stage_step(
            cm.stages[j],
            book.p_list[mi][c][j][seg],
            lead.u[j],
            lead.d[j],
            self._scale[seg],
            book.d_list[mi][c][j],
            lead.odds,
        )
        t = free + (attempts - 1) * self._spacing + dk
        if t >= end:
            close(self.w, lead, OPEN, j, t)
        else:
            ok = contacted and ok
            self._rec_one(mi, j, t, ok, t - reached)
            if ok:
                lead.block += 1
                advance(self.w, lead, t, lead.k)
            else:
                close(self.w, lead, DROPPED, j, t)
        return free
