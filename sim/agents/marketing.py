"""Marketing channels: monthly budget -> lead arrivals (diminishing returns, seasonality, quarter ends,
a trend)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from sim.config import Channel, trend_years
from sim.records import MONTH_DAYS

YEAR_DAYS = 12 * MONTH_DAYS  # 365.25


@dataclass(frozen=True)
class Arrivals:
    t: np.ndarray
    seg: np.ndarray
    fit: np.ndarray


def monthly_counts(
    rate: np.ndarray, dispersion: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Poisson counts, or gamma-Poisson (negative binomial, shape `dispersion`) when over-dispersed."""
    if dispersion is not None:
        rate = rng.gamma(dispersion, rate / dispersion)
    return rng.poisson(rate)


def spread_in_months(counts: np.ndarray, end_day: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival days, uniform inside each month, sorted, dropped past `end_day`."""
    month = np.repeat(np.arange(len(counts)), counts)
    t = (month + rng.random(len(month))) * MONTH_DAYS
    t.sort()
    return t[t < end_day]


def calendar_month(start: dt.date, n_months: int) -> np.ndarray:
    return (start.month - 1 + np.arange(n_months)) % 12


def trend_factor(ch: Channel, start: dt.date, n_months: int) -> np.ndarray | float:
    """The channel's trend in each simulation month: the mean of (1 + trend_year)^(years since
    trend_anchor) over the month's days (exact for the compounding rate; with
    `trend_damping_days`, the damped years of sim.config.trend_years averaged over 64 points of
    the month), or 1 with no trend."""
    g = ch.trend_year
    if not g:
        return 1.0
    shift = ((start - (ch.trend_anchor or start)).days) / YEAR_DAYS
    a = shift + np.arange(n_months) * MONTH_DAYS / YEAR_DAYS  # years at each month's start
    b = a + MONTH_DAYS / YEAR_DAYS
    r = math.log1p(g)
    if ch.trend_damping_days is not None:  # midpoint rule: the damped curve has no simple mean
        y = a[:, None] + (np.arange(64) + 0.5) / 64 * (b - a)[:, None]
        return np.exp(r * trend_years(y, ch.trend_damping_days)).mean(axis=1)
    return (np.exp(r * b) - np.exp(r * a)) / (r * (b - a))


def channel_rate(ch: Channel, coverage: float, start: dt.date, n_months: int) -> np.ndarray:
    """Expected leads per month: leads_month * (budget / ref)^elasticity * season * quarter-end
    * trend."""
    base = ch.leads_month * (ch.budget_month / ch.ref_budget_month) ** ch.elasticity
    cal = calendar_month(start, n_months)
    season = np.asarray(ch.seasonality)[cal]
    qend = np.where(cal % 3 == 2, ch.quarter_end_boost, 1.0)
    rate = base * coverage * season * qend
    return rate * trend_factor(ch, start, n_months) if ch.trend_year else rate


def channel_leads(
    ch: Channel,
    seg_weights: np.ndarray,
    start: dt.date,
    n_months: int,
    end_day: float,
    rng: np.random.Generator,
    budget: np.ndarray | None = None,
) -> tuple[Arrivals, float | np.ndarray]:
    """Leads of one channel for one motion. seg_weights[s] = channel share of s x motion's mix weight.

    Returns the arrivals and the coverage (the share of the budget this motion spends). When sales
    plays move the budget (`budget`, by month) or the mix (`seg_weights` of shape (months,
    segments)), the coverage is returned by month.
    """
    if budget is not None or seg_weights.ndim == 2:
        return _channel_leads_by_month(ch, seg_weights, start, n_months, end_day, rng, budget)
    coverage = float(seg_weights.sum())
    if coverage <= 0:
        return Arrivals(np.zeros(0), np.zeros(0, int), np.zeros(0)), 0.0
    counts = monthly_counts(channel_rate(ch, coverage, start, n_months), ch.dispersion, rng)
    t = spread_in_months(counts, end_day, rng)
    seg = rng.choice(len(seg_weights), size=len(t), p=seg_weights / coverage)
    a, b = 4 * ch.fit_mean, 4 * (1 - ch.fit_mean)  # lead fit score ~ Beta with concentration 4
    return Arrivals(t, seg, rng.beta(a, b, len(t))), coverage


def pick_segments(weights: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A segment for each arrival from its month's weights (rows of `weights`, by month)."""
    month = np.minimum((t // MONTH_DAYS).astype(int), len(weights) - 1)
    total = weights.sum(axis=1, keepdims=True)
    cdf = np.cumsum(weights / np.where(total > 0, total, 1.0), axis=1)
    u = rng.random(len(t))
    return np.minimum((u[:, None] >= cdf[month]).sum(axis=1), weights.shape[1] - 1)


def _channel_leads_by_month(ch, seg_weights, start, n_months, end_day, rng, budget):
    """channel_leads with a budget and a mix that change month by month (sales plays)."""
    w = np.broadcast_to(seg_weights, (n_months, seg_weights.shape[-1]))
    coverage = w.sum(axis=1)
    spend = np.full(n_months, ch.budget_month) if budget is None else np.asarray(budget)
    if coverage.sum() <= 0:
        return Arrivals(np.zeros(0), np.zeros(0, int), np.zeros(0)), np.zeros(n_months)
    base = ch.leads_month * (spend / ch.ref_budget_month) ** ch.elasticity
    cal = calendar_month(start, n_months)
    season = np.asarray(ch.seasonality)[cal] * np.where(cal % 3 == 2, ch.quarter_end_boost, 1.0)
    rate = base * season * coverage
    if ch.trend_year:
        rate = rate * trend_factor(ch, start, n_months)
    counts = monthly_counts(rate, ch.dispersion, rng)
    t = spread_in_months(counts, end_day, rng)
    seg = pick_segments(w, t, rng)
    a, b = 4 * ch.fit_mean, 4 * (1 - ch.fit_mean)
    return Arrivals(t, seg, rng.beta(a, b, len(t))), coverage
