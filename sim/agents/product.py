"""The product: free sign-ups arriving each month (the top of the product-led funnel)."""

from __future__ import annotations

import numpy as np

from sim.agents.marketing import Arrivals, monthly_counts, pick_segments, spread_in_months
from sim.config import Product


def signups(
    product: Product,
    seg_weights: np.ndarray,
    n_months: int,
    end_day: float,
    rng: np.random.Generator,
) -> Arrivals:
    """seg_weights[s] = the product's segment share x the motion's mix weight for s; of shape
    (months, segments) when sales plays move the mix month by month."""
    if seg_weights.ndim == 2:
        coverage = seg_weights.sum(axis=1)
        if coverage.sum() <= 0 or product.signups_month <= 0:
            return Arrivals(np.zeros(0), np.zeros(0, int), np.zeros(0))
        rate = product.signups_month * coverage
        t = spread_in_months(monthly_counts(rate, product.dispersion, rng), end_day, rng)
        seg = pick_segments(seg_weights, t, rng)
        return Arrivals(t, seg, np.full(len(t), 0.5))
    coverage = float(seg_weights.sum())
    if coverage <= 0 or product.signups_month <= 0:
        return Arrivals(np.zeros(0), np.zeros(0, int), np.zeros(0))
    rate = np.full(n_months, product.signups_month * coverage)
    t = spread_in_months(monthly_counts(rate, product.dispersion, rng), end_day, rng)
    seg = rng.choice(len(seg_weights), size=len(t), p=seg_weights / coverage)
    return Arrivals(t, seg, np.full(len(t), 0.5))
