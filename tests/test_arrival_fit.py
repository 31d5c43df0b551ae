"""The arrival fit (sim.calibrate.fit.fit_arrivals): a trend apart from seasonality, calendar-month
factors shrunk towards 1 when the history cannot tell them from noise, and the export's edges
not read as seasons. Synthetic exports with a known truth, fixed seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.fit import fit_arrivals
from sim.records import MONTH_DAYS


def _export(per_day, start: str, end: str, seed: int) -> pd.Series:
    """Creation dates: Poisson counts a day at rate per_day(day index, timestamps)."""
    days = pd.date_range(start, end, freq="D")
    rng = np.random.default_rng(seed)
    n = rng.poisson(per_day(np.arange(len(days)), days))
    return pd.Series(np.repeat(days.to_numpy(), n))


def _fit(created: pd.Series, start: str, end: str, **kw):
    seg = pd.Series(["a"] * len(created))
    return fit_arrivals(created, seg, pd.Timestamp(start), pd.Timestamp(end), True, **kw)


@pytest.mark.parametrize("g", [0.5, -0.3])
def test_a_known_trend_is_recovered_within_its_interval_and_not_read_as_seasons(g):
    """Three years at 20 a day growing (1 + g) a year, no seasonality: the trend is kept and its
    90 % interval holds g; the shrunk factors stay within 5 % of 1 (the raw ones need not)."""
    c = _export(lambda i, d: 20 * (1 + g) ** (i / 365.25), "2021-01-01", "2023-12-31", 3)
    a = _fit(c, "2021-01-01", "2023-12-31")
    assert a.trend_year != 0 and a.trend_p < 0.01
    assert a.trend_ci[0] < g < a.trend_ci[1], (a.trend_ci, g)
    assert max(abs(f - 1) for f in a.seasonality) < 0.05, a.seasonality


def test_no_trend_and_no_seasonality_give_a_flat_rate():
    c = _export(lambda i, d: np.full(len(i), 15.0), "2021-01-01", "2022-12-31", 5)
    a = _fit(c, "2021-01-01", "2022-12-31")
    assert a.trend_year == 0.0 and a.trend_p > 0.05
    assert max(abs(f - 1) for f in a.seasonality) < 0.05, a.seasonality


def test_one_year_of_noisy_months_is_shrunk_to_about_one():
    """Twelve months whose counts vary a lot (gamma-Poisson, cv 25 %) but with no season: each month
    is seen once, so no factor can be told from noise and all are shrunk near 1, while the raw
    factors spread widely."""
    rng = np.random.default_rng(8)
    month_level = 30 * rng.gamma(16, 1 / 16, 12)  # a month's own rate, cv 0.25
    c = _export(lambda i, d: month_level[d.month - 1], "2022-01-01", "2022-12-31", 9)
    a = _fit(c, "2022-01-01", "2022-12-31")
    assert np.ptp(a.raw_seasonality) > 0.3
    assert np.ptp(a.seasonality) < 0.5 * np.ptp(a.raw_seasonality)


def test_a_real_season_seen_over_three_years_is_kept():
    """December at half the rate and July at 1.5 in each of three years: the shrunk factors keep
    them within 10 % (each month seen three times, at ~900 deals: sampling cv ~3 %)."""
    season = np.ones(12)
    season[11], season[6] = 0.5, 1.5
    c = _export(lambda i, d: 30 * season[d.month - 1], "2021-01-01", "2023-12-31", 4)
    a = _fit(c, "2021-01-01", "2023-12-31")
    f = np.asarray(a.seasonality) / np.mean(a.seasonality)
    assert abs(f[11] / 0.5 - 1) < 0.1 and abs(f[6] / 1.5 - 1) < 0.1, f
    assert a.trend_year == 0.0


def test_the_export_edge_is_not_read_as_a_seasonal_low():
    """Fourteen flat months, cut on the 20th, the last two holding 35 % and 15 % of their deals (the
    newest not yet recorded): they are flagged as the edge, left out, and the December forecast
    stays at the level (before: factors ~0.35 and ~0.15 carried into every future year)."""

    def rate(i, d):
        r = np.full(len(i), 20.0)
        r[(d.year == 2022) & (d.month == 11)] *= 0.35
        r[(d.year == 2022) & (d.month == 12)] *= 0.15
        return r

    c = _export(rate, "2021-11-01", "2022-12-20", 6)
    a = _fit(c, "2021-11-01", "2022-12-20")
    assert [str(m) for m in a.months[a.edge]] == ["2022-11", "2022-12"]
    future = a.rate(pd.period_range("2023-01", "2023-12", freq="M"))
    assert future.min() > 0.8 * future.max(), future
    assert abs(a.level / (20 * MONTH_DAYS) - 1) < 0.05  # 600 a month: sampling cv ~1 %
    no_edges = _fit(c, "2021-11-01", "2022-12-20", edges=False)
    assert not no_edges.edge.any()


def test_a_short_low_start_is_an_edge_too():
    """An extract that starts with a few days of a month at a fifth of the rate: left out."""

    def rate(i, d):
        return np.where(d < pd.Timestamp("2022-02-01"), 4.0, 20.0)

    c = _export(rate, "2022-01-10", "2022-12-31", 2)
    a = _fit(c, "2022-01-10", "2022-12-31")
    assert a.edge[0] and not a.edge[1:].any()
