"""Fits summed over distinct (time, kind) pairs with counts are the fits over the deals (issue 13:
a million deals in whole days are a few thousand pairs)."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.duration.survfunc import CumIncidenceRight, SurvfuncRight

from sim.calibrate.fit import (
    MIN_DAYS,
    _loglik_obs,
    _unpack,
    aalen_johansen,
    compress,
    fit_outcomes,
    plausible_p_win,
)


def day_deals(seed: int = 3, n: int = 2000, losses: bool = True):
    """Deals in whole days, a third won (gamma, mean 30 d), the rest lost (mean 10 d) or, without
    losses, never closing; cut at day 200, so some are open (censored at their age)."""
    rng = np.random.default_rng(seed)
    created = np.floor(rng.uniform(0, 200, n))
    won = rng.random(n) < 1 / 3
    d = np.floor(np.where(won, rng.gamma(2, 15, n), rng.gamma(1, 10, n)))
    closes = won | losses
    kind = np.where(~closes | (created + d > 200), 0, np.where(won, 1, 2))
    t = np.where(kind == 0, 200 - created + 1, d)
    return t, kind


def test_compress_counts_each_pair_once():
    t = np.array([3.0, 3.0, 3.0, 5.0, 5.0])
    kind = np.array([1, 2, 1, 0, 0])
    tu, ku, w = compress(t, kind)
    assert list(zip(tu, ku, w, strict=True)) == [(3.0, 1, 2.0), (3.0, 2, 1.0), (5.0, 0, 2.0)]
    tu, ku, w = compress(t, kind, np.array([0, 1, 2, 0, 0]))  # a resample's counts
    assert list(zip(tu, ku, w, strict=True)) == [(3.0, 1, 2.0), (3.0, 2, 1.0)]


def test_the_likelihood_over_pairs_with_counts_is_the_sum_over_deals():
    t, kind = day_deals()
    tu, ku, w = compress(t, kind)
    assert len(tu) < len(t) / 3
    x = np.array([2.0, -0.5, np.log(30), np.log(0.7), np.log(10), np.log(1.0)] * 2)
    x = np.r_[x[:1], x[6:7], x[1:6], x[7:]]  # two classes: both weights first
    for k in (1, 2):
        xk = x if k == 2 else np.r_[x[0], x[2:7]]
        per_deal = _loglik_obs(xk, t, kind, k, "gamma", True, 1.0).sum()
        assert w @ _loglik_obs(xk, tu, ku, k, "gamma", True, 1.0) == pytest.approx(per_deal, 1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels divides by 0 at the end
@pytest.mark.parametrize("losses", [True, False])
def test_aalen_johansen_on_counts_is_statsmodels_on_the_deals(losses):
    """The estimate and its standard error (hence the 90 % interval) from counts agree with
    statsmodels' CumIncidenceRight (or Kaplan-Meier without losses) on the deals one by one."""
    t, kind = day_deals(losses=losses)
    times, won, lost, ci = aalen_johansen(t, kind)
    tt = np.maximum(t, MIN_DAYS)
    if losses:
        r = CumIncidenceRight(tt, kind)
        ref_t, ref_won, ref_lost, se = r.times, r.cinc[0], r.cinc[1], r.cinc_se[0]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = SurvfuncRight(tt, (kind == 1).astype(int))
        ref_t, ref_won, se = r.surv_times, 1 - r.surv_prob, r.surv_prob_se
        ref_lost = np.zeros_like(ref_won)
    np.testing.assert_allclose(times, ref_t)
    np.testing.assert_allclose(won, ref_won, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lost, ref_lost, rtol=1e-12, atol=1e-15)
    last = se[np.isfinite(se)][-1]
    half = 1.6448536269514722 * last
    assert ci == pytest.approx((ref_won[-1] - half, ref_won[-1] + half), rel=1e-9)


def test_weights_are_frequency_weights():
    """Doubling every deal by weight 2 or by listing it twice gives the same estimate and fit."""
    t, kind = day_deals(n=800)
    twice = aalen_johansen(np.r_[t, t], np.r_[kind, kind])
    weighted = aalen_johansen(t, kind, np.full(len(t), 2.0))
    np.testing.assert_allclose(weighted[1], twice[1], rtol=1e-12)
    assert weighted[3] == pytest.approx(twice[3], rel=1e-9)
    assert plausible_p_win(t, kind, np.full(len(t), 2.0)) == pytest.approx(
        plausible_p_win(np.r_[t, t], np.r_[kind, kind]), rel=1e-9
    )


