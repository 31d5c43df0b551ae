"""Customer success: coverage by CSMs, renewal or churn at term, expansion opportunities.

Nothing here contends for a shared queue, so it runs after the simpy part, month by month over arrays
of customers: coverage = CSM book capacity / active customers; at each term end a customer churns with
probability 1 - (1 - h)^term, h the segment's monthly hazard, lowered by `churn_reduction` if covered;
each month a customer raises an expansion opportunity with its segment's rate (times
`uncovered_expansion_factor` if not covered), worked through the expansion motion's stages.
"""

from __future__ import annotations

import numpy as np

from sim.config import Scenario
from sim.motions import OPEN, PASSED, CMotion, draw_stages, walk_batch
from sim.plays import PlayBook
from sim.records import MONTH_DAYS, Recorder
from sim.streams import Streams


def run_success(
    sc: Scenario,
    rec: Recorder,
    csm_fte: np.ndarray,
    expansion: CMotion | None,
    streams: Streams,
    n_months: int,
    end: float,
    scale: np.ndarray,
    book: PlayBook,
) -> np.ndarray:
    """Decide churn days (nan = still a customer at the end) and record expansion opportunities.

    `book`: the run's sim.plays.PlayBook, whose monthly paths may change CS parameters over time."""
    c = rec.customers_so_far()
    start, acv, term, seg = c["start_day"], c["acv"], c["term_days"], c["segment"]
    n = len(start)
    churn = np.full(n, np.nan)
    if n == 0:
        return churn
    segs = list(sc.segments.values())
    hazard = np.array([s.churn_month for s in segs])[seg]
    exp_rate = np.array([s.expansion_month for s in segs])[seg]
    uplift = np.array([s.expansion_uplift for s in segs])[seg]
    csm = sc.team.csm
    book_size, churn_red, uncovered = (
        csm.book_size,
        csm.churn_reduction,
        csm.uncovered_expansion_factor,
    )
    paths = _monthly_paths(sc, book)
    # next renewal: the first term end after the scenario start
    k = np.maximum(np.ceil(-start / term), 1.0)
    renew = start + k * term
    u_cov, u_churn = streams("success/coverage"), streams("success/churn")
    u_exp = streams("success/expansion")
    raised: list[tuple[np.ndarray, float, float]] = []  # expansion opportunities by month
    for m in range(n_months):
        t0, t1 = m * MONTH_DAYS, min((m + 1) * MONTH_DAYS, end)
        active = (start <= t0) & np.isnan(churn)
        n_act = int(active.sum())
        if n_act == 0:
            continue
        if paths:  # plays change CS parameters month by month
            book_size, churn_red, uncovered = (
                paths[k][m] if k in paths else v
                for k, v in (
                    ("team.csm.book_size", csm.book_size),
                    ("team.csm.churn_reduction", csm.churn_reduction),
                    ("team.csm.uncovered_expansion_factor", csm.uncovered_expansion_factor),
                )
            )
            if "churn_month" in paths:
                hazard = paths["churn_month"][m][seg]
            if "expansion_month" in paths:
                exp_rate = paths["expansion_month"][m][seg]
        coverage = min(1.0, csm_fte[m] * book_size / n_act)
        covered = np.zeros(n, dtype=bool)
        covered[active] = u_cov.random(n_act) < coverage
        due = active & (renew >= t0) & (renew < t1)
        h = hazard * np.where(covered, 1.0 - churn_red, 1.0)
        p_churn = 1.0 - (1.0 - h) ** (term / MONTH_DAYS)
        leave = due & (u_churn.random(n) < p_churn)
        churn[leave] = renew[leave]
        renew[due & ~leave] += term[due & ~leave]
        if expansion is None:
            continue
        rate = exp_rate * np.where(covered, 1.0, uncovered)
        raise_opp = active & ~leave & (u_exp.random(n) < rate)
        idx = np.flatnonzero(raise_opp)
        if len(idx):
            raised.append((idx, t0, t1))
    if raised:  # every month's expansion opportunities walked in one batch, in month order
        idx = np.concatenate([i for i, _, _ in raised])
        t0 = np.concatenate([np.full(len(i), a) for i, a, _ in raised])
        t1 = np.concatenate([np.full(len(i), b) for i, _, b in raised])
        _expand(rec, expansion, idx, seg, acv * uplift, t0, t1, streams, end, scale, book)
    return churn


def _monthly_paths(sc: Scenario, book) -> dict[str, np.ndarray]:
    """CS parameters that plays change: team.csm.* -> values by month; churn_month and
    expansion_month -> (months, segments)."""
    out = {k[0]: v for k, v in book.monthly.items() if k[0].startswith("team.csm.")}
    for name in ("churn_month", "expansion_month"):
        if any(k[0] == name for k in book.monthly):
            n_months = len(next(iter(book.monthly.values())))
            out[name] = np.stack(
                [
                    book.monthly.get((name, s), np.full(n_months, getattr(seg, name)))
                    for s, seg in sc.segments.items()
                ],
                axis=1,
            )
    return out


def _expand(rec, cm: CMotion, idx, seg, amount, t0, t1, streams, end, scale, book) -> None:
    """Expansion opportunities of customers `idx`, raised uniformly in [t0, t1) (their month), walked
    through the expansion motion. The outcomes feed nothing back into churn, so all months go in one
    batch; each stream is drawn in month order, the same values as month by month."""
    n = len(idx)
    t = t0 + streams("success/expansion_day").random(n) * (t1 - t0)
    u, d = draw_stages(cm, streams, n, source="customers")
    pu = book.draw(streams, cm.name, "customers", n) if book.per_lead else None
    w = walk_batch(cm, 0, cm.n_stages, seg[idx], np.zeros(n), t, u, d, scale, end, book, pu)
    rec.batch(cm.index, 0, w)
    outcome = np.where(w.status == PASSED, 1, np.where(w.status == OPEN, 2, 0))
    closed = np.where(w.status == OPEN, np.nan, w.t_out)
    stage = np.minimum(w.stage, cm.n_stages - 1)
    rec.opportunities(
        "expansion",
        cm.index,
        seg[idx],
        "customer",
        "CSM",
        t,
        t,
        closed,
        stage,
        outcome,
        amount[idx],
        customer=idx,
    )
