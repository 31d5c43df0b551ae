"""Every distribution kind a config can name matches its analytic mean and variance.

Tolerance: with n = 200,000 draws the sample mean's standard error is sd/sqrt(n); we allow 5 standard
errors (two-sided P(fail) < 1e-6 for a correct sampler). The sample variance is checked within 5
standard errors of its own estimator, sqrt((m4 - s^4) / n), using the sample fourth central moment.
"""

import numpy as np
import pytest

from sim.config import Dist
from sim.distributions import mean, sample, variance

N = 200_000
CASES = [
    Dist(dist="exponential", mean=3.0),
    Dist(dist="gamma", mean=10.0, cv=0.8),
    Dist(dist="gamma", mean=0.03, cv=0.5),
    Dist(dist="lognormal", mean=28000.0, cv=0.7),
    Dist(dist="uniform", mean=5.0, cv=0.3),
    Dist(dist="fixed", mean=2.5, cv=0.0),
]


@pytest.mark.parametrize("d", CASES, ids=lambda d: f"{d.dist}-{d.mean}-{d.cv}")
def test_sample_moments_match_the_analytic_mean_and_variance(d):
    x = sample(d, np.random.default_rng(12345), N)
    assert x.shape == (N,)
    assert (x >= 0).all()
    sd = np.sqrt(variance(d))
    if sd == 0:
        assert np.all(x == mean(d))
        return
    assert abs(x.mean() - mean(d)) < 5 * sd / np.sqrt(N)
    m4 = np.mean((x - x.mean()) ** 4)
    assert abs(x.var(ddof=1) - variance(d)) < 5 * np.sqrt((m4 - x.var() ** 2) / N)