def test_a_weighted_fit_is_the_fit_of_the_repeated_deals():
    """The MLE of deals listed with multiplicities equals the weighted MLE (a bootstrap resample is
    a reweighting): same P(won) and durations to the optimiser's tolerance."""
    t, kind = day_deals(n=600)
    w = np.random.default_rng(0).multinomial(len(t), np.full(len(t), 1 / len(t)))
    a = fit_outcomes(np.repeat(t, w), np.repeat(kind, w), 1, "gamma", True, 1.0)
    b = fit_outcomes(t, kind, 1, "gamma", True, 1.0, weights=w)
    assert b.n == a.n == len(t)
    assert b.p_win == pytest.approx(a.p_win, rel=1e-6)
    assert b.classes[0].won.mean == pytest.approx(a.classes[0].won.mean, rel=1e-5)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-9)


def test_a_class_closing_all_on_one_day_keeps_a_cv_the_engine_can_draw_from():
    """Every loss on day 3: the interval-censored likelihood is largest for a lost-time spike
    inside (2, 3] (cv -> 0), which calibrated.yaml would round to cv 0, a
    division by zero in the engine (seen at maven_crm's 2017-04-30 cutoff): it is kept at CV_FLOOR."""
    from sim.calibrate.fit import CV_FLOOR

    rng = np.random.default_rng(5)
    n = 600
    won = rng.random(n) < 0.4
    t = np.where(won, np.floor(rng.gamma(2, 15, n)), 3.0)
    of = fit_outcomes(t, np.where(won, 1, 2), 1, "gamma", True, 1.0)
    assert of.classes[0].lost.cv == CV_FLOOR
    assert of.classes[0].lost.as_config()["cv"] > 0
    assert of.classes[0].won.cv > 0.3


def test_on_the_example_export_the_fit_over_pairs_is_the_fit_over_deals():
    """The shipped example export (no ../shared needed): each segment's one-class fit over the
    distinct pairs agrees with the same maximum likelihood summed deal by deal (what the fit did
    before), to the optimiser's tolerance (1e-6 relative)."""
    from pathlib import Path

    import yaml
    from statsmodels.base.model import GenericLikelihoodModel

    from sim.calibrate.fit import _start, fit
    from sim.calibrate.importer import load

    repo = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((repo / "configs" / "data" / "crm_example.yaml").read_text())
    data["dir"] = str(repo / "examples" / "crm_example")
    cal = fit(load(data), classes=(1,), sizes=("lognormal",))
    d = cal.deals
    for name, seg in cal.segments.items():
        if seg.pooled_shape:
            continue
        t, kind = d.t[d.segment == name], d.kind[d.segment == name]
        entry = d.entry[d.segment == name]  # deals created before the first close: delayed entry

        class PerDeal(GenericLikelihoodModel):
            def loglikeobs(self, params, t=t, kind=kind, entry=entry):
                return _loglik_obs(params, t, kind, 1, "gamma", True, d.resolution, entry)

        x0 = _start(np.maximum(t, MIN_DAYS), kind, 1, True)
        names = [f"x{i}" for i in range(len(x0))]
        ref = PerDeal(t, None, extra_params_names=names).fit(
            start_params=x0, method="bfgs", maxiter=2000, disp=0
        )
        # P(won) and the durations to 1e-6; the stuck share (1e-8 or so here, a flat direction of
        # the likelihood whose logit the optimiser leaves anywhere near -19) to 1e-8 absolute
        ((w, p, *shape),), stuck = _unpack(np.asarray(ref.params), 1, True)
        c = seg.outcome.classes[0]
        assert seg.outcome.p_win == pytest.approx(w * p, rel=1e-6)
        got = [c.won.mean, c.won.cv, c.lost.mean, c.lost.cv]
        np.testing.assert_allclose(got, shape, rtol=1e-6)
        assert seg.outcome.stuck == pytest.approx(stuck, abs=1e-8)
        assert seg.outcome.loglik == pytest.approx(ref.llf, rel=1e-9)
