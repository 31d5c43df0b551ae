"""Sampling for the mean/CV parametrisation used in configs, with analytic moments.

Every kind is parametrised by its mean and coefficient of variation (cv = std / mean), so the variance is
always (cv * mean)^2; tests compare sample moments against `mean` and `variance`.
"""

from __future__ import annotations

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
