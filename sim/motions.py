"""Motions as data: compile a motion's stage graph into arrays the engine walks.

A lead walks its motion's stages in order. At each stage it advances with probability p (per segment),
after a duration drawn from the stage's distribution times the segment's `cycle_scale`. A stage whose
seat guard does not match the lead is skipped (no time, no outcome). Stages that queue for a role are
worked inside simpy (sim.model); runs of stages that touch no shared resource are walked here, in numpy
for whole batches of leads (`walk_batch`) or for one lead inside a simpy process (`walk_one`). Both,
and the SDR stage, decide each stage by the one rule in `stage_step`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.close_pull import ClosePull, compile_pull
from sim.config import Motion, Scenario, Stage
from sim.distributions import sample

DROPPED, PASSED, OPEN = 0, 1, 2


@dataclass(frozen=True)
class CStage:
    name: str
    owner: str
    queue: str | None
    p: tuple[float, ...]  # by segment index
    dist: object  # sim.config.Dist or None (instant)
    seats_at_least: int | None
    seats_below: int | None
    dist_lost: object = None  # sim.config.Dist for a drop's duration (`days_lost`), or None
    pull: ClosePull | None = None  # closes pulled into the period (`close_pull`), or None
    stall: float | None = None  # `stall_days`: a longer stay never ends (the deal stays open)
    guarded: bool = field(init=False)  # a seat guard decides whether the stage applies to a lead
    instant: bool = field(init=False)  # no duration distribution: the stage takes no time

    def __post_init__(self) -> None:
        guarded = self.seats_at_least is not None or self.seats_below is not None
        object.__setattr__(self, "guarded", guarded)  # frozen: set once, read on every stage
        object.__setattr__(self, "instant", self.dist is None)

    def lost_factor(self, d):
        """A dropped lead's duration / its drawn duration, for unit draws d (days_lost). A draw of
        exactly 0 (a gamma with a large cv can give one) keeps its 0 days: factor 1, not 0/0."""
        from sim.distributions import remap

        d = np.asarray(d, dtype=float)
        safe = np.where(d == 0.0, 1.0, d)
        return np.where(d == 0.0, 1.0, remap(safe, self.dist, self.dist_lost) / safe)

    def applies_one(self, seats: float) -> bool:
        if self.seats_at_least is not None and seats < self.seats_at_least:
            return False
        return not (self.seats_below is not None and seats >= self.seats_below)

    def applies(self, seats: np.ndarray) -> np.ndarray:
        ok = np.ones(len(seats), dtype=bool)
        if self.seats_at_least is not None:
            ok &= seats >= self.seats_at_least
        if self.seats_below is not None:
            ok &= seats < self.seats_below
        return ok


@dataclass(frozen=True)
class Block:
    """Consecutive stages worked the same way: 'free' (no contention), 'sdr' or 'ae'."""

    kind: str
    start: int
    stop: int
    guarded: bool = False  # every stage in it has a seat guard: some leads skip the whole block


@dataclass(frozen=True)
class CMotion:
    name: str
    index: int
    entry: str
    stages: tuple[CStage, ...]
    opp_stage: int
    acv: str
    blocks: tuple[Block, ...]

    @property
    def n_stages(self) -> int:
        return len(self.stages)


def _probs(st: Stage, segments: list[str]) -> tuple[float, ...]:
    if isinstance(st.p, dict):
        return tuple(float(st.p[s]) for s in segments)
    return tuple(float(st.p) for _ in segments)


def _blocks(stages: tuple[CStage, ...]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    k = 0
    while k < len(stages):
        q = stages[k].queue
        if q == "sdr":  # the SDR works the lead (attempts); later stages do not hold the SDR
            blocks.append(Block("sdr", k, k + 1))
            k += 1
            continue
        j = k
        while j < len(stages) and stages[j].queue == q and (q != "sdr"):
            j += 1
        blocks.append(Block(q or "free", k, j))
        k = j
    return tuple(
        Block(b.kind, b.start, b.stop, all(stages[k].guarded for k in range(b.start, b.stop)))
        for b in blocks
    )


def compile_motion(
    name: str, index: int, m: Motion, segments: list[str], calendar: tuple | None = None
) -> CMotion:
    """A motion's stages as arrays; `calendar` (start date, days run) places `close_pull`'s
    period ends (none: no pull)."""
    stages = tuple(
        CStage(
            name=s,
            owner=st.owner,
            queue=st.queue,
            p=_probs(st, segments),
            dist=st.days,
            seats_at_least=st.seats_at_least,
            seats_below=st.seats_below,
            dist_lost=st.days_lost,
            pull=None if calendar is None else compile_pull(st.close_pull, *calendar),
            stall=st.stall_days,
        )
        for s, st in m.stages.items()
    )
    return CMotion(
        name=name,
        index=index,
        entry=m.entry,
        stages=stages,
        opp_stage=list(m.stages).index(m.opportunity_from),
        acv=m.acv,
        blocks=_blocks(stages),
    )


def compile_motions(sc: Scenario) -> tuple[CMotion, ...]:
    segs = list(sc.segments)
    cal = (sc.start_date, sc.total_days)
    return tuple(compile_motion(n, i, m, segs, cal) for i, (n, m) in enumerate(sc.motions.items()))


def fit_odds(fit: np.ndarray, log_odds_per_fit: float, ref: float) -> np.ndarray:
    """Each lead's odds multiplier exp(beta x (fit - ref)) from its fit score (`lead_fit` keys).
    Computed once per lead, in numpy, so the batch and single-lead walks use the same floats."""
    return np.exp(log_odds_per_fit * (np.asarray(fit, dtype=float) - ref))


def stage_step(st: CStage, p, u, d, scale, dmult=1.0, odds=None, t=None):
    """The stage rule, for one lead (floats) or a batch (arrays of the same shape): the lead advances
    iff u < p', and the stage lasts its unit draw d x `scale` (the segment's cycle scale) x `dmult`
    (the plays' duration factor); 0 for an instant stage; a drop takes its own time when the stage
    has `days_lost`; one longer than the stage's `stall_days` never ends (inf). p' is p with its
    odds multiplied by the lead's fit `odds` (`fit_odds`; None or 1: p itself), so fit shifts every
    stage's log-odds by the same amount. A closing stage with
    `close_pull`, started at time t, may close earlier, inside the period that just ended
    (sim.close_pull). Returns (advanced, days). Every walk (batch, single lead, SDR stage) decides
    here."""
    if odds is not None:
        p = p * odds / (1.0 - p + p * odds)  # logit(p') = logit(p) + log(odds); 0 and 1 stay put
    ok = u < p
    dk = d * 0.0 if st.instant else d * scale * dmult
    if st.dist_lost is not None:  # a drop takes its own time (days_lost)
        if isinstance(ok, np.ndarray):
            with np.errstate(invalid="ignore"):  # a stalled open deal's inf draw (open_pipeline)
                dk = np.where(ok, dk, dk * st.lost_factor(d))
        elif not ok:
            dk *= float(st.lost_factor(np.array([d]))[0])
    if st.stall is not None:  # stalled: it never leaves the stage, open at any horizon
        dk = (
            np.where(dk > st.stall, np.inf, dk)
            if isinstance(dk, np.ndarray)
            else (math.inf if dk > st.stall else dk)
        )
    if st.pull is not None and t is not None:
        dk = _pulled(st.pull, p, u, ok, t, dk)
    return ok, dk


def _pulled(pull: ClosePull, p, u, ok, t, dk):
    """A won close's duration after the period-end pull: its uniform is u / p' (u <= 0, a
    warm-started deal: -u), see sim.close_pull."""
    if isinstance(ok, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(u <= 0, -u, u / np.where(ok, p, 1.0))
        end = t + dk
        new = pull.batch(t, end, ok, v)
        return np.where(new != end, new - t, dk)  # unmoved: the very same float
    if not ok:
        return dk
    v = -u if u <= 0 else u / p
    end = t + dk
    new = pull.at(t, end, v)
    return dk if new == end else new - t


@dataclass
class BatchWalk:
    """Result of walking stages [start, stop) for a batch of leads."""

    status: np.ndarray  # DROPPED / PASSED / OPEN
    stage: np.ndarray  # stage where dropped / in progress at the horizon; `stop` if passed
    t_out: np.ndarray  # time of the drop, or of leaving the block
    entry: np.ndarray  # (n, stop-start) stage entry times; nan where not reached
    dur: np.ndarray  # (n, stop-start) time spent in each stage (0 where skipped or not reached)
    applied: np.ndarray  # (n, stop-start) the stage applied (guard) and was reached
    advanced: np.ndarray  # (n, stop-start) advanced at that stage


def walk_batch(
    cm: CMotion,
    start: int,
    stop: int,
    seg: np.ndarray,
    seats: np.ndarray,
    t0: np.ndarray,
    u: np.ndarray,
    d: np.ndarray,
    scale: np.ndarray,
    horizon: float,
    book,
    pu: np.ndarray | None = None,
    odds: np.ndarray | None = None,
) -> BatchWalk:
    """Walk stages [start, stop) for n leads at once. u, d: (n, stop-start) uniforms and unit durations.

    `book`: the run's sim.plays.PlayBook (the identity book without plays); `pu`: the leads' (n, plays)
    adoption uniforms for per-lead plays, or None. Each lead uses the parameters of the plays it works
    under when it enters the stage. `odds`: the leads' fit odds multipliers (`fit_odds`), or None
    (fit has no effect).
    """
    n, kk = len(t0), stop - start
    status = np.full(n, PASSED, dtype=np.int8)
    stage = np.full(n, stop, dtype=np.int32)
    entry = np.full((n, kk), np.nan)
    dur = np.zeros((n, kk))
    applied = np.zeros((n, kk), dtype=bool)
    advanced = np.zeros((n, kk), dtype=bool)
    alive = np.ones(n, dtype=bool)
    t = t0.astype(float).copy()
    seg_scale = scale[seg]
    P, D = book.p[cm.index], book.dscale[cm.index]
    for j in range(kk):
        k = start + j
        st = cm.stages[k]
        entry[alive, j] = t[alive]
        open_now = alive & (t >= horizon)
        status[open_now] = OPEN
        stage[open_now] = k
        alive &= ~open_now
        app = alive & (st.applies(seats) if st.guarded else True)
        if pu is None:  # no per-lead plays: every lead works under code 0
            p, dm = P[0, k][seg], D[0, k]
        else:
            c = book.codes(pu, seg, t)
            p, dm = P[c, k, seg], D[c, k]
        ok, dj = stage_step(st, p, u[:, j], d[:, j], seg_scale, dm, odds, t)
        end = t + dj
        decided = app & (end < horizon)
        still = app & ~decided  # in progress at the horizon
        status[still] = OPEN
        stage[still] = k
        applied[:, j] = decided
        advanced[:, j] = decided & ok
        dur[:, j] = np.where(decided, dj, 0.0)
        drop = decided & ~ok
        status[drop] = DROPPED
        stage[drop] = k
        t = np.where(decided, end, t)
        alive &= ~(still | drop)
    return BatchWalk(status, stage, t, entry, dur, applied, advanced)


def walk_one(
    cm: CMotion,
    start: int,
    stop: int,
    seg: int,
    seats: float,
    t: float,
    u: list[float],
    d: list[float],
    scale: float,
    horizon: float,
    first_p_mult: float,
    funnel,
    book,
    pu: list[float] | None = None,
    odds: float | None = None,
    dmult: float = 1.0,
    spend=None,
    decay: float = math.inf,
    rep: float = 1.0,
) -> tuple[int, int, float, float, float]:
    """Walk stages [start, stop) for one lead; u, d indexed by stage. Returns (status, stage, t,
    opp_t, days waited).

    `first_p_mult` scales the first applicable stage's probability (speed-to-lead, waiting for an AE).
    Stage outcomes decided before the horizon go to `funnel`. `book`, `pu`, `odds`: as for
    `walk_batch`, for one lead. `dmult`: the lead's own duration factor (its deal size at AE stages:
    sim.model.customers.DealSize), on top of the plays'.

    With `spend` (AE selling time, sim.model.ae_hours), each stage first books its work:
    `spend(t)` gives (when work starts, when it is done); the days it waited for that erode its
    chance by exp(-wait / `decay`) and count as days waited, and it lasts until its work is done if
    that is later than its own duration. `rep` scales the chance of AE-queued stages (capped at 1).
    Without `spend` nobody waits and the walk is the plain stage rule.
    """
    opp_t = float("nan")
    mult = first_p_mult
    mi, opp_stage, stages = cm.index, cm.opp_stage, cm.stages
    P, D = book.p_list[mi], book.d_list[mi]
    record = funnel.one
    waited = 0.0
    c = 0  # the plays the lead works under: none without per-lead plays
    for k in range(start, stop):
        st = stages[k]
        if k == opp_stage:
            opp_t = t
        if t >= horizon:
            return OPEN, k, t, opp_t, waited
        if st.guarded and not st.applies_one(seats):
            continue
        if pu is not None:
            c = book.code(pu, seg, t)
        if spend is None:
            ok, dk = stage_step(
                st, P[c][k][seg] * mult, u[k], d[k], scale, D[c][k] * dmult, odds, t
            )
            end = t + dk
            if end >= horizon:
                return OPEN, k, t, opp_t, waited
            record(mi, k, end, ok, dk)
        else:
            begin, done = spend(t)
            wait = begin - t
            if wait >= horizon - t:
                return OPEN, k, t, opp_t, waited
            waited += wait
            p = P[c][k][seg] * mult * math.exp(-wait / decay)
            if rep != 1.0 and st.queue == "ae":
                p = p * rep
                p = p if p < 1.0 else 1.0  # min(1.0, p), without the builtin's call
            ok, dk = stage_step(st, p, u[k], d[k], scale, D[c][k] * dmult, odds, t)
            end = t + dk
            if done > end:
                end = done
            if end >= horizon:
                return OPEN, k, t, opp_t, waited
            record(mi, k, end, ok, end - t)
        mult = 1.0
        t = end
        if not ok:
            return DROPPED, k, t, opp_t, waited
    return PASSED, stop, t, opp_t, waited


def draw_stages(
    cm: CMotion, streams, n: int, start: int = 0, stop: int | None = None, source: str = ""
):
    """Uniforms and unit durations for n leads over stages [start, stop), one named stream per stage.

    Stream names are `outcome/<motion>/<stage>/<source>` and `duration/<motion>/<stage>/<source>`, so
    changing one stage, or the volume of another source feeding the motion, never shifts these draws.
    """
    stop = cm.n_stages if stop is None else stop
    u = np.empty((n, stop - start))
    d = np.zeros((n, stop - start))
    for j, st in enumerate(cm.stages[start:stop]):
        u[:, j] = streams(f"outcome/{cm.name}/{st.name}/{source}").random(n)
        if st.dist is not None:
            d[:, j] = sample(st.dist, streams(f"duration/{cm.name}/{st.name}/{source}"), n)
    return u, d
