"""Outbound prospecting: SDR time not spent on inbound leads books meetings with target accounts, which
start the outbound motions. A thinned Poisson process in prospecting time (one event per candidate),
not a simpy process per SDR."""

from __future__ import annotations

import bisect
import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from sim.model.desk import Call
from sim.model.draws import Pool, RowPool
from sim.model.journey import advance
from sim.model.lead import Lead
from sim.model.sources import draw_fit, mix_path
from sim.records import MONTH_DAYS

NAN = float("nan")

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.world import World


def _target(w: World, s: int, motion: str) -> float:
    """Outbound effort on segment s for an outbound motion: mix weight x team.sdr.target_mix."""
    tm = w.sc.team.sdr.target_mix
    seg = w.segs[s]
    return w.sc.acquisition_weight(seg, motion) * (1.0 if tm is None else tm.get(seg, 0.0))


def _target_path(w: World, s: int, motion: str) -> np.ndarray:
    """`_target` month by month, when plays move the mix."""
    tm = w.sc.team.sdr.target_mix
    seg = w.segs[s]
    return mix_path(w, seg, motion) * (1.0 if tm is None else tm.get(seg, 0.0))


def start(w: World) -> None:
    """Spare SDR time goes to outbound prospecting when an outbound motion is in the mix. Sets the
    SDR desk's inbound check interval, so call it before any inbound source."""
    out = [cm for cm in w.motions if cm.entry == "outbound"]
    pairs = [(cm, s) for cm in out for s in range(len(w.segs)) if _target(w, s, cm.name) > 0]
    if w.book.mix:  # a pair counts if targeted in any month
        pairs = [
            (cm, s)
            for cm in out
            for s in range(len(w.segs))
            if _target_path(w, s, cm.name).max() > 0
        ]
    if not pairs or w.staff["sdr"].headcount.max() == 0:
        return
    # While SDRs prospect they look at the inbound queue only between blocks, on a shared grid.
    w.sdr.check = w.sc.team.sdr.prospecting_block_days
    weights, rates = _pair_rates(w, pairs)
    if rates.max() > 0:
        _prospecting(w, pairs, weights, rates)


def _pair_rates(w: World, pairs) -> tuple[np.ndarray, np.ndarray]:
    """Month by month: each (motion, segment) pair's share of meetings (rows of weights) and the
    meetings per SDR-day of full-time prospecting (by month). An SDR splits prospecting time over the
    pairs by their targets (`_target`) and books `outbound_meetings_day[segment]` a day in each, so a
    pair's meetings are its time share x its segment's rate; plays scale every segment's rate by
    their path over the top segment's rate (sim.plays: a per-segment key's base is its top rate)."""
    n = w.n_months
    seg_rate = np.array(w.sc.team.sdr.by_segment("outbound_meetings_day", w.segs), dtype=float)
    if w.book.mix:  # targets by month
        share = np.stack([_target_path(w, s, cm.name) for cm, s in pairs], axis=1)
    else:
        share = np.tile([_target(w, s, cm.name) for cm, s in pairs], (n, 1))
    total = share.sum(axis=1, keepdims=True)
    share = share / np.where(total > 0, total, 1.0)  # time shares; 0 where nothing is targeted
    path = w.book.monthly.get(("team.sdr.outbound_meetings_day",))  # by month, when plays change it
    top = seg_rate.max()
    scale = np.ones(n) if path is None or top <= 0 else np.asarray(path) / top
    weights = share * seg_rate[[s for _, s in pairs]]  # meetings a day by pair, one SDR, by month
    return weights, weights.sum(axis=1) * scale


def _prospecting(w: World, pairs, weights: np.ndarray, rates: np.ndarray) -> None:
    """Outbound meetings: a Poisson process in prospecting time, simulated by thinning.

    Candidates arrive at the top monthly rate (`rates`, meetings per SDR-day) of the largest team all
    prospecting; one is kept with probability (SDR seats not working inbound x ramp productivity) /
    largest team x this month's rate / the top rate, so the meeting rate follows the spare capacity
    moment by moment without a process per SDR. A kept meeting goes to a (motion, segment) pair with
    probability proportional to its row of `weights` (`_pair_rates`). Each candidate is one
    scheduled call (`Call`) that schedules the next, not a simpy process resumed by a timeout.
    """
    env, rec, book, streams, sdr = w.env, w.rec, w.book, w.streams, w.sdr
    rate = float(rates.max())
    cums = [np.cumsum(r).tolist() if r.sum() > 0 else None for r in weights]
    thin = (rates / rate).tolist()
    play_u: dict[
        int, list[Pool]
    ] = {}  # per motion, one pool of adoption uniforms per per-lead play
    if book.per_lead:
        for cm, _ in pairs:
            rngs = [streams(f"play/{p}/{cm.name}/outbound") for p in book.lead_names]
            play_u[cm.index] = [Pool(rng.random) for rng in rngs]
    seats = w.staff["sdr"].headcount.tolist()
    prod = sdr.prod
    top = max(seats)
    gap = Pool(lambda n: streams("outbound/meetings").exponential(1.0 / (rate * top), n))
    keep = Pool(lambda n: streams("outbound/keep").random(n))
    pick = Pool(lambda n: streams("outbound/target").random(n))
    rows = {cm.index: RowPool(cm, streams) for cm, _ in pairs}
    lf = w.sc.lead_fit  # meetings' fit scores: Beta around lead_fit.outbound_mean
    fits = Pool(lambda n: draw_fit(streams("fit/outbound"), lf.outbound_mean, n))
    beta, ref = lf.log_odds_per_fit, lf.ref
    last = w.n_months - 1
    next_gap, next_keep, draws = gap.next, keep.next, w.draws
    per_lead, deal_size = book.per_lead, w.deal_size
    free_at = sdr.free_at  # when the SDRs' busy seats free up (the desk's heap, kept in place)

    def meeting(now: float, cum: list[float]) -> None:
        cm, s = pairs[bisect.bisect_right(cum, pick.next() * cum[-1] - 1e-15)]
        rec.lead_one(cm.index, "outbound", s, now)
        u, d = rows[cm.index].next()
        pu = [p.next() for p in play_u[cm.index]] if per_lead else None
        n_seats = round(draws("seats", cm.name, s))
        seats_ = n_seats if n_seats > 1.0 else 1.0  # max(1.0, n_seats), the same value and type
        fit = fits.next()
        odds = math.exp(beta * (fit - ref)) if beta else None
        value, so, sd = deal_size.one(cm, "outbound", s, seats_)  # ACV fixed at birth
        # positional, in Lead's field order (sim.model.sources.enter): (..., lead_t, opp_t, t, block,
        # first, amount, sdr_u, sdr_w, pu, fit, odds, size_odds, size_days)
        lead = Lead(cm, "outbound", s, seats_, u, d, now, NAN, now, 0, 0, value, 0.0, 0.0, pu, fit,
                    odds, so, sd)  # fmt: skip
        advance(w, lead, now)

    def candidate(me) -> None:  # `me`: candidate itself (a closure naming itself is a cycle)
        now = env._now
        m = int(now // MONTH_DAYS)
        if m > last:
            m = last
        while free_at and free_at[0] <= now:  # seats free by now (`Desk.busy`, inlined)
            heapq.heappop(free_at)
        spare = seats[m] - len(free_at)
        if spare > 0 and next_keep() * top < spare * prod[m] * thin[m]:
            cum = cums[m]
            if cum is not None:  # None: plays moved every outbound target out of the mix
                meeting(now, cum)
        Call(env, next_gap(), me, me)

    Call(env, next_gap(), candidate, candidate)
