"""Warm start from an open pipeline: deals already open at day 0, each in its stage with its age.

A deal that has spent `age_days` in a stage without closing has survived that long, so its outcome and
remaining time are drawn conditionally on survival. With win probability p and stage durations D_won
(the stage's `days`) and D_lost (`days_lost` where the stage has one, else `days`), each times the
segment's `cycle_scale`:

    P(win | open at age a) = p S_won(a) / (p S_won(a) + (1 - p) S_lost(a))
    T | outcome, T > a     drawn by inversion:  T = S^-1(v S(a)), v ~ U(0, 1]

where S is the survival function (scipy.stats). A deal older than any duration its stage allows
(S_won(a) = S_lost(a) = 0, e.g. a fixed duration shorter than its age) closes at day 0 with probability
p of a win. Later stages are drawn as for any other lead. sim.pipeline_file reads a file's rows, sim.config
checks them, this module draws their outcomes, and the engine (sim.model) runs the deals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import distributions
from sim.config import open_deal_motions
from sim.distributions import remap, sample
from sim.motions import draw_stages

SOURCE = "open_pipeline"  # the opportunities' source column, and the prefix of its random streams


def frozen(dist) -> Any:
    """The scipy.stats distribution of a duration (sim.distributions.frozen), None when fixed."""
    if dist.dist == "fixed" or dist.cv == 0.0:
        return None
    return distributions.frozen(dist)


def log_survival(dist, x: np.ndarray) -> np.ndarray:
    """log P(D > x) for a stage duration D (None: an instant stage)."""
    if dist is None:
        return np.full(len(x), -np.inf)
    f = frozen(dist)
    if f is None:
        return np.where(x < dist.mean, 0.0, -np.inf)
    return f.logsf(x)


def residual(dist, age: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Total duration T drawn from D | D > age by inversion, T = S^-1(v S(age)), v in (0, 1]."""
    if dist is None:
        return np.zeros(len(age))
    f = frozen(dist)
    if f is None:
        return np.full(len(age), float(dist.mean))
    return np.maximum(f.isf(v * f.sf(age)), age)


def conditional_win(p: np.ndarray, log_s_won: np.ndarray, log_s_lost: np.ndarray) -> np.ndarray:
    """P(win | open at age a) = p S_won(a) / (p S_won(a) + (1 - p) S_lost(a)), on the log scale so
    that old deals do not underflow; p itself where both survivals are 0."""
    with np.errstate(divide="ignore"):
        lw = np.log(p) + log_s_won
        ll = np.log1p(-p) + log_s_lost
    tot = np.logaddexp(lw, ll)
    ok = np.isfinite(tot)
    return np.where(ok, np.exp(lw - np.where(ok, tot, 0.0)), p)


def _durations(sc, motion: str, stage: str):
    cfg = sc.motions[motion].stages[stage]
    return cfg.days, cfg.days_lost or cfg.days


