"""Plays: tactics layered on the motions, each a list of parameter changes that ramps in over time.

A play starts at `start_day`; the share of the company working the new way rises linearly from 0 at
`start_day` to `adoption` at `start_day + ramp_days` (resistance to change). Its changes apply in two
ways (docs/plays.md):

- **Per lead** (stage probabilities and durations, SDR contact probability, AE wait decay, the SLA,
  the SDR queue order). Each lead draws one uniform per play from the play's own stream
  `play/<play>/<motion>/<source>`; it works under the play at a stage entered at time t if that
  uniform < adoption(t) and its segment is targeted. Adoption only grows, so a lead that adopted
  stays adopted. The parameters for every combination of plays are compiled once into tables.
- **Per month** (channel budgets, the motion mix, outbound meetings a prospecting day, customer-success
  parameters): value = (1 - a) * before + a * after, with `a` the adoption at the month's start,
  plays applied in the order they are listed.

Costs go to the cost ledger as category `plays`: `cost_once` in the month of `start_day`,
`cost_month` pro rata from `start_day` on. Draws for plays come only from `play/...` streams, so a
play never shifts the draws of anything it does not change (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.play_targets import PROB_KINDS, resolve
from sim.records import MONTH_DAYS

if TYPE_CHECKING:
    from sim.config import Scenario
    from sim.motions import CMotion


@dataclass(frozen=True)
class Ramp:
    """Adoption over time: 0 before `start`, rising linearly to `top` over `days`."""

    start: float
    days: float
    top: float

    def at(self, t: float) -> float:
        if t < self.start:
            return 0.0
        if self.days <= 0.0 or t >= self.start + self.days:
            return self.top
        return self.top * (t - self.start) / self.days

    def at_array(self, t: np.ndarray) -> np.ndarray:
        x = (t - self.start) / self.days if self.days > 0 else np.where(t >= self.start, 1.0, 0.0)
        return np.where(t < self.start, 0.0, self.top * np.clip(x, 0.0, 1.0))


def _apply(op: str, value: float, before: float | np.ndarray, prob: bool):
    after = before * value if op == "scale" else np.full_like(before, value, dtype=float)
    return np.clip(after, 0.0, 1.0) if prob else after


@dataclass
class PlayBook:
    """Every play of a scenario compiled for one run: adoption ramps, per-lead parameter tables for
    each combination of plays (code = bit j set when the lead works under per-lead play j), monthly
    parameter paths and the cost ledger entries."""

    names: tuple[str, ...]
    lead_names: tuple[str, ...]
    lead_ramps: tuple[Ramp, ...]
    seg_mask: list[list[bool]]  # [j][segment]: leads of that segment may adopt per-lead play j
    p: list[np.ndarray]  # by motion: (codes, stages, segments)
    dscale: list[np.ndarray]  # by motion: (codes, stages)
    p_list: list[list]  # the same as nested lists, for one lead at a time
    d_list: list[list]
    contact: list[list[float]]  # by code, then segment
    decay: list[float]
    sla_days: list[float]  # by code; inf where no SLA applies
    by_fit: list[bool]
    has_fit: bool
    drop_below: list[float]  # by code: SDRs drop leads of lower fit unworked (0: none)
    sla_hours: float | None  # the tightest SLA of any play (for the sla_met_share metric)
    monthly: dict[tuple, np.ndarray] = field(default_factory=dict)  # (kind, key) -> values by month
    mix: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # segment -> motion -> w_m
    costs: list[tuple[int, float]] = field(default_factory=list)  # (month, amount)

    @property
    def per_lead(self) -> bool:
        return bool(self.lead_names)

    def draw(self, streams, motion: str, source: str, n: int) -> np.ndarray:
        """(n, plays) adoption uniforms for n leads of one motion and source."""
        u = np.empty((n, len(self.lead_names)))
        for j, name in enumerate(self.lead_names):
            u[:, j] = streams(f"play/{name}/{motion}/{source}").random(n)
        return u

    def codes(self, u: np.ndarray, seg: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The combination of plays each lead works under at times t."""
        c = np.zeros(len(seg), dtype=np.int64)
        for j, ramp in enumerate(self.lead_ramps):
            on = (u[:, j] < ramp.at_array(t)) & np.asarray(self.seg_mask[j])[seg]
            c |= on.astype(np.int64) << j
        return c

    def code(self, u: list[float] | None, seg: int, t: float) -> int:
        if u is None:
            return 0
        c = 0
        for j, ramp in enumerate(self.lead_ramps):
            if u[j] < ramp.at(t) and self.seg_mask[j][seg]:
                c |= 1 << j
        return c


