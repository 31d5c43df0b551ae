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
    """Replace NaN and infinities by None so the JSON is strict; numpy scalars become Python ones
    and mapping keys strings (calibration and backtest files carry both)."""
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    return obj


def fit_stage_ps(
    ps: list[float], fit_mean: float, log_odds_per_fit: float, ref: float = 0.5
) -> np.ndarray:
    """Each stage's conversion among the leads that reach it, for a run of stages a lead walks in
    order, when its fit F ~ Beta(4 m, 4 (1 - m)) shifts every stage's log-odds by beta (F - ref)
    (sim.motions.stage_step): E[prod_{j<=k} p_j'(F)] / E[prod_{j<k} p_j'(F)]. Leads that pass a
    stage have higher fit on average, so a later stage converts above E[p_k'(F)]; beta = 0 gives p."""
    if not log_odds_per_fit:
        return np.asarray(ps, dtype=float)
    from scipy import integrate, stats  # lazy, as above

    dens = stats.beta(4 * fit_mean, 4 * (1 - fit_mean)).pdf

    def reach(k: int) -> float:  # E[prod_{j<k} p_j'(F)]
        def f(x: float) -> float:
            o = math.exp(log_odds_per_fit * (x - ref))
            return math.prod(p * o / (1 - p + p * o) for p in ps[:k]) * dens(x)

        return float(integrate.quad(f, 0.0, 1.0, limit=200)[0]) if k else 1.0

    r = [reach(k) for k in range(len(ps) + 1)]
    return np.array([r[k + 1] / r[k] if r[k] > 0 else ps[k] for k in range(len(ps))])


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