def log_open(sc, cm, k: int, seg: np.ndarray, age: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log P(a deal of motion cm is still open at `age` days into stage k)."""
    won_d, lost_d = _durations(sc, cm.name, cm.stages[k].name)
    a = age / scale[seg]
    p = np.asarray(cm.stages[k].p)[seg]
    with np.errstate(divide="ignore"):
        return np.logaddexp(
            np.log(p) + log_survival(won_d, a), np.log1p(-p) + log_survival(lost_d, a)
        )


def assign_motions(sc, motions, streams, scale: np.ndarray) -> list[str]:
    """The motion of each open deal: its own, else one drawn among its segment's motions that have
    its stage, with probability proportional to mix weight x P(reaching the stage) x P(still open at
    its age), i.e. the posterior given that it is open (e.g. a fast or a slow class of deal)."""
    segs = list(sc.segments)
    by_name = {cm.name: cm for cm in motions}
    deals = sc.open_pipeline
    out = [d.motion or "" for d in deals]
    todo = [i for i, d in enumerate(deals) if d.motion is None]
    u = streams(f"{SOURCE}/motion").random(len(todo))
    groups: dict[tuple[str, str], list[int]] = {}  # (segment, stage) -> positions in `todo`
    for j, i in enumerate(todo):
        groups.setdefault((deals[i].segment, deals[i].stage), []).append(j)
    for (seg_name, stage), js in groups.items():
        idx = [todo[j] for j in js]
        cands = open_deal_motions(sc, deals[idx[0]])
        if len(cands) == 1:
            for i in idx:
                out[i] = cands[0]
            continue
        s = segs.index(seg_name)
        age = np.array([deals[i].age_days for i in idx])
        seg = np.full(len(idx), s)
        prior = np.empty(len(cands))
        logw = np.empty((len(idx), len(cands)))
        for c, name in enumerate(cands):
            cm = by_name[name]
            k = [st.name for st in cm.stages].index(stage)
            prior[c] = sc.mix[seg_name][name] * math.prod(cm.stages[x].p[s] for x in range(k))
            with np.errstate(divide="ignore"):
                logw[:, c] = np.log(prior[c]) + log_open(sc, cm, k, seg, age, scale)
        old = ~np.isfinite(logw).any(axis=1)  # older than every motion allows: the prior
        with np.errstate(divide="ignore"):
            logw[old] = np.log(prior)
        prob = np.exp(logw - logw.max(axis=1, keepdims=True))
        cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
        pick = np.minimum((u[js][:, None] >= cum).sum(axis=1), len(cands) - 1)
        for i, c in zip(idx, pick.tolist(), strict=True):
            out[i] = cands[c]
    return out


def _escaped(pull, age: np.ndarray, scale: np.ndarray):
    """For deals open at day 0 in a closing stage with `close_pull`: (q, L), the share q of wins
    due before unit-scale age L (the end of the window after the last period end at or before day
    0) that were pulled into that period, q 0 where the deal's stage started after that end; None
    when no window reaches past day 0."""
    if pull is None:
        return None
    b, days, share = pull.window(0.0)
    reach = min(b + days, pull.next_end(0.0))
    if not (share > 0 and reach > 0):
        return None
    q = np.where(-age < b, share, 0.0)
    return q, (age + reach) / scale


def _residual_escaped(dist, a, v, q, end, t_w) -> np.ndarray:
    """Total won duration T | T > a when wins due in (a, end) were thinned by 1 - q: inversion of
    the survival (1 - q) S(t) + q S(end) below `end`, S(t) above it (`t_w`: the unthinned draw,
    kept where nothing was thinned)."""
    f = frozen(dist) if dist is not None else None
    if f is None:
        return t_w
    s_a, s_end = f.sf(a), f.sf(np.maximum(end, a))
    target = v * ((1 - q) * s_a + q * s_end)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = s_end + (target - s_end) / np.where(q < 1, 1 - q, 1.0)
    t = np.where(target <= s_end, f.isf(target), f.isf(np.minimum(inner, s_a)))
    return np.where(q > 0, np.maximum(t, a), t_w)


@dataclass(frozen=True)
class WarmDeals:
    """One motion's open deals, ready for the engine: per deal its segment, stage, seats, amount, age,
    and stage uniforms/unit durations in which the current stage encodes the conditional draw
    (u = 0: advances, u = 1: drops; d = remaining days / cycle_scale; a closing stage with
    `close_pull` carries a win's pull uniform v as u = -v, sim.close_pull)."""

    seg: np.ndarray
    stage: np.ndarray
    seats: np.ndarray
    amount: np.ndarray
    age: np.ndarray
    u: np.ndarray
    d: np.ndarray


def prepare(sc, cm, deals, streams, scale: np.ndarray) -> WarmDeals:
    """Draw the conditional outcome and remaining time of `deals` (rows of sc.open_pipeline in motion
    cm), their seats, missing amounts, and the uniforms/durations of the stages after their own."""
    segs = list(sc.segments)
    names = [st.name for st in cm.stages]
    n = len(deals)
    seg = np.array([segs.index(d.segment) for d in deals], dtype=int)
    stage = np.array([names.index(d.stage) for d in deals], dtype=int)
    age = np.array([d.age_days for d in deals], dtype=float)
    amount = np.array([math.nan if d.amount is None else d.amount for d in deals], dtype=float)
    key = f"{SOURCE}/{cm.name}"
    u, d = draw_stages(cm, streams, n, source=SOURCE)
    u_out = streams(f"{key}/outcome").random(n)
    v_time = 1.0 - streams(f"{key}/duration").random(n)  # in (0, 1]
    seats = np.empty(n)
    for i, s in enumerate(sc.segments.values()):
        idx = np.flatnonzero(seg == i)
        if len(idx):
            rng = streams(f"{key}/seats/{segs[i]}")
            seats[idx] = np.maximum(1.0, np.round(sample(s.seats, rng, len(idx))))
            todo = idx[np.isnan(amount[idx])]
            if len(todo) and cm.acv != "seats":
                amount[todo] = sample(s.acv, streams(f"{key}/acv/{segs[i]}"), len(todo))
    for k in np.unique(stage).tolist():
        st = cm.stages[k]
        won_d, lost_d = _durations(sc, cm.name, st.name)
        idx = np.flatnonzero(stage == k)
        if st.seats_at_least is not None:  # the deal is in this stage, so its guard holds
            seats[idx] = np.maximum(seats[idx], st.seats_at_least)
        if st.seats_below is not None:
            seats[idx] = np.minimum(seats[idx], st.seats_below - 1)
        sc_i = scale[seg[idx]]
        a = age[idx] / sc_i  # age in unit-scale days: D x scale > a  <=>  D > a / scale
        s_w, s_l = log_survival(won_d, a), log_survival(lost_d, a)
        p = np.asarray(st.p)[seg[idx]]
        # a closing stage with close_pull: a win due just after the period end before day 0 was
        # pulled into that period with its share, so the deals still open missed that pull
        esc = _escaped(st.pull, age[idx], sc_i) if k == cm.n_stages - 1 else None
        if esc is not None:
            q, log_s_end = esc[0], log_survival(won_d, esc[1])
            with np.errstate(divide="ignore"):
                s_w = np.logaddexp(np.log1p(-q) + s_w, np.log(q) + log_s_end)
        cw = conditional_win(p, s_w, s_l)
        won = u_out[idx] < cw
        overdue = np.isneginf(s_w) & np.isneginf(s_l)
        t_w, t_l = residual(won_d, a, v_time[idx]), residual(lost_d, a, v_time[idx])
        if esc is not None:
            t_w = _residual_escaped(won_d, a, v_time[idx], esc[0], esc[1], t_w)
        rest = np.where(overdue, 0.0, np.maximum(np.where(won, t_w, t_l) - a, 0.0))
        if st.stall is not None:  # the stage's whole stay, in days, against stall_days
            stalled = (age[idx] >= st.stall) | ((a + rest) * sc_i > st.stall)
        if st.dist_lost is not None and (~won).any():
            # the engine turns a drop's unit draw x into remap(x, days, days_lost): hand it the
            # draw that maps onto the remaining time
            rest[~won] = np.maximum(remap(rest[~won], lost_d, won_d), 1e-9)
        if st.pull is not None:  # a win carries its pull uniform as -u (sim.close_pull)
            with np.errstate(divide="ignore", invalid="ignore"):
                u[idx, k] = np.where(won, -u_out[idx] / np.where(won, cw, 1.0), 1.0)
        else:
            u[idx, k] = np.where(won, 0.0, 1.0)
        d[idx, k] = rest
        if st.stall is not None:  # past stall_days in the stage, or due after it: open for good
            u[idx[stalled], k] = -1.0  # any p' passes, no lost time, never pulled (v = 1)
            d[idx[stalled], k] = np.inf
    if cm.acv == "seats":
        todo = np.isnan(amount)
        amount[todo] = seats[todo] * sc.product.price_per_seat_month * 12.0
    return WarmDeals(seg, stage, seats, amount, age, u, d)