def compile_plays(sc: Scenario, motions: tuple[CMotion, ...], n_months: int) -> PlayBook:
    """The scenario's plays compiled for a run of n_months. Without plays this is the identity book:
    one parameter set (code 0) equal to the scenario's own, no monthly paths and no costs, so the
    engine reads every stage parameter through the book, with or without plays (a lead with no
    per-lead play adoption uniforms works under code 0)."""
    changes = resolve(sc) if sc.plays else []
    plays = list(sc.plays.items())
    segs = list(sc.segments)
    lead_idx = [
        i
        for i, (_, p) in enumerate(plays)
        if p.sla_hours is not None
        or p.queue_by_fit
        or p.drop_below is not None
        or any(r.play == i and r.kind in ("p", "days", "contact", "decay") for r in changes)
    ]
    ramps = [Ramp(p.start_day, p.ramp_days, p.adoption) for _, p in plays]
    n_codes = 1 << len(lead_idx)
    base_p = [np.array([st.p for st in cm.stages], dtype=float) for cm in motions]
    P = [np.repeat(b[None], n_codes, axis=0) for b in base_p]
    D = [np.ones((n_codes, cm.n_stages)) for cm in motions]
    contact = np.tile(sc.team.sdr.by_segment("contact_prob", segs), (n_codes, 1))  # by segment
    decay = np.full(n_codes, sc.team.ae.wait_decay_days)
    sla = np.full(n_codes, np.inf)
    by_fit = np.zeros(n_codes, dtype=bool)
    drop_below = np.zeros(n_codes)
    for c in range(n_codes):
        for j, i in enumerate(lead_idx):
            if not c >> j & 1:
                continue
            play = plays[i][1]
            if play.sla_hours is not None:
                sla[c] = min(sla[c], play.sla_hours / 24.0)
            by_fit[c] |= play.queue_by_fit
            drop_below[c] = max(drop_below[c], play.drop_below or 0.0)
            for r in changes:
                if r.play != i:
                    continue
                if r.kind == "p":
                    mi, k = r.key
                    P[mi][c, k] = _apply(r.op, r.value, P[mi][c, k], True)
                elif r.kind == "days":
                    mi, k = r.key
                    D[mi][c, k] *= r.value
                elif r.kind == "contact":
                    contact[c] = _apply(r.op, r.value, contact[c], True)
                elif r.kind == "decay":
                    decay[c] = _apply(r.op, r.value, decay[c], False)
    book = PlayBook(
        names=tuple(n for n, _ in plays),
        lead_names=tuple(plays[i][0] for i in lead_idx),
        lead_ramps=tuple(ramps[i] for i in lead_idx),
        seg_mask=[
            [plays[i][1].segments is None or s in plays[i][1].segments for s in segs]
            for i in lead_idx
        ],
        p=P,
        dscale=D,
        p_list=[x.tolist() for x in P],
        d_list=[x.tolist() for x in D],
        contact=contact.tolist(),
        decay=decay.tolist(),
        sla_days=sla.tolist(),
        by_fit=by_fit.tolist(),
        has_fit=any(
            plays[i][1].queue_by_fit or plays[i][1].drop_below is not None for i in lead_idx
        ),
        drop_below=drop_below.tolist(),
        sla_hours=min((p.sla_hours for _, p in plays if p.sla_hours is not None), default=None),
    )
    _monthly(sc, book, changes, ramps, n_months)
    _costs(sc, book, n_months)
    return book


def _base_monthly(sc: Scenario, kind: str, key: tuple) -> float:
    if kind == "budget":
        return sc.channels[key[0]].budget_month
    if kind in ("expansion_month", "churn_month"):
        return getattr(sc.segments[key[0]], kind)
    role, name = kind.split(".")[1:]
    v = getattr(getattr(sc.team, role), name)
    return float(max(v.values()) if isinstance(v, dict) else v)  # by segment: the top rate


def _monthly(sc: Scenario, book: PlayBook, changes, ramps, n_months: int) -> None:
    """Blend each monthly parameter towards each play's value by its adoption at month start."""
    a = [r.at_array(np.arange(n_months) * MONTH_DAYS) for r in ramps]
    for r in changes:
        if r.kind in ("p", "days", "contact", "decay"):
            continue
        if r.kind == "mix":
            seg = r.key[0]
            cur = book.mix.setdefault(
                seg,
                {m: np.full(n_months, float(w)) for m, w in sc.mix.get(seg, {}).items()},
            )
            for m in set(cur) | set(r.value):
                before = cur.get(m, np.zeros(n_months))
                cur[m] = (1 - a[r.play]) * before + a[r.play] * float(r.value.get(m, 0.0))
            continue
        k = (r.kind, *r.key)
        before = book.monthly.get(k)
        if before is None:
            before = np.full(n_months, _base_monthly(sc, r.kind, r.key), dtype=float)
        prob = r.kind in PROB_KINDS
        after = _apply(r.op, r.value, before, prob)
        book.monthly[k] = (1 - a[r.play]) * before + a[r.play] * after


def _costs(sc: Scenario, book: PlayBook, n_months: int) -> None:
    end = sc.total_days
    for _, p in sc.plays.items():
        if p.start_day >= end:
            continue
        if p.cost_once:
            book.costs.append((int(p.start_day // MONTH_DAYS), p.cost_once))
        if p.cost_month:
            for m in range(int(p.start_day // MONTH_DAYS), n_months):
                lo, hi = max(m * MONTH_DAYS, p.start_day), min((m + 1) * MONTH_DAYS, end)
                if hi > lo:
                    book.costs.append((m, p.cost_month * (hi - lo) / MONTH_DAYS))
