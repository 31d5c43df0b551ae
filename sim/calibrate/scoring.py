"""Scores of a probabilistic forecast against what happened: the ones a forecaster accepts.

A forecast is a 1-D array of samples of the predicted quantity (the simulator's replications, or
draws from a naive forecast's distribution); a point forecast is an array of one value. Every score
reads the samples' empirical distribution, so the simulator and the naive forecasts are scored the
same way.

- Coverage: whether the actual falls inside the central interval P10-P90 (80 %) or P5-P95 (90 %),
  ends included. Over many cutoffs a calibrated forecast covers about 80 % and 90 % of them.
- Pinball (quantile) loss of the q-quantile forecast x at actual y: (y - x) * (q - [y < x]), i.e.
  q * (y - x) when the actual is above, (1 - q) * (x - y) when below. Its mean over cutoffs is
  smallest for the true quantile; at q = 0.5 it is half the absolute error.
- CRPS (continuous ranked probability score) = integral of (F(x) - [x >= y])^2 dx, in the energy
  form E|X - y| - 0.5 E|X - X'| with X, X' independent draws of the forecast: in the units of the
  quantity, lower is better, and for a point forecast it is the absolute error. Computed exactly for
  the samples' empirical distribution (X and X' may be the same draw), in O(n log n) from the sorted
  samples: E|X - X'| = 2 / n^2 * sum_i (2i - n - 1) x_(i).
- Skill = 1 - CRPS_forecast / CRPS_reference: above 0 the forecast beats the reference, 1 is perfect.

No library is used: scipy.stats has no CRPS, and `properscoring` (the usual package) has had no
release since 2015; the formulas are a few lines and tested against closed forms (tests/test_scoring.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm

QUANTILES = (5, 10, 50, 90, 95)  # percentiles kept for every forecast
PINBALL = (10, 50, 90)  # percentiles scored by pinball loss
INTERVALS = {"80": (10, 90), "90": (5, 95)}  # central intervals whose coverage is counted


def _samples(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0 or not np.isfinite(a).all():
        raise ValueError("a forecast needs at least one sample, all finite")
    return a


def percentiles(samples: Any, qs: tuple[int, ...] = QUANTILES) -> dict[str, float]:
    """{'p5': ..., 'p10': ...}: percentiles of the samples (numpy's linear interpolation)."""
    v = np.percentile(_samples(samples), qs)
    return {f"p{q}": float(x) for q, x in zip(qs, v, strict=True)}


def covered(actual: float, lo: float, hi: float) -> bool:
    """lo <= actual <= hi (the ends count as inside: a point forecast that is exactly right covers)."""
    return bool(lo <= actual <= hi)


def pinball(actual: float, forecast: float, q: float) -> float:
    """Quantile loss of the q-quantile forecast (q in (0, 1)) at the actual."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level {q} is not in (0, 1)")
    d = actual - forecast
    return float(d * (q - (1.0 if d < 0 else 0.0)))


def crps(samples: Any, actual: float) -> float:
    """CRPS of the samples' empirical distribution at the actual: E|X - y| - 0.5 E|X - X'|."""
    x = np.sort(_samples(samples))
    n = x.size
    first = float(np.mean(np.abs(x - actual)))
    i = np.arange(1, n + 1, dtype=float)
    spread = 2.0 * float(np.dot(2.0 * i - n - 1.0, x)) / (n * n)  # E|X - X'|
    return first - 0.5 * spread


def crps_normal(mu: float, sigma: float, actual: float) -> float:
    """Closed form of the CRPS of N(mu, sigma^2) at the actual (Gneiting and Raftery 2007):
    sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)), z = (y - mu) / sigma."""
    z = (actual - mu) / sigma
    return float(
        sigma * (z * (2.0 * norm.cdf(z) - 1.0) + 2.0 * norm.pdf(z) - 1.0 / math.sqrt(math.pi))
    )


def score(samples: Any, actual: float) -> dict[str, Any]:
    """Everything one cutoff says about one forecast: its percentiles P5..P95, whether P10-P90
    ('covered') and P5-P95 ('covered_90') hold the actual, pinball loss at P10/P50/P90, CRPS and
    the absolute error of the median."""
    s = _samples(samples)
    p = percentiles(s)
    out: dict[str, Any] = {"actual": float(actual), **p}
    out["covered"] = covered(actual, p["p10"], p["p90"])
    out["covered_90"] = covered(actual, p["p5"], p["p95"])
    for q in PINBALL:
        out[f"pinball_p{q}"] = pinball(actual, p[f"p{q}"], q / 100)
    out["crps"] = crps(s, actual)
    out["abs_error"] = abs(p["p50"] - actual)
    return out


def errors(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """MAE, MAPE (over nonzero actuals; nan when all are zero) and bias (mean of pred - actual)."""
    pred, actual = np.asarray(pred, dtype=float), np.asarray(actual, dtype=float)
    err = pred - actual
    nz = actual != 0
    return {
        "mae": float(np.mean(np.abs(err))),
        "mape": float(np.mean(np.abs(err[nz]) / np.abs(actual[nz]))) if nz.any() else math.nan,
        "bias": float(np.mean(err)),
    }


def skill(crps_forecast: float, crps_reference: float) -> float:
    """1 - CRPS_forecast / CRPS_reference (nan when the reference scores 0: nothing to beat)."""
    if not crps_reference > 0:
        return math.nan
    return 1.0 - crps_forecast / crps_reference
