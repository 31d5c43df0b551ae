"""Statistics across replications: distribution summaries, confidence intervals, paired comparisons."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

SUMMARY_KEYS = ("mean", "std", "p5", "p10", "p50", "p90", "p95", "ci95_low", "ci95_high")


def mean_ci95(v: np.ndarray) -> tuple[float, float]:
    """The 95 % t-interval of the mean of finite values `v` (a point when they do not vary)."""
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    if std > 0:
        lo, hi = stats.t.interval(0.95, len(v) - 1, loc=mean, scale=std / math.sqrt(len(v)))
        return float(lo), float(hi)
    return mean, mean


def summarise(values: np.ndarray) -> dict[str, float | int | None]:
    """Mean, std, percentiles and the 95% t-interval of the mean over replications.

    Replications where the metric does not apply (NaN) are left out; `n` says how many counted.
    With no value at all every statistic is None (JSON null).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    out: dict[str, float | int | None] = {"n": int(len(v))}
    if not len(v):
        return out | dict.fromkeys(SUMMARY_KEYS)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
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
