"""Where inbound leads come from: marketing channels (spend -> leads) and product sign-ups. Leads are
born in batches and walk their motion's first free block in numpy; only those that reach a queued
stage enter simpy, moved on by one feeder per batch (a scheduled call per distinct wake time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.agents.marketing import channel_leads
from sim.agents.product import signups
from sim.distributions import sample
from sim.model.customers import close_batch
from sim.model.desk import Call
from sim.model.journey import advance
from sim.model.lead import Lead
from sim.motions import PASSED, CMotion, draw_stages, fit_odds, walk_batch
from sim.records import MONTH_DAYS

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.world import World


def mix_path(w: World, seg: str, motion: str) -> np.ndarray:
    """A motion's mix weight in a segment, month by month (plays may move it)."""
    path = w.book.mix.get(seg)
    if path is None:
        return np.full(w.n_months, w.sc.acquisition_weight(seg, motion))
    return path.get(motion, np.zeros(w.n_months))


def _weights(w: World, cm: CMotion, seg_mix: dict[str, float]) -> np.ndarray:
    """Segment weights of a motion's source; (months, segments) when plays move the mix."""
    if w.book.mix:
        return np.stack([seg_mix.get(s, 0.0) * mix_path(w, s, cm.name) for s in w.segs], axis=1)
    return np.array([seg_mix.get(s, 0.0) * w.sc.acquisition_weight(s, cm.name) for s in w.segs])


def marketing(w: World, cm: CMotion) -> None:
    """Every channel's leads for a marketing-entry motion, and the spend they cost.

    The budget is money spent: a channel's leads (leads_month at ref_budget_month, diminishing with
    elasticity) go to the segments its mix names that some marketing-entry motion serves, the mix
    renormalised over them; this motion gets and pays for its share (its segment weights over the
    channel's cover), so the shares of all marketing motions add up to the whole budget. A month
    in which no marketing motion covers the channel's segments has no leads and no spend."""
    for name, ch in w.sc.channels.items():
        budget = w.book.monthly.get(("budget", name))
        cover = np.asarray(_cover(w, ch.segment_mix), dtype=float)
        share = _weights(w, cm, ch.segment_mix) / np.where(cover > 0, cover, np.inf)[..., None]
        arr, _ = channel_leads(
            ch,
            share,
            w.sc.start_date,
            w.n_months,
            w.end,
            w.streams(f"arrivals/{name}/{cm.name}"),
            budget,
        )
        if ch.segment_cost:  # the budget follows leads x their relative cost, not leads alone
            cost_mix = {s: v * ch.segment_cost.get(s, 1.0) for s, v in ch.segment_mix.items()}
            cost_cover = np.asarray(_cover(w, cost_mix), dtype=float)
            paid = (
                _weights(w, cm, cost_mix) / np.where(cost_cover > 0, cost_cover, np.inf)[..., None]
            )
        else:
            paid = share
        spend = np.broadcast_to(ch.budget_month if budget is None else budget, w.n_months)
        by_seg = np.broadcast_to(paid, (w.n_months, len(w.segs))) * spend[:, None]
        for m, s in zip(*np.nonzero(by_seg), strict=True):
            w.rec.cost(int(m), "marketing", cm.name, float(by_seg[m, s]), int(s))
        if len(arr.t):
            enter(w, cm, name, arr.t, arr.seg, arr.fit)


def _cover(w: World, seg_mix: dict[str, float]) -> np.ndarray | float:
    """How much of a channel's segment mix the marketing-entry motions cover (segment share x mix
    weight, summed over those motions and segments): a number, or one a month when plays move the
    mix. The channel's leads and budget are spread over what is covered."""
    parts = [_weights(w, cm, seg_mix).sum(axis=-1) for cm in w.motions if cm.entry == "marketing"]
    return sum(parts) if parts else 0.0


