"""Sampling for the mean/CV parametrisation used in configs, with analytic moments.

Every kind is parametrised by its mean and coefficient of variation (cv = std / mean), so the variance is
always (cv * mean)^2; tests compare sample moments against `mean` and `variance`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sim.config import Dist


def sample(d: Dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw n values of `d` in one batch."""
    m, cv = d.mean, d.cv
    if d.dist == "fixed" or cv == 0.0:
        return np.full(n, m)
    if d.dist == "exponential":
        return rng.exponential(m, n)
    if d.dist == "gamma":
        k = 1.0 / (cv * cv)
        return rng.gamma(k, m / k, n)
    if d.dist == "lognormal":
        s2 = math.log1p(cv * cv)
        return rng.lognormal(math.log(m) - s2 / 2.0, math.sqrt(s2), n)
    if d.dist == "uniform":
        half = math.sqrt(3.0) * cv * m
        return rng.uniform(m - half, m + half, n)
    raise ValueError(f"unknown distribution {d.dist!r}")


def mean(d: Dist) -> float:
    return d.mean


def variance(d: Dist) -> float:
    return 0.0 if d.dist == "fixed" else (d.cv * d.mean) ** 2


@functools.lru_cache(maxsize=256)
def frozen(d: Dist):
    """The scipy.stats distribution of `d` (not "fixed"): same mean and cv as `sample` draws.
    Cached: building a frozen scipy distribution costs more than evaluating it for one deal."""
    from scipy import stats

    m, cv = d.mean, d.cv
    if d.dist == "exponential":
        return stats.expon(scale=m)
    if d.dist == "gamma":
        k = 1.0 / (cv * cv)
        return stats.gamma(k, scale=m / k)
    if d.dist == "lognormal":
        s2 = math.log1p(cv * cv)
        return stats.lognorm(math.sqrt(s2), scale=math.exp(math.log(m) - s2 / 2.0))
    if d.dist == "uniform":
        half = math.sqrt(3.0) * cv * m
        return stats.uniform(m - half, 2 * half)
    raise ValueError(f"{d.dist!r} has no continuous distribution function")


def remap(x: np.ndarray, src: Dist, dst: Dist) -> np.ndarray:
    """Map draws of `src` onto `dst` through their quantiles (dst.ppf(src.cdf(x))): a stage's lost
    duration (`days_lost`) reuses the draw made for its duration, so no new stream is needed.
    A `src` without spread (fixed, or cv 0) has no quantiles: its draws all map to dst's median
    (the warm start maps a fitted lost time back this way, and a fit may put its cv at 0)."""
    if src.dist == "fixed" or src.cv == 0.0:
        q = np.full(np.shape(x), 0.5)
    else:
        q = np.clip(frozen(src).cdf(x), 1e-12, 1 - 1e-12)
    if dst.dist == "fixed" or dst.cv == 0.0:
        return np.full(np.shape(x), dst.mean)
    return frozen(dst).ppf(q)
