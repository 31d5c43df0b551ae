"""Parameter uncertainty in the backtest's band (issue 11, item 2): blocks of replications run with
parameters refitted on bootstrap resamples of the deals (sim.calibrate.uncertainty)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from sim.calibrate import backtest
from sim.calibrate.uncertainty import block_of, draw, draws

from .test_backtest import FAST_FIT, calibrate_config, synthetic_crm

CUTOFF = pd.Timestamp("2020-08-31")


@pytest.fixture(scope="module")
def fitted():
    """The synthetic table of test_backtest (known parameters), fitted at a cutoff: (crm, cal,
    settings, open-pipeline rows)."""
    crm = synthetic_crm()
    cfg = calibrate_config(
        ["seed=5", *FAST_FIT, f"backtest.cutoff={CUTOFF.date()}", "backtest.horizon_days=60"]
    )
    cal = backtest.fit_at(crm, cfg, CUTOFF)
    s = backtest.settings(cfg)
    rows, _ = backtest.open_pipeline(
        crm, cal, CUTOFF, backtest.stale_limit(crm.opportunities, CUTOFF, s)
    )
    return crm, cal, s, rows


def _params(cal) -> tuple:
    seg = next(iter(cal.segments.values()))
    return (seg.outcome.params, seg.size, cal.arrivals.level, tuple(cal.arrivals.seasonality))


def test_a_draw_is_reproducible_and_draws_differ(fitted):
    _, cal, _, _ = fitted
    assert _params(draw(cal, 3, 5)) == _params(draw(cal, 3, 5))
    assert _params(draw(cal, 3, 5)) != _params(draw(cal, 4, 5))
    assert _params(draw(cal, 3, 5)) != _params(draw(cal, 3, 6))


@pytest.mark.slow  # 30 refits: about 12 s
def test_draws_scatter_around_the_fit_by_its_standard_error(fitted):
    """Bootstrap P(won) draws centre on the fit and spread like its delta-method interval: the
    bootstrap sd is within a factor 2 of the interval's (30 draws give the sd to about +-13 %), and
    the mean within 4 of its standard errors of the fit."""
    _, cal, _, _ = fitted
    of = next(iter(cal.segments.values())).outcome
    se = (of.p_win_ci[1] - of.p_win_ci[0]) / (2 * 1.6448536)
    cals = draws(cal, 30, 9)
    p = np.array([next(iter(c.segments.values())).outcome.p_win for c in cals])
    assert se / 2 < p.std(ddof=1) < 2 * se
    assert abs(p.mean() - of.p_win) < 4 * p.std(ddof=1) / math.sqrt(len(p))
    levels = np.array([c.arrivals.level for c in cals])
    assert levels.std() > 0 and abs(levels.mean() / cal.arrivals.level - 1) < 0.05


def test_blocks_cover_the_replications_in_order():
    assert [block_of(r, 10, 3) for r in range(10)] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [block_of(r, 4, 4) for r in range(4)] == [0, 1, 2, 3]


def test_parameter_draws_are_a_count_capped_at_the_replications():
    s = backtest.settings({"backtest": {"cutoff": "2020-08-31", "replications": 12, "parameter_draws": 30}})  # fmt: skip
    assert s.parameter_draws == 12  # one replication per block at most
    with pytest.raises(backtest.BacktestError, match="parameter_draws = -1: must be >= 0"):
        backtest.settings({"backtest": {"cutoff": "2020-08-31", "parameter_draws": -1}})
    with pytest.raises(backtest.BacktestError, match="parameter_draws = True: a whole number"):
        backtest.settings({"backtest": {"cutoff": "2020-08-31", "parameter_draws": True}})
    s = backtest.settings({"backtest": {"cutoff": "2020-08-31"}})
    assert s.parameter_draws == 0  # off unless asked for (configs/calibrate.yaml sets the default)


def test_the_same_seed_gives_the_same_band_whatever_the_workers(fitted):
    _, cal, s, rows = fitted
    out = []
    for workers in (1, 2):
        sw = dataclasses.replace(s, replications=12, parameter_draws=4, workers=workers)
        out.append(backtest.simulate(backtest.scenario_at(cal, rows, CUTOFF, sw, 5), CUTOFF, sw))
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.slow  # 20 refits and 2 x 200 simulated futures: about 25 s
def test_parameter_draws_widen_the_band_and_keep_its_median(fitted):
    """Paired on common random numbers (replication r uses the same streams with and without
    draws): the P10-P90 band of won deals is wider with parameter draws (the fit's sampling error
    adds to the world's randomness: here about a fifth wider), and the median moves by less than 4
    standard errors of the difference of two medians (each 1.2533 sd / sqrt(n), taken as
    independent, which the pairing makes conservative)."""
    _, cal, s, rows = fitted
    won = {}
    for n_draws in (0, 20):
        sd = dataclasses.replace(s, replications=200, parameter_draws=n_draws)
        sims = backtest.simulate(backtest.scenario_at(cal, rows, CUTOFF, sd, 5), CUTOFF, sd)
        won[n_draws] = sims[:, 0, :].sum(axis=1)
    p10, p50, p90 = np.percentile(won[0], [10, 50, 90])
    q10, q50, q90 = np.percentile(won[20], [10, 50, 90])
    assert q90 - q10 > p90 - p10
    tol = 4 * math.sqrt(2) * 1.2533 * won[20].std(ddof=1) / math.sqrt(200)
    assert abs(q50 - p50) < tol