def product(w: World, cm: CMotion) -> None:
    """Sign-ups for a product-entry motion, and their infrastructure cost."""
    prod = w.sc.product
    arr = signups(
        prod,
        _weights(w, cm, prod.segment_mix),
        w.n_months,
        w.end,
        w.streams(f"arrivals/signups/{cm.name}"),
    )
    if prod.infra_cost_per_signup:
        month = np.minimum((arr.t // MONTH_DAYS).astype(int), w.n_months - 1)
        k = np.bincount(month * len(w.segs) + arr.seg, minlength=w.n_months * len(w.segs))
        for i in np.flatnonzero(k).tolist():  # by the segment each sign-up came from
            m, s = divmod(i, len(w.segs))
            w.rec.cost(m, "product", cm.name, int(k[i]) * prod.infra_cost_per_signup, s)
    if len(arr.t):
        fit = draw_fit(w.streams(f"fit/{cm.name}/product"), w.sc.lead_fit.product_mean, len(arr.t))
        enter(w, cm, "product", arr.t, arr.seg, fit)


def draw_fit(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """Fit scores ~ Beta(mean, concentration 4), as marketing channels draw theirs."""
    return rng.beta(4 * mean, 4 * (1 - mean), n)


def lead_odds(w: World, fit: np.ndarray) -> np.ndarray | None:
    """The leads' fit odds multipliers on every stage, or None when fit has no effect."""
    lf = w.sc.lead_fit
    return fit_odds(fit, lf.log_odds_per_fit, lf.ref) if lf.log_odds_per_fit else None


def _seats_for(w: World, seg: np.ndarray, key: str) -> np.ndarray:
    out = np.empty(len(seg))
    for i, s in enumerate(w.sc.segments.values()):
        idx = np.flatnonzero(seg == i)
        if len(idx):
            rng = w.streams(f"seats/{key}/{w.segs[i]}")
            out[idx] = np.maximum(1.0, np.round(sample(s.seats, rng, len(idx))))
    return out


def enter(w: World, cm: CMotion, source: str, t: np.ndarray, seg: np.ndarray, fit: np.ndarray):
    """Walk a batch of new leads through the motion's first free block in numpy; hand the
    survivors to simpy at the time they reach the first queued stage. `fit`: their fit scores,
    which shift every stage's odds (`lead_odds`)."""
    rec, n, book = w.rec, len(t), w.book
    pu = book.draw(w.streams, cm.name, source, n) if book.per_lead else None
    rec.leads(cm.index, source, seg, t)
    key = f"{cm.name}/{source}"  # this batch's own streams: other sources never shift them
    seats = _seats_for(w, seg, key)
    value, size_o, size_d = w.deal_size.batch(cm, source, seg, seats)  # fixed at birth
    first = cm.blocks[0]
    stop = first.stop if first.kind == "free" else 0
    u, d = draw_stages(cm, w.streams, n, 0, stop, source)
    # a shared MQL bar (alignment play): marketing's leads only (sign-ups are not MQLs)
    if pu is not None and stop and book.has_fit_min and cm.entry == "marketing":
        u[:, 0] = np.where(fit < np.asarray(book.fit_min)[book.codes(pu, seg, t)], np.inf, u[:, 0])
    odds = lead_odds(w, fit)
    walk = walk_batch(cm, 0, stop, seg, seats, t, u, d, w.scale, w.end, book, pu, odds)
    rec.batch(cm.index, 0, walk)
    rest = np.zeros(n, dtype=bool)  # some later stage applies: the journey goes on in simpy
    for st in cm.stages[stop:]:
        rest |= st.applies(seats) if st.guarded else True
    if cm.opp_stage < stop:
        _batch_opportunities(w, cm, source, seg, value, t, walk, rest)
    block = 1 if first.kind == "free" else 0
    if block >= len(cm.blocks):  # the whole motion was walked in numpy
        return
    wake = walk.t_out  # when each lead is first looked at: at once, or at the SDRs' next check
    if cm.blocks[block].kind == "sdr":
        wake = w.sdr.seen_at_many(pu, seg, walk.t_out)
    go = (walk.status == PASSED) & (walk.t_out < w.end) & rest
    late = go & (wake >= w.end)  # reached the queue but nobody looks before the end
    rec.open_at_end[cm.index, stop] += int(late.sum())
    go = np.flatnonzero(go & ~late)
    if not len(go):
        return
    order = go[np.argsort(wake[go], kind="stable")]
    u2, d2 = draw_stages(cm, w.streams, len(order), stop, cm.n_stages, source)
    pad = np.zeros((len(order), stop))
    u2, d2 = np.hstack([pad, u2]), np.hstack([pad, d2])
    sdr_u = w.streams(f"sdr/contact/{key}").random(len(order))
    sdr_w = sample(w.sc.team.sdr.attempt_days, w.streams(f"sdr/work/{key}"), len(order))
    opp_t = walk.entry[order, cm.opp_stage] if cm.opp_stage < stop else np.full(len(order), np.nan)
    ones = [1.0] * len(order)
    # positional, in Lead's field order (cm, source, seg, seats, u, d, lead_t, opp_t, t, block,
    # first, amount, sdr_u, sdr_w, pu, fit, odds, size_odds, size_days): keywords cost twice the time
    leads = [
        Lead(cm, source, s, x, ui, di, lt, ot, tt, block, 0, v, su, sw, p, f, o, so, sd)
        for s, x, ui, di, lt, ot, tt, su, sw, p, f, o, v, so, sd in zip(
            seg[order].tolist(),
            seats[order].tolist(),
            u2.tolist(),
            d2.tolist(),
            t[order].tolist(),
            opp_t.tolist(),
            walk.t_out[order].tolist(),
            sdr_u.tolist(),
            sdr_w.tolist(),
            pu[order].tolist() if pu is not None else [None] * len(order),
            fit[order].tolist(),
            odds[order].tolist() if odds is not None else [None] * len(order),
            value[order].tolist(),
            size_o[order].tolist() if size_o is not None else ones,
            size_d[order].tolist() if size_d is not None else ones,
            strict=True,
        )
    ]
    _Feeder(w, wake[order].tolist(), leads)


class _Feeder:
    """Moves each lead of a batch on at its wake time (sorted): when it reaches its block, or, bound
    for prospecting SDRs, at their next inbound check, with the time it reached the block kept in
    `lead.t` for the wait, so the check costs no extra event. One scheduled call per distinct wake
    time: leads woken together share it."""

    def __init__(self, w: World, wake: list[float], leads: list[Lead]) -> None:
        self.w, self.wake, self.leads, self.i = w, wake, leads, 0
        # the batch's leads all reach the same block: an SDR block without a seat guard takes them
        # in one call each (`SdrDesk.enter`), unless lead scoring sorts or drops them first
        b = leads[0].cm.blocks[leads[0].block]
        self.sdr = b.kind == "sdr" and not b.guarded and not w.book.has_fit
        Call(w.env, wake[0] - w.env.now, self.step)

    def step(self) -> None:
        w, wake, leads, i = self.w, self.wake, self.leads, self.i
        now, n = w.env._now, len(wake)
        if self.sdr:
            enter = w.sdr.enter
            while i < n and wake[i] <= now:
                enter(leads[i], wake[i])
                i += 1
        while i < n and wake[i] <= now:
            lead = leads[i]
            advance(w, lead, lead.t)
            i += 1
        self.i = i
        if i < n:
            Call(w.env, wake[i] - now, self.step)


def _batch_opportunities(w: World, cm, source, seg, value, t, walk, rest) -> None:
    """Opportunities created inside the numpy walk (e.g. product-qualified leads), at the amounts
    their deals were given at birth (`value`)."""
    j = cm.opp_stage
    created = walk.entry[:, j]
    has = ~np.isnan(created) & (created < w.end)
    # only leads whose journey ended inside this block are closed here; the rest go on in simpy
    done = has & ((walk.status != PASSED) | ~rest)
    idx = np.flatnonzero(done)
    if not len(idx):
        return
    status = walk.status[idx]
    last_applied = walk.applied.shape[1] - 1 - np.argmax(walk.applied[:, ::-1], axis=1)
    stage = np.where(
        status == PASSED, last_applied[idx], np.minimum(walk.stage[idx], cm.n_stages - 1)
    )
    close_batch(
        w, cm, source, seg[idx], t[idx], created[idx], status, walk.t_out[idx], stage, value[idx]
    )
