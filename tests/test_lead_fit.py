"""Lead fit matters downstream: a lead's ICP-fit score shifts the odds of advancing at every stage
(sim.motions.stage_step), and the lead_scoring play drops the lowest-fit leads before an SDR spends
time on them."""

from __future__ import annotations

import math

import numpy as np

from sim.motions import compile_motions, fit_odds, stage_step, walk_batch
from sim.plays import compile_plays

from .conftest import scenario


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_fit_moves_a_stages_log_odds_by_beta_times_fit_minus_ref():
    sc, _ = scenario()
    st = compile_motions(sc)[0].stages[0]
    for p in (0.1, 0.5, 0.85):
        for fit in (0.2, 0.5, 0.9):
            odds = float(fit_odds(np.array([fit]), 1.5, 0.5)[0])
            u = np.linspace(0, 1, 200_001)[:-1]  # a grid: the share below p' is p' to 1e-5
            ok, _ = stage_step(st, p, u, np.ones_like(u), 1.0, 1.0, odds)
            assert abs(_logit(ok.mean()) - (_logit(p) + 1.5 * (fit - 0.5))) < 1e-3


def test_high_fit_leads_convert_better_at_every_stage_of_the_walk():
    """20,000 leads of fit 0.8 vs the same draws at fit 0.5 (= ref: each stage's own p). At every
    stage the share advancing is p' = p o / (1 - p + p o), o = exp(beta (0.8 - 0.5)); tolerance: 4
    binomial standard errors of the leads that reached the stage."""
    sc, _ = scenario("motion=mlg")
    cm = next(c for c in compile_motions(sc) if c.name == "mlg")
    book = compile_plays(sc, compile_motions(sc), 24)
    rng = np.random.default_rng(3)
    n, k = 20_000, cm.n_stages
    seg = np.ones(n, dtype=int)  # mid
    seats = np.full(n, 10.0)
    u, d = rng.random((n, k)), np.ones((n, k))
    scale = np.ones(3)
    beta = sc.lead_fit.log_odds_per_fit
    assert beta > 0
    odds = fit_odds(np.full(n, 0.8), beta, sc.lead_fit.ref)
    hi = walk_batch(cm, 0, k, seg, seats, np.zeros(n), u, d, scale, 1e9, book, None, odds)
    mid = walk_batch(cm, 0, k, seg, seats, np.zeros(n), u, d, scale, 1e9, book, None)
    o = float(odds[0])
    for j, st in enumerate(cm.stages):
        p = st.p[1]
        n_hi, n_mid = hi.applied[:, j].sum(), mid.applied[:, j].sum()
        rate_hi, rate_mid = hi.advanced[:, j].sum() / n_hi, mid.advanced[:, j].sum() / n_mid
        q = p * o / (1 - p + p * o)
        assert abs(rate_hi - q) < 4 * math.sqrt(q * (1 - q) / n_hi), st.name
        assert abs(rate_mid - p) < 4 * math.sqrt(p * (1 - p) / n_mid), st.name
        assert rate_hi > rate_mid, st.name
    assert hi.status.tolist().count(1) > 1.5 * mid.status.tolist().count(1)  # won end to end


def test_zero_elasticity_turns_fit_off():
    from sim.model.sources import lead_odds

    class W:
        sc = scenario("lead_fit.log_odds_per_fit=0")[0]

    assert lead_odds(W(), np.array([0.1, 0.9])) is None
