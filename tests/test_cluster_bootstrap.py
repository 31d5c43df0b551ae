"""The parameter draws' cluster bootstrap (`backtest.cluster_days`): the outcome refits resample
creation cohorts, not single deals, so the band carries how much cohorts differ.

Synthetic deals created over 280 days; each 7-day cohort has its own chance to be won (uniform on
0.15..0.65, the same for all its deals). Fixed seeds. The spread of P(won) over 30 draws is compared
with and without clustering on the same fit; under this heterogeneity the cohort resample's spread
is 1.7 times the per-deal one with these seeds (0.0174 against 0.0102; a design effect
sqrt(1 + (m - 1) ICC) with m ~ 70 deals a cohort), so the test asks for 1.4 times: a per-deal
resample (ratio 1) fails it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.fit import fit
from sim.calibrate.importer import CrmData
from sim.calibrate.uncertainty import cluster_counts, draw
from tests.synthetic_crm import crm_from_days

DAY0, DAYS = pd.Timestamp("2024-01-01"), 280


def cohort_crm(seed: int = 3, n: int = 2800) -> CrmData:
    rng = np.random.default_rng(seed)
    created = np.floor(rng.uniform(0, DAYS, n))
    p_cohort = rng.uniform(0.15, 0.65, DAYS // 7 + 1)
    won = rng.random(n) < p_cohort[(created // 7).astype(int)]
    dur = np.where(won, rng.gamma(4, 5, n), rng.gamma(2, 5, n))
    close = created + np.maximum(np.ceil(dur), 1.0)
    seen = close < DAYS
    return crm_from_days("cohorts", DAY0, created, close, won, seen, DAYS - 1)


def test_a_cohort_shares_one_count():
    created = (DAY0 + pd.to_timedelta(np.arange(70) // 2, unit="D")).to_numpy()
    w = cluster_counts(created, 7, np.random.default_rng(1))
    day = (created - np.datetime64("1970-01-01")).astype("timedelta64[D]").astype(int)
    for c in np.unique(day // 7):
        assert len(set(w[day // 7 == c])) == 1
    assert len(set(w)) > 1  # cohorts differ


def test_cohort_resample_widens_p_win_when_cohorts_differ():
    cal = fit(cohort_crm(), classes=(1,), seasonality=False, half_life=math.inf)

    def spread(cluster_days: int) -> float:
        p = [draw(cal, b, 42, cluster_days).segments["all"].outcome.p_win for b in range(30)]
        return float(np.std(p))

    assert spread(7) > 1.4 * spread(0), (spread(7), spread(0))


def test_cluster_days_is_validated():
    from sim.calibrate.backtest import BacktestError, settings

    keys = {"cutoff": "2024-06-30", "parameter_draws": 2}
    assert settings({"backtest": {**keys, "cluster_days": 7}}).cluster_days == 7
    assert settings({"backtest": keys}).cluster_days == 0  # unset: per-deal draws
    with pytest.raises(BacktestError, match=r"backtest.cluster_days = -1: must be >= 0"):
        settings({"backtest": {**keys, "cluster_days": -1}})


def test_a_predictive_draw_adds_the_horizons_own_cohorts():
    """backtest.future_cohorts: for a horizon of 28 days (m = 4 cohorts) against n = 41 fitted
    ones, the variance of P(won) over draws is s2 (1/n + 1/m), 1 + n/m ~ 11 times the fit's own:
    the spread sqrt(11) ~ 3.3 times; asked for 2 (30 draws: the ratio of two sample sds is known to
    about +-25 %, so 2 fails only if the predictive part were missing or halved)."""
    cal = fit(cohort_crm(), classes=(1,), seasonality=False, half_life=math.inf)

    def spread(future_days: float) -> float:
        p = [draw(cal, b, 42, 7, future_days).segments["all"].outcome.p_win for b in range(30)]
        return float(np.std(p))

    assert spread(28.0) > 2.0 * spread(0.0), (spread(28.0), spread(0.0))


def test_a_predictive_draw_keeps_about_n_m_over_n_plus_m_cohorts():
    """Poisson(m / (n + m)) per cohort: with n = 41, m = 4 the counts sum to Poisson(~3.6) over
    the cohorts, not Poisson(41) (P(Poisson(3.6) >= 12) < 0.001)."""
    created = (DAY0 + pd.to_timedelta(np.arange(41 * 7), unit="D")).to_numpy()
    w = cluster_counts(created, 7, np.random.default_rng(2), future_days=28.0)
    day = (created - np.datetime64("1970-01-01")).astype("timedelta64[D]").astype(int)
    per_cohort = [w[day // 7 == c][0] for c in np.unique(day // 7)]
    assert len(per_cohort) >= 41 and sum(per_cohort) < 12


def test_future_cohorts_is_validated():
    from sim.calibrate.backtest import BacktestError, settings

    keys = {"cutoff": "2024-06-30", "parameter_draws": 2, "cluster_days": 7}
    assert settings({"backtest": keys}).future_cohorts is False  # unset: the fit's error only
    assert settings({"backtest": {**keys, "future_cohorts": True}}).future_cohorts is True
    with pytest.raises(BacktestError, match=r"backtest.future_cohorts = 'yes': true or false"):
        settings({"backtest": {**keys, "future_cohorts": "yes"}})


def test_a_refit_run_to_a_spike_at_zero_keeps_the_point_fit():
    """A resample of few cohorts can drive a class's time to close to ~0 days, which calibrated.yaml
    would round to a mean of 0 (a config error): such a refit is not usable."""
    import dataclasses

    from sim.calibrate.fit import DistFit
    from sim.calibrate.uncertainty import _usable

    of = fit(cohort_crm(), classes=(1,), seasonality=False, half_life=math.inf).segments["all"]
    good = of.outcome
    assert _usable(good)
    c = good.classes[0]
    spike = dataclasses.replace(c, won=DistFit(c.won.dist, 1e-6, c.won.cv))
    assert not _usable(dataclasses.replace(good, classes=(spike,)))
