"""Lead fit matters downstream: a lead's ICP-fit score shifts the odds of advancing at every stage
(sim.motions.stage_step), and the lead_scoring play drops the lowest-fit leads before an SDR spends
time on them."""

from __future__ import annotations

import math

import numpy as np
import pytest

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


# -- lead scoring: drop the lowest fit, free SDR time ----------------------------------------------

REPS = 4  # paired replications on common random numbers (same seed); t interval with 3 df


def _scored(*overrides: str) -> tuple[str, ...]:
    """motion=mlg (inbound only: SDR time is inbound time) with lead scoring in full from day 0."""
    return (
        "motion=mlg",
        "plays=[lead_scoring]",
        "plays.lead_scoring.start_day=0",
        "plays.lead_scoring.ramp_days=0",
        *overrides,
    )


def _runs(*overrides: str, reps: int = REPS, fast: bool = True):
    from sim.model import simulate_replication

    sc = scenario(*overrides, fast=fast)[0]
    return [simulate_replication(sc, r) for r in range(reps)]


def _paired_ci(a, b) -> tuple[float, float]:
    """95 % t interval of the mean paired difference b - a."""
    from scipy import stats

    ci = stats.ttest_rel(np.asarray(b, float), np.asarray(a, float)).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


def _sdr_days(r) -> float:
    st = r.columns["staff"]
    return float(np.nansum(st["sdr_inbound_days"][st["role"] == "sdr"]))


def _sdr_drops(r) -> float:
    f = r.funnel
    return float(f.loc[(f["motion"] == "mlg") & (f["stage"] == "sdr_qualify"), "dropped"].sum())


def test_lead_scoring_drops_leads_below_the_threshold_unworked():
    keep = _runs(*_scored("plays.lead_scoring.drop_below=0"))
    drop = _runs(*_scored("plays.lead_scoring.drop_below=0.4"))
    for r in drop:  # no SDR serves a lead scored below the threshold
        assert r.waits["sdr_fit"].min() >= 0.4
    assert any(r.waits["sdr_fit"].min() < 0.4 for r in keep)
    lo, hi = _paired_ci([_sdr_days(r) for r in keep], [_sdr_days(r) for r in drop])
    assert hi < 0, f"SDR inbound days should fall: paired 95% CI [{lo:.4g}, {hi:.4g}]"
    lo, hi = _paired_ci([_sdr_drops(r) for r in keep], [_sdr_drops(r) for r in drop])
    assert lo > 0, f"drops at the SDR stage should rise: paired 95% CI [{lo:.4g}, {hi:.4g}]"


def _new_customers(r) -> float:
    from sim.metrics import scalar_metrics

    return float(scalar_metrics(r, 0.78)["new_customers"])


def test_lead_scoring_raises_new_customers_when_sdrs_are_the_constraint_fast():
    """A small check of the slow test below: 4 paired replications (the queue needs the full run to
    build up: a 120-day run shows no significant effect)."""
    off = _runs("company=sdr_bound", reps=4, fast=False)
    on = _runs("company=sdr_bound", "plays=[lead_scoring]", reps=4, fast=False)
    lo, hi = _paired_ci([_new_customers(r) for r in off], [_new_customers(r) for r in on])
    assert lo > 0, f"new customers: paired 95% CI of on - off [{lo:.4g}, {hi:.4g}]"


@pytest.mark.slow
def test_lead_scoring_raises_new_customers_in_the_sdr_bound_preset():
    """The preset and play as shipped (play from the end of the warm-up, two-month ramp), 20 paired
    replications on common random numbers: the 95 % interval of the difference excludes 0."""
    off = _runs("company=sdr_bound", reps=20, fast=False)
    on = _runs("company=sdr_bound", "plays=[lead_scoring]", reps=20, fast=False)
    lo, hi = _paired_ci([_new_customers(r) for r in off], [_new_customers(r) for r in on])
    assert lo > 0, f"new customers: paired 95% CI of on - off [{lo:.4g}, {hi:.4g}]"
