"""The backtest's scores (sim/calibrate/scoring.py) against cases with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from sim.calibrate import scoring


def brute_crps(x: np.ndarray, y: float) -> float:
    """The energy form by its O(n^2) definition."""
    return float(np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))


def test_crps_of_a_point_forecast_is_the_absolute_error():
    assert scoring.crps([7.0], 10.0) == pytest.approx(3.0)
    assert scoring.crps([7.0, 7.0, 7.0], 4.0) == pytest.approx(3.0)
    assert scoring.crps(np.array([5.0]), 5.0) == 0.0


def test_crps_of_two_equally_likely_values():
    """F = 1/2 on [0, 1): at y = 0 the integral of (F - 1)^2 over [0, 1) is 1/4; at y = 0.5 it is
    (1/2)^2 / 2 + (1/2)^2 / 2 = 1/4 as well; at y = 3 it is 1/4 + 2 (F = 1, indicator 0 on [1, 3))."""
    assert scoring.crps([0.0, 1.0], 0.0) == pytest.approx(0.25)
    assert scoring.crps([1.0, 0.0], 0.5) == pytest.approx(0.25)
    assert scoring.crps([0.0, 1.0], 3.0) == pytest.approx(2.25)


def test_sorted_form_equals_the_pairwise_definition():
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 200):
        x = rng.gamma(2.0, 10.0, n)
        for y in (0.0, 15.0, 80.0):
            assert scoring.crps(x, y) == pytest.approx(brute_crps(x, y), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("mu", "sigma", "y"), [(0, 1, 0), (0, 1, 1.5), (100, 20, 60), (5, 0.1, 5.3)]
)
def test_crps_of_normal_quantile_grid_matches_the_closed_form(mu, sigma, y):
    """Samples at the normal's quantiles (i - 1/2)/n: their empirical distribution tends to N(mu,
    sigma), so its CRPS tends to the closed form; the gap is O(sigma / n) (the spread term's
    discretisation), well under 1e-3 sigma at n = 20,000."""
    n = 20_000
    x = mu + sigma * norm.ppf((np.arange(n) + 0.5) / n)
    assert scoring.crps(x, y) == pytest.approx(scoring.crps_normal(mu, sigma, y), abs=1e-3 * sigma)


def test_closed_form_normal_crps_known_values():
    """At the mean, CRPS = sigma (2 phi(0) - 1/sqrt(pi)) = sigma (sqrt(2) - 1) / sqrt(pi)."""
    assert scoring.crps_normal(3.0, 2.0, 3.0) == pytest.approx(
        2 * (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    # far from the mean it approaches |y - mu| - sigma / sqrt(pi)
    assert scoring.crps_normal(0.0, 1.0, 40.0) == pytest.approx(40 - 1 / math.sqrt(math.pi))


def test_crps_of_uniform_matches_its_integral():
    """U(0, 1) at y in [0, 1]: integral of x^2 over [0, y] plus (1 - x)^2 over [y, 1]."""
    n = 10_000
    x = (np.arange(n) + 0.5) / n
    for y in (0.0, 0.3, 1.0):
        assert scoring.crps(x, y) == pytest.approx(y**3 / 3 + (1 - y) ** 3 / 3, abs=1e-6)


def test_pinball_loss_of_known_quantiles():
    assert scoring.pinball(10.0, 8.0, 0.9) == pytest.approx(0.9 * 2)  # actual above: q (y - x)
    assert scoring.pinball(10.0, 12.0, 0.9) == pytest.approx(0.1 * 2)  # below: (1 - q) (x - y)
    assert scoring.pinball(10.0, 12.0, 0.1) == pytest.approx(0.9 * 2)
    assert scoring.pinball(10.0, 10.0, 0.5) == 0.0
    assert scoring.pinball(3.0, 7.0, 0.5) == pytest.approx(0.5 * abs(3 - 7))
    with pytest.raises(ValueError):
        scoring.pinball(1.0, 1.0, 1.0)


def test_mean_pinball_loss_is_smallest_at_the_true_quantile():
    """Over draws of y ~ U(0, 1), the expected loss of forecast x at level q is minimised at x = q."""
    y = (np.arange(1000) + 0.5) / 1000
    losses = {x: np.mean([scoring.pinball(v, x, 0.9) for v in y]) for x in (0.7, 0.8, 0.9, 0.95)}
    assert min(losses, key=losses.get) == 0.9


def test_coverage_counts_the_ends_and_the_two_intervals():
    sims = np.arange(1.0, 101.0)  # P5 = 5.95, P10 = 10.9, P90 = 90.1, P95 = 95.05
    s = scoring.score(sims, 8.0)
    assert s["p5"] == pytest.approx(5.95) and s["p95"] == pytest.approx(95.05)
    assert s["covered"] is False and s["covered_90"] is True
    assert scoring.score(sims, 10.9)["covered"] is True
    assert scoring.score(sims, 96.0)["covered_90"] is False
    point = scoring.score([5.0], 5.0)  # an exact point forecast covers
    assert point["covered"] and point["covered_90"] and point["crps"] == 0.0
    miss = scoring.score([5.0], 9.0)
    assert not miss["covered"] and miss["crps"] == pytest.approx(4.0) == miss["abs_error"]
    assert miss["pinball_p50"] == pytest.approx(2.0)


def test_errors_and_skill():
    e = scoring.errors(np.array([12.0, 8.0, 5.0]), np.array([10.0, 10.0, 0.0]))
    assert e["mae"] == pytest.approx(3.0)
    assert e["mape"] == pytest.approx(0.2)  # the zero actual is left out
    assert e["bias"] == pytest.approx(5 / 3)
    assert scoring.skill(5.0, 10.0) == pytest.approx(0.5)
    assert scoring.skill(20.0, 10.0) == pytest.approx(-1.0)
    assert math.isnan(scoring.skill(1.0, 0.0))


def test_empty_or_nan_forecast_is_refused():
    with pytest.raises(ValueError):
        scoring.crps([], 1.0)
    with pytest.raises(ValueError):
        scoring.score([1.0, np.nan], 1.0)
