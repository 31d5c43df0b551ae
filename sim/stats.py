"""Statistics across replications: distribution summaries, confidence intervals, strict JSON values, and
the first-stage pass probability of the fit-thinned funnel (calibration and validation share it)."""

from __future__ import annotations

import math

import numpy as np

SUMMARY_KEYS = ("mean", "std", "p5", "p10", "p50", "p90", "p95", "ci95_low", "ci95_high")


def mean_ci95(v: np.ndarray) -> tuple[float, float]:
    """The 95 % t-interval of the mean of finite values `v` (a point when they do not vary)."""
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    if std > 0:
        # lazy: scipy.special costs 0.15 s at start-up, scipy.stats 0.6 s; stdtrit is the quantile
        # scipy.stats.t.interval computes, in the same operations, so the bounds are identical
        from scipy.special import stdtrit

        scale = std / math.sqrt(len(v))
        lo = stdtrit(len(v) - 1, (1 - 0.95) / 2) * scale + mean
        hi = stdtrit(len(v) - 1, (1 + 0.95) / 2) * scale + mean
        return float(lo), float(hi)
    return mean, mean


def strict(obj):
    """Replace NaN and infinities by None so the JSON is strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    return obj


def first_stage_p(p: float, fit_mean: float = 0.5) -> float:
    """Marginal probability of passing a marketing-led motion's first stage: the engine multiplies p
    by fit / 0.5 with fit ~ Beta(4 m, 4 (1 - m)), and a probability above 1 is certain, so the stage
    converts with E[min(1, c F)], c = 2p. With x = 1/c: c E[F; F < x] + P(F >= x), where
    E[F; F < x] = m I_x(a + 1, b). For c <= 1 the cap never binds and this is 2 p m."""
    a, b = 4 * fit_mean, 4 * (1 - fit_mean)
    c = 2.0 * p
    if c <= 1.0:
        return c * fit_mean
    from scipy import stats  # lazy: 0.6 s at start-up, and only calibration and checks need it

    x = 1.0 / c
    return float(c * fit_mean * stats.beta.cdf(x, a + 1, b) + stats.beta.sf(x, a, b))


def summarise(values: np.ndarray) -> dict[str, float | int | None]:
    """Mean, std, percentiles and the 95% t-interval of the mean over replications.

    Replications where the metric does not apply (NaN) are left out; `n` says how many counted.
    With no value at all every statistic is None (JSON null); with one, the std and the interval are
    (one replication cannot measure the spread), not a zero-width interval that reads as certainty.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    out: dict[str, float | int | None] = {"n": int(len(v))}
    if not len(v):
        return out | dict.fromkeys(SUMMARY_KEYS)
    if len(v) == 1:  # one replication says nothing of the spread: no std, no interval
        x = float(v[0])
        point = dict.fromkeys(("mean", "p5", "p10", "p50", "p90", "p95"), x)
        return out | dict.fromkeys(SUMMARY_KEYS) | point
    mean = float(v.mean())
    std = float(v.std(ddof=1))
    p = np.percentile(v, [5, 10, 50, 90, 95])
    out |= {
        "mean": mean,
        "std": std,
        "p5": p[0],
        "p10": p[1],
        "p50": p[2],
        "p90": p[3],
        "p95": p[4],
    }
    lo, hi = mean_ci95(v)
    if v.min() >= 0:  # a count, amount, rate or duration: its mean cannot be negative
        lo = max(lo, 0.0)
    out |= {"ci95_low": lo, "ci95_high": hi}
    return {k: (float(x) if isinstance(x, float | np.floating) else x) for k, x in out.items()}
