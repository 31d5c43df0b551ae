"""AE selling time as capacity: a calendar of the AE team's selling hours, day by day, booked by deals.

Each day the team has `fte x team.ae.selling_hours_week / 7` selling hours (ramp scales them through
the fte). A deal's AE stage needs `deal_hours / (AE stages of its motion)` hours; they are booked
first come first served from the day the stage starts, into the first days with hours left (a
union-find over full days finds them, so an overloaded team costs no scan). The stage lasts its own
(buyer-side) duration or until its AE work is done, whichever is later: it slips when AEs are
overloaded, and the days it waited before an AE got to it erode its win chance as any wait for an AE
does (`exp(-wait / wait_decay_days)`). Hours booked never exceed the hours of a day, so hours worked
never exceed hours available, per day and so per month. Resolution: a day (the hours of the day a
stage starts in are all open to it).

No event and no object per deal: booking is arithmetic on two lists when a deal reaches its stage.
Hours left over at the end of a day are prospecting time when AEs source their own pipeline
(`team.ae.self_sourced_meetings_hour`, `prospecting`), else idle.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from sim.model.customers import ae_odds
from sim.model.desk import Call
from sim.model.journey import advance
from sim.model.lead import Lead
from sim.motions import Block, draw_stages, walk_one
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.world import World


class AeHours:
    """The AE team's selling hours by day, the hours booked, and the hours each motion and segment
    took by month (`spent[motion][segment][month]`, summed over the deals)."""

    def __init__(self, w: World) -> None:
        ae = w.sc.team.ae
        self.w = w
        self.n = n = max(1, math.ceil(w.end))
        day = np.arange(n)
        self.month_of_day = np.minimum(day // MONTH_DAYS, w.n_months - 1).astype(np.int64)
        fte = np.asarray(w.staff["ae"].fte, dtype=float)
        self.cap: list[float] = (fte[self.month_of_day] * ae.selling_hours_week / 7.0).tolist()
        self.used: list[float] = [0.0] * n
        # next day at or after d with hours left (union-find with path halving); n: none
        self._nxt: list[int] = [d if self.cap[d] > 1e-9 else d + 1 for d in range(n)] + [n]
        hours = ae.deal_hours or {}
        self.stage_hours: list[list[float]] = []  # by motion, by segment: hours per AE stage
        for cm in w.motions:
            n_ae = sum(1 for st in cm.stages if st.queue == "ae")
            self.stage_hours.append([hours.get(seg, 0.0) / n_ae if n_ae else 0.0 for seg in w.segs])
        self.spent = [[[0.0] * w.n_months for _ in w.segs] for _ in w.motions]
        self._last_month = w.n_months - 1
        self.prospecting_hours = np.zeros(w.n_months)

    def _find(self, d: int) -> int:
        nxt = self._nxt
        while nxt[d] != d:
            nxt[d] = nxt[nxt[d]]
            d = nxt[d]
        return d

    def spend(self, h: float, spent: list[float], t: float) -> tuple[float, float]:
        """The AE work of a stage that needs `h` hours (`stage_hours` of the deal's motion and
        segment) and starts at time t: book them in the first days with hours left, and add them to
        `spent` (that motion's and segment's row of `spent`, by month). Returns (when an AE starts
        on it, when the work is done); inf when the run ends first. The one place AE time is
        consumed (cost attribution hooks in here)."""
        if h <= 0.0:
            return t, t
        cap, used, n = self.cap, self.used, self.n
        # (conditional expressions rather than min/max: this runs for every AE stage; `y if y > x
        # else x` is max(x, y) to the bit, NaN included)
        d = int(t)
        d = self._find(d if d < n else n)
        if d >= n:
            return math.inf, math.inf
        x = d + used[d] / cap[d]
        begin = x if x > t else t
        left = h
        while True:
            free = cap[d] - used[d]
            if left <= free:
                used[d] += left
                left = 0.0
                x = d + used[d] / cap[d]
                done = x if x > t else t
                break
            used[d] = cap[d]
            left -= free
            self._nxt[d] = d + 1
            d = self._find(d + 1)
            if d >= n:
                done = math.inf
                break
        m = int(t // MONTH_DAYS)
        spent[m if m < self._last_month else self._last_month] += h - left
        return begin, done

    def close(self, d: int) -> None:
        """Day d is over: its hours left went to prospecting, none may be booked any more."""
        self._nxt[d] = d + 1

    def monthly(self) -> tuple[np.ndarray, np.ndarray]:
        """(selling hours available, hours booked by deals) by month."""
        m, n_m = self.month_of_day, self.w.n_months
        return (
            np.bincount(m, weights=self.cap, minlength=n_m),
            np.bincount(m, weights=self.used, minlength=n_m),
        )


def walk_block_hours(
    w: World, lead: Lead, b: Block, t: float, mult: float, decay: float, rep: float = 1.0
) -> tuple[int, int, float, float]:
    """`sim.model.journey.walk_block` with AE time (`sim.motions.walk_one` with `spend`): each stage
    books its AE hours (`AeHours.spend`), lasts until its work is done if that is later than its own
    duration, and its chance is eroded by the days it waited for an AE; `rep` (the owner's
    productivity per AE stage, sim.model.ae_desk) scales each AE stage's chance, capped at 1.
    Returns (status, stage, time, days waited)."""
    cm, seg = lead.cm, lead.seg
    hours = w.ae.hours
    h, spent = hours.stage_hours[cm.index][seg], hours.spent[cm.index][seg]
    status, k, t, ot, waited = walk_one(
        cm,
        lead.first if lead.first > b.start else b.start,
        b.stop,
        seg,
        lead.seats,
        t,
        lead.u,
        lead.d,
        w.scale_l[seg],
        w.end,
        mult,
        w.rec,
        w.book,
        lead.pu,
        ae_odds(lead.odds, lead.size_odds),  # fit x deal size and price
        lead.size_days,
        partial(hours.spend, h, spent),  # spend(t): a C-level wrapper, no Python frame per stage
        decay,
        rep,
    )
    if lead.opp_t != lead.opp_t:
        lead.opp_t = ot
    return status, k, t, waited


def prospecting(w: World) -> None:
    """AE-sourced pipeline: at the end of each day, the AE hours nobody booked went to prospecting;
    they book meetings (Poisson, `team.ae.self_sourced_meetings_hour` per hour by segment, the hours
    split by the outbound motions' mix weights) that start the outbound motion at its first AE stage
    during the next day, with source "ae_outbound". One event per day, one per meeting."""
    rates = w.sc.team.ae.self_sourced_meetings_hour or {}
    out = [cm for cm in w.motions if cm.entry == "outbound"]
    pairs = []  # (motion, its first AE block, segment, mix weight)
    for cm in out:
        first = next((i for i, b in enumerate(cm.blocks) if b.kind == "ae"), None)
        if first is None:
            continue
        for s, seg in enumerate(w.segs):
            wt = w.sc.acquisition_weight(seg, cm.name)
            if wt > 0 and rates.get(seg, 0.0) > 0:
                pairs.append((cm, first, s, wt))
    if not pairs:
        return
    tot = sum(p[3] for p in pairs)
    # meetings per leftover hour from each pair: its share of the hours x its segment's rate
    rates_h = [rates[w.segs[s]] * wt / tot for _, _, s, wt in pairs]
    rng = w.streams("ae_outbound/meetings")
    rows = {
        cm.index: _Rows(cm, w.streams) for cm, *_ in pairs
    }  # stage draws of AE-sourced deals, their own streams
    Call(w.env, 1.0, _day_end, w, 0, pairs, rates_h, rng, rows)


class _Rows:
    """Pre-drawn stage uniforms and durations of AE-sourced deals (source "ae_outbound")."""

    def __init__(self, cm, streams, chunk: int = 128) -> None:
        self.cm, self.streams, self.chunk = cm, streams, chunk
        self.rows: list = []
        self.i = 0

    def next(self) -> tuple[list[float], list[float]]:
        if self.i == len(self.rows):
            u, d = draw_stages(self.cm, self.streams, self.chunk, source="ae_outbound")
            self.rows, self.i = list(zip(u.tolist(), d.tolist(), strict=True)), 0
        self.i += 1
        return self.rows[self.i - 1]


def _day_end(w: World, d: int, pairs, rates_h, rng, rows) -> None:
    hours = w.ae.hours
    left = max(0.0, hours.cap[d] - hours.used[d])
    hours.close(d)  # spent prospecting: no deal may book it any more
    hours.prospecting_hours[hours.month_of_day[d]] += left
    now = w.env.now
    if left > 0:
        n = rng.poisson(np.asarray(rates_h) * left)
        for j in np.flatnonzero(n).tolist():
            cm, first, s, _ = pairs[j]
            for at in (now + rng.random(int(n[j]))).tolist():
                if at >= w.end:
                    continue
                w.rec.lead_one(cm.index, "ae_outbound", s, at)
                u, dd = rows[cm.index].next()
                seats = max(1.0, round(w.draws("seats", cm.name, s)))
                value, so, sd = w.deal_size.one(cm, "ae_outbound", s, seats)
                lead = Lead(
                    cm,
                    "ae_outbound",
                    s,
                    seats,
                    u,
                    dd,
                    at,
                    t=at,
                    block=first,
                    amount=value,
                    size_odds=so,
                    size_days=sd,
                )
                Call(w.env, at - now, advance, w, lead, at)
    if d + 1 < hours.n and now + 1.0 < w.end:
        Call(w.env, 1.0, _day_end, w, d + 1, pairs, rates_h, rng, rows)
