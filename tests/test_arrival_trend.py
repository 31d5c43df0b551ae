"""A channel's trend in lead arrivals (`channels.<c>.trend_year`): the monthly rate compounds at the
set rate from `trend_anchor`, and a trend of 0 leaves every draw as it was."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.agents.marketing import YEAR_DAYS, channel_leads, channel_rate, trend_factor
from sim.config import Channel
from sim.records import MONTH_DAYS

START = dt.date(2026, 1, 1)


def _channel(**kw) -> Channel:
    base = {"budget_month": 1.0, "ref_budget_month": 1.0, "leads_month": 400.0}
    return Channel(**{**base, "segment_mix": {"smb": 1.0}, **kw})


def test_a_trend_of_zero_reproduces_the_draws_without_the_key():
    a, _ = channel_leads(
        _channel(), np.ones(1), START, 24, 24 * MONTH_DAYS, np.random.default_rng(7)
    )
    ch = _channel(trend_year=0.0, trend_anchor=dt.date(2020, 5, 1))
    b, _ = channel_leads(ch, np.ones(1), START, 24, 24 * MONTH_DAYS, np.random.default_rng(7))
    assert np.array_equal(a.t, b.t) and np.array_equal(a.seg, b.seg)


def test_the_rate_is_leads_month_at_the_anchor_and_compounds_at_the_set_rate():
    ch = _channel(trend_year=0.5, trend_anchor=dt.date(2027, 1, 1))
    f = trend_factor(ch, START, 36)
    mid = (np.arange(36) + 0.5) * MONTH_DAYS - 365  # days from the anchor at each month's middle
    # the month's mean of a convex curve lies just above its value mid-month (< 0.1 % here)
    np.testing.assert_allclose(f, 1.5 ** (mid / YEAR_DAYS), rtol=1e-3)
    np.testing.assert_allclose(f[12:24].mean() / f[:12].mean(), 1.5, rtol=1e-9)


@pytest.mark.parametrize("g", [0.4, -0.3])
def test_simulated_arrivals_grow_at_the_set_rate(g):
    """Leads per year over 3 years, 400 a month at the start: the fitted log-linear slope of the
    yearly counts must hold 1 + g within 4 standard errors (Poisson: se of log count = 1/sqrt(n);
    fixed seed)."""
    ch = _channel(trend_year=g)
    n_months = 36
    arr, _ = channel_leads(ch, np.ones(1), START, n_months, n_months * MONTH_DAYS,
                           np.random.default_rng(11))  # fmt: skip
    years = np.bincount((arr.t // YEAR_DAYS).astype(int), minlength=3)[:3]
    ratio = years[2] / years[0]  # two years of growth
    se = np.sqrt(1 / years[2] + 1 / years[0])
    assert abs(np.log(ratio) - 2 * np.log1p(g)) < 4 * se, (years, ratio)
    assert abs(np.log(years[1] / years[0]) - np.log1p(g)) < 4 * np.sqrt(1 / years[1] + 1 / years[0])


def test_without_a_trend_the_rate_is_flat():
    r = channel_rate(_channel(), 1.0, START, 24)
    assert np.all(r == 400.0)


def test_the_memory_estimate_counts_the_peak_of_a_growing_channel():
    from sim.compose import compose_config, resolve
    from sim.config import size_estimate

    base = size_estimate(*resolve(compose_config([])))
    grown = size_estimate(*resolve(compose_config(["+channels.paid_search.trend_year=1.0"])))
    assert grown.arrivals > base.arrivals


def test_a_damped_trend_follows_the_line_before_the_anchor_and_levels_off_after_it():
    """trend_damping_days tau: before the anchor the rate is the undamped line; after it the growth
    rate fades e-fold every tau days, so the level tends to (1 + g)^(tau / 365.25) (analytic, to
    the midpoint rule's precision)."""
    g, tau = 0.8, 150.0
    anchor = dt.date(2027, 1, 1)
    damped = trend_factor(_channel(trend_year=g, trend_anchor=anchor, trend_damping_days=tau),
                          START, 120)  # fmt: skip
    plain = trend_factor(_channel(trend_year=g, trend_anchor=anchor), START, 120)
    np.testing.assert_allclose(damped[:12], plain[:12], rtol=1e-4)  # 2026: before the anchor
    assert np.all(damped[12:] < plain[12:]) and np.all(np.diff(damped) > 0)
    np.testing.assert_allclose(damped[-1], (1 + g) ** (tau / YEAR_DAYS), rtol=1e-3)
    # one month after the anchor the damped years are tau (1 - e^(-y / tau)) at the month's middle
    y = MONTH_DAYS / 2 / YEAR_DAYS
    expect = (1 + g) ** (tau / YEAR_DAYS * -np.expm1(-y * YEAR_DAYS / tau))
    assert damped[12] == pytest.approx(expect, rel=1e-3)


def test_the_memory_estimate_counts_the_damped_peak_below_the_undamped_one():
    from sim.compose import compose_config, resolve
    from sim.config import size_estimate

    keys = ["+channels.paid_search.trend_year=1.0"]
    grown = size_estimate(*resolve(compose_config(keys)))
    damped = size_estimate(
        *resolve(compose_config([*keys, "+channels.paid_search.trend_damping_days=30"]))
    )
    assert damped.arrivals < grown.arrivals
