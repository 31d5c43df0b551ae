"""One stage rule: the batch walk (numpy, many leads) and the single-lead walk (inside simpy) decide
every stage the same way from the same draws, with and without plays and a stage's own lost time."""

from __future__ import annotations

import numpy as np
import pytest

from sim.motions import compile_motions, fit_odds, walk_batch, walk_one
from sim.plays import compile_plays

from .conftest import scenario


class Funnel:
    """Stage outcomes as walk_one reports them: (motion, stage, month-free key) -> counts and days."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def one(self, motion: int, stage: int, t: float, advanced: bool, days: float) -> None:
        self.rows.append((stage, t, bool(advanced), days))


CASES = [
    ("default mix", ()),
    ("per-lead plays", ("plays=[objection_training,pricing_clarity,speed_to_lead_sla]",)),
    ("seat guards", ("motion=plg",)),
    ("enterprise", ("company=cyber_enterprise", "motion=slg")),
    ("lost time", ("+motions.slg.stages.proposal.days_lost={dist: gamma, mean: 4, cv: 0.6}",)),
    ("no fit effect", ("lead_fit.log_odds_per_fit=0",)),
    (
        "close pull",
        (
            "+motions.slg.stages.negotiation.close_pull="
            "{quarter_share: 0.7, quarter_days: 20, month_share: 0.4, month_days: 6}",
            "motion=slg",
        ),
    ),
]


@pytest.mark.parametrize("name, overrides", CASES, ids=[c[0] for c in CASES])
def test_batch_and_single_walks_agree_on_the_same_draws(name, overrides):
    sc, _ = scenario(*overrides)
    motions = compile_motions(sc)
    book = compile_plays(sc, motions, 24)
    rng = np.random.default_rng(7)
    n, horizon = 400, 300.0
    scale = np.array([s.cycle_scale for s in sc.segments.values()])
    for cm in motions:
        k = cm.n_stages
        seg = rng.integers(0, len(scale), n)
        seats = np.maximum(1.0, np.round(rng.lognormal(2.0, 1.5, n)))
        t0 = rng.uniform(0, 250, n)
        u = rng.random((n, k))
        d = rng.gamma(2.0, 10.0, (n, k))
        d[:, [j for j, st in enumerate(cm.stages) if st.dist is None]] = 0.0
        pu = book.draw(lambda name: rng, cm.name, "x", n) if book.per_lead else None
        lf = sc.lead_fit  # every lead's fit shifts every stage's odds (None: no fit effect)
        odds = (
            fit_odds(rng.beta(2, 2, n), lf.log_odds_per_fit, lf.ref)
            if lf.log_odds_per_fit
            else None
        )
        batch = walk_batch(cm, 0, k, seg, seats, t0, u, d, scale, horizon, book, pu, odds)
        for i in range(n):
            f = Funnel()
            status, stage, t, *_ = walk_one(
                cm,
                0,
                k,
                int(seg[i]),
                float(seats[i]),
                float(t0[i]),
                u[i].tolist(),
                d[i].tolist(),
                float(scale[seg[i]]),
                horizon,
                1.0,
                f,
                book,
                pu[i].tolist() if pu is not None else None,
                float(odds[i]) if odds is not None else None,
            )
            assert (status, stage, t) == (batch.status[i], batch.stage[i], batch.t_out[i]), (
                cm.name,
                i,
            )
            decided = [
                (j, bool(batch.advanced[i, j]), batch.dur[i, j])
                for j in range(k)
                if batch.applied[i, j]
            ]
            assert [(j, a, dd) for j, _, a, dd in f.rows] == decided, (cm.name, i)
        assert batch.applied.any() and (batch.status == 0).any()  # the case exercised decisions


def test_a_zero_duration_draw_of_a_stage_with_days_lost_stays_zero_not_nan():
    """A gamma with a large cv can draw exactly 0 days; the lost time of such a draw is 0 days (it
    was remap(0) / 0, a NaN duration that reached the records)."""
    from sim.config import Dist
    from sim.motions import CStage

    st = CStage(
        name="deal",
        owner="ae",
        queue=None,
        p=(0.5,),
        dist=Dist(dist="gamma", mean=10.0, cv=6.5),
        seats_at_least=None,
        seats_below=None,
        dist_lost=Dist(dist="gamma", mean=3.0, cv=1.0),
    )
    f = st.lost_factor(np.array([0.0, 5.0]))
    assert f[0] == 1.0 and np.isfinite(f).all() and f[1] > 0
