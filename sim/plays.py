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

import fnmatch
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from sim.play_targets import PROB_KINDS, resolve
from sim.records import MONTH_DAYS

if TYPE_CHECKING:
    from sim.config import Play, Scenario
    from sim.motions import CMotion


@dataclass(frozen=True)
class Ramp:
    """Adoption over time (docs/plays.md#adoption-and-timing): 0 before `start`, rising along an
    S-curve to `top` at `start + days` (a logistic in (t - start) / days with its midpoint halfway,
    rescaled to run exactly from 0 to `top`; `steepness` 0: linear), then, when `backslide_after` is
    set, decaying from `start + backslide_after` towards `floor * top` with half-life `half_life`.
    `lo`, `hi`: a lead with adoption uniform u is in this band when lo * a(t) <= u < hi * a(t) (the
    focus split of one play into key accounts and the rest; 0, 1 for a plain play)."""

    start: float
    days: float
    top: float
    steepness: float = 0.0
    backslide_after: float | None = None
    half_life: float = 90.0
    floor: float = 1.0
    lo: float = 0.0
    hi: float = 1.0

    def _shape(self, x: float) -> float:
        s = self.steepness
        if s <= 1e-9:
            return x
        l0 = 1.0 / (1.0 + math.exp(s / 2))
        return (1.0 / (1.0 + math.exp(-s * (x - 0.5))) - l0) / (1.0 - 2.0 * l0)

    def at(self, t: float) -> float:
        if t < self.start:
            return 0.0
        a = self.top
        if self.days > 0.0 and t < self.start + self.days:
            a *= self._shape((t - self.start) / self.days)
        if self.backslide_after is not None and t > self.start + self.backslide_after:
            k = 0.5 ** ((t - self.start - self.backslide_after) / self.half_life)
            a *= self.floor + (1.0 - self.floor) * k
        return a

    def at_array(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self.days > 0:
            x = np.clip((t - self.start) / self.days, 0.0, 1.0)
        else:
            x = np.ones_like(t)
        s = self.steepness
        if s > 1e-9:
            l0 = 1.0 / (1.0 + math.exp(s / 2))
            x = (1.0 / (1.0 + np.exp(-s * (x - 0.5))) - l0) / (1.0 - 2.0 * l0)
        a = np.where(t < self.start, 0.0, self.top * x)
        if self.backslide_after is not None:
            dt = np.maximum(0.0, t - self.start - self.backslide_after)
            a = a * (self.floor + (1.0 - self.floor) * 0.5 ** (dt / self.half_life))
        return a

    def on(self, u: float, t: float) -> bool:
        a = self.at(t)
        return self.lo * a <= u < self.hi * a

    def on_array(self, u: np.ndarray, t: np.ndarray) -> np.ndarray:
        a = self.at_array(t)
        return (u >= self.lo * a) & (u < self.hi * a)


def _apply(op: str, value: float, before: float | np.ndarray, prob: bool):
    after = before * value if op == "scale" else np.full_like(before, value, dtype=float)
    return np.clip(after, 0.0, 1.0) if prob else after


WORKING_DAYS_MONTH = (
    21.0  # selling days in a month (252 a year): training days are counted in these
)


@dataclass
class PlayBook:
    """Every play of a scenario compiled for one run: adoption ramps, per-lead parameter tables for
    each combination of plays (code = bit j set when the lead works under per-lead band j: one band
    per play, two for a play with focus), monthly parameter paths, capacity factors and the cost
    ledger entries."""

    names: tuple[str, ...]
    lead_names: tuple[str, ...]  # plays that draw an adoption uniform per lead (its column)
    lead_ramps: tuple[Ramp, ...]  # by band
    lead_col: tuple[int, ...]  # by band: its play's uniform column
    seg_mask: list[list[bool]]  # [band][segment]: leads of that segment may adopt band j
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
    fit_min: list[float] = field(default_factory=lambda: [0.0])  # by code: MQL fit threshold
    monthly: dict[tuple, np.ndarray] = field(default_factory=dict)  # (kind, key) -> values by month
    mix: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # segment -> motion -> w_m
    costs: list[tuple[int, float, int]] = field(default_factory=list)  # (month, amount, play)
    # play index -> (motion indices, segment indices) its costs are charged to (`cost_targets`)
    targets: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    capacity: dict[str, np.ndarray] = field(default_factory=dict)  # role -> selling-time factor

    @property
    def per_lead(self) -> bool:
        return bool(self.lead_names)

    @property
    def has_fit_min(self) -> bool:
        return max(self.fit_min) > 0.0

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
            on = ramp.on_array(u[:, self.lead_col[j]], t) & np.asarray(self.seg_mask[j])[seg]
            c |= on.astype(np.int64) << j
        return c

    def code(self, u: list[float] | None, seg: int, t: float) -> int:
        if u is None:
            return 0
        c = 0
        for j, ramp in enumerate(self.lead_ramps):
            if self.seg_mask[j][seg] and ramp.on(u[self.lead_col[j]], t):
                c |= 1 << j
        return c

    def train(self, staff: dict) -> dict:
        """The staff plans with each trained role's FTE (its selling time) times its monthly
        capacity factor: training days, reinforcement and the learning dip are time not sold."""
        return {
            r: replace(plan, fte=plan.fte * self.capacity[r]) if r in self.capacity else plan
            for r, plan in staff.items()
        }


def ramp_of(p: Play, lo: float = 0.0, hi: float = 1.0) -> Ramp:
    """A play's adoption curve: backsliding applies unless the play reinforces its training."""
    reinforced = p.training is not None and p.training.reinforcement_days_month > 0
    return Ramp(
        p.start_day,
        p.ramp_days,
        p.adoption,
        p.steepness,
        None if reinforced else p.backslide_after_days,
        p.backslide_half_life_days,
        p.backslide_floor,
        lo,
        hi,
    )


def rest_days_scale(share: float, days_scale: float) -> float:
    """Duration factor for the leads outside the focus, so that expected time is conserved:
    share * days_scale + (1 - share) * rest = 1."""
    return (1.0 - share * days_scale) / (1.0 - share)


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
        or p.focus is not None
        or p.mql_fit_min is not None
        or any(r.play == i and r.kind in ("p", "days", "contact", "decay") for r in changes)
    ]
    ramps = [ramp_of(p) for _, p in plays]
    # bands: (play, column, focus part: None, True for key accounts, False for the rest)
    bands: list[tuple[int, int, bool | None]] = []
    for col, i in enumerate(lead_idx):
        if plays[i][1].focus is None:
            bands.append((i, col, None))
        else:
            bands += [(i, col, True), (i, col, False)]
    n_codes = 1 << len(bands)
    base_p = [np.array([st.p for st in cm.stages], dtype=float) for cm in motions]
    P = [np.repeat(b[None], n_codes, axis=0) for b in base_p]
    D = [np.ones((n_codes, cm.n_stages)) for cm in motions]
    contact = np.tile(sc.team.sdr.by_segment("contact_prob", segs), (n_codes, 1))  # by segment
    decay = np.full(n_codes, sc.team.ae.wait_decay_days)
    sla = np.full(n_codes, np.inf)
    by_fit = np.zeros(n_codes, dtype=bool)
    fit_min = np.zeros(n_codes)
    drop_below = np.zeros(n_codes)
    for c in range(n_codes):
        for j, (i, _, part) in enumerate(bands):
            if not c >> j & 1:
                continue
            play = plays[i][1]
            if play.sla_hours is not None:
                sla[c] = min(sla[c], play.sla_hours / 24.0)
            by_fit[c] |= play.queue_by_fit
            drop_below[c] = max(drop_below[c], play.drop_below or 0.0)
            if play.mql_fit_min is not None:
                fit_min[c] = max(fit_min[c], play.mql_fit_min)
            if part is not None:
                f = play.focus
                k = f.days_scale if part else rest_days_scale(f.share, f.days_scale)
                for mi, cm in enumerate(motions):
                    if not fnmatch.fnmatchcase(cm.name, f.motions):
                        continue
                    for si, st in enumerate(cm.stages):
                        if fnmatch.fnmatchcase(st.name, f.stages):
                            D[mi][c, si] *= k
                            if part:
                                P[mi][c, si] = _apply("scale", f.p_scale, P[mi][c, si], True)
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
    lead_ramps = []
    for i, _, part in bands:
        share = plays[i][1].focus.share if part is not None else 1.0
        lo, hi = (0.0, 1.0) if part is None else ((0.0, share) if part else (share, 1.0))
        lead_ramps.append(ramp_of(plays[i][1], lo, hi))
    book = PlayBook(
        names=tuple(n for n, _ in plays),
        lead_names=tuple(plays[i][0] for i in lead_idx),
        lead_ramps=tuple(lead_ramps),
        lead_col=tuple(col for _, col, _ in bands),
        seg_mask=[
            [plays[i][1].segments is None or s in plays[i][1].segments for s in segs]
            for i, _, _ in bands
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
        fit_min=fit_min.tolist(),
    )
    _monthly(sc, book, changes, ramps, n_months)
    _costs(sc, book, n_months)
    _capacity(sc, book, ramps, n_months)
    book.targets = cost_targets(sc, motions, changes)
    return book


def capacity_factor(p: Play, ramp: Ramp, n_months: int, end: float) -> np.ndarray:
    """Share of the trained role's selling time left in each month under play p: one minus the
    working days per rep spent in training (`days` in the month of start_day), in reinforcement
    (`reinforcement_days_month`, pro rata from start_day) and lost to the learning dip (`dip` times
    the share of reps who adopted within the last `dip_days`, averaged over the month)."""
    tr = p.training
    lost = np.zeros(n_months)
    if tr is None or p.start_day >= end:
        return np.ones(n_months)
    m0 = int(p.start_day // MONTH_DAYS)
    if m0 < n_months:
        lost[m0] += tr.days / WORKING_DAYS_MONTH
    lo = np.arange(n_months) * MONTH_DAYS
    hi = np.minimum(lo + MONTH_DAYS, end)
    after = np.clip(hi - np.maximum(lo, p.start_day), 0.0, None) / MONTH_DAYS
    lost += after * tr.reinforcement_days_month / WORKING_DAYS_MONTH
    if p.dip > 0 and p.dip_days > 0:
        t = lo[:, None] + (np.arange(16)[None, :] + 0.5) * MONTH_DAYS / 16
        fresh = np.maximum(0.0, ramp.at_array(t) - ramp.at_array(t - p.dip_days))
        lost += p.dip * fresh.mean(axis=1)
    return np.clip(1.0 - lost, 0.0, 1.0)


def _capacity(sc: Scenario, book: PlayBook, ramps, n_months: int) -> None:
    for (_, p), ramp in zip(sc.plays.items(), ramps, strict=True):
        if p.training is None:
            continue
        f = capacity_factor(p, ramp, n_months, sc.total_days)
        role = p.training.role
        book.capacity[role] = book.capacity.get(role, np.ones(n_months)) * f


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
    for i, p in enumerate(sc.plays.values()):
        if p.start_day >= end:
            continue
        if p.cost_once:
            book.costs.append((int(p.start_day // MONTH_DAYS), p.cost_once, i))
        if p.cost_month:
            for m in range(int(p.start_day // MONTH_DAYS), n_months):
                lo, hi = max(m * MONTH_DAYS, p.start_day), min((m + 1) * MONTH_DAYS, end)
                if hi > lo:
                    book.costs.append((m, p.cost_month * (hi - lo) / MONTH_DAYS, i))


def cost_targets(
    sc: Scenario, motions: tuple[CMotion, ...], changes: list
) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """The motions and segments each play's money is spent on (docs/metrics.md#cost-attribution):
    the motions whose stages its changes touch; for SDR-side changes (contact, SLA, queue order,
    lead drops, team.sdr.*) the motions with an SDR stage; for AE-side ones (wait decay, team.ae.*)
    those with an AE stage; for budgets, mix and the MQL bar the marketing-led motions; for
    customer-success changes the expansion motion; a training's role likewise. Segments: the play's
    own `segments`, else all. A play that touches nothing identifiable targets every motion."""
    by_queue = {
        q: tuple(cm.index for cm in motions if any(st.queue == q for st in cm.stages))
        for q in ("sdr", "ae")
    }
    marketing = tuple(cm.index for cm in motions if cm.entry == "marketing")
    expansion = tuple(cm.index for cm in motions if cm.name == sc.expansion)
    segs = list(sc.segments)
    out = {}
    for i, p in enumerate(sc.plays.values()):
        hit: set[int] = set()
        for r in changes:
            if r.play != i:
                continue
            if r.kind in ("p", "days"):
                hit.add(r.key[0])
            elif r.kind == "contact" or r.kind.startswith("team.sdr."):
                hit.update(by_queue["sdr"])
            elif r.kind == "decay" or r.kind.startswith("team.ae."):
                hit.update(by_queue["ae"])
            elif r.kind in ("budget", "mix"):
                hit.update(marketing)
            else:  # customer success: expansion and churn
                hit.update(expansion)
        if p.sla_hours is not None or p.queue_by_fit or p.drop_below is not None:
            hit.update(by_queue["sdr"])
        if p.mql_fit_min is not None:
            hit.update(marketing)
        if p.focus is not None:
            hit.update(cm.index for cm in motions if fnmatch.fnmatchcase(cm.name, p.focus.motions))
        if p.training is not None:
            hit.update(by_queue.get(p.training.role, ()))
        mine = tuple(sorted(hit)) or tuple(cm.index for cm in motions)
        seg = tuple(segs.index(s) for s in p.segments) if p.segments else tuple(range(len(segs)))
        out[i] = (mine, seg)
    return out
