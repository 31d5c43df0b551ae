"""Parameter uncertainty for the backtest's forecast band (docs/calibration.md, "Parameter
uncertainty in the band").

A fit is an estimate: the win probability, the times to close, the arrival level and the deal sizes
of calibrated.yaml are known only to within their sampling error, and a band made of the world's
randomness alone is too narrow by that much. `draw` returns the calibration refitted on a bootstrap
resample of the deals: each deal gets a Poisson(1) count (the Poisson bootstrap, a reweighting, so
the fits run on the distinct (time, kind) pairs with the resampled counts as weights). Every part
that is fitted from the deals is refitted from the same counts:

- outcomes per segment: the same model (number of classes, duration family) refitted by maximum
  likelihood from the fitted parameters (`fit_outcomes(weights=..., start=...)`), or the segment's
  own shares with the pooled shapes (`_own_p`) when it borrowed them; the model choice itself is
  not redone (the draw is conditional on it);
- deal sizes: the chosen family refitted to the resampled won amounts;
- arrivals: each month's count becomes the resampled count of the deals created in it (a Poisson
  draw around it, so the level's own uncertainty is in: a multinomial resample would hold the total
  fixed), the level and the quarter-end effect are scaled by the resampled counts, each raw
  calendar-month factor by its own months' counts with the fit's shrinkage towards 1 kept (a factor
  shrunk to 1 stays 1), the export's edge months stay out, a kept trend is unchanged, and the
  segment mix is the resampled one. When the arrival fit found extra-Poisson dispersion (negative
  binomial, `ArrivalFit.dispersion`), each month's count is also multiplied by a gamma factor of
  that shape, since deals created in one month are not independent draws.

The draws depend on (seed, draw number) only, never on the order or process they run in, so a
backtest gives the same files whatever `backtest.workers` is.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from sim.calibrate.fit import (
    MIN_DAYS,
    ArrivalFit,
    Calibration,
    FitData,
    _own_p,
    fit_outcomes,
    fit_size,
)

TAG = 0x5EED11  # keeps the draws' random numbers apart from the simulation's streams


def rng_for(seed: int, b: int) -> np.random.Generator:
    """The random numbers of draw b (b = 0, 1, ...) under `seed`."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), TAG, int(b)]))


def cluster_counts(
    created: np.ndarray, days: int, rng: np.random.Generator, future_days: float = 0.0
) -> np.ndarray:
    """Poisson(1) counts drawn per creation cohort of `days` days (epoch-aligned) and given to
    every deal of the cohort: a cluster bootstrap. Deals created together share their conditions
    (a campaign, a product push, the reps' load), so their outcomes are not independent, and a
    resample by deal understates how far a fit can be off when cohorts differ.

    `future_days` > 0: a predictive draw for a horizon of that many days. Its deals belong to
    m = future_days / days cohorts of their own, whose average differs from the fitted mean by the
    between-cohort spread over sqrt(m), on top of the fit's own error (that spread over sqrt(n), n
    cohorts fitted): variance s2 (1/n + 1/m), the spread of a fit to n m / (n + m) cohorts. So each
    cohort's count is Poisson(m / (n + m)) instead of Poisson(1) (estimates do not depend on the
    counts' scale, only on how many cohorts carry them)."""
    day = np.asarray(created, dtype="datetime64[D]").astype(np.int64)
    _, cohort = np.unique(day // days, return_inverse=True)
    n = int(cohort.max()) + 1 if len(cohort) else 0
    m = future_days / days
    lam = m / (n + m) if m > 0 and n > 0 else 1.0
    return rng.poisson(lam, n)[cohort].astype(float)


def draw(
    cal: Calibration, b: int, seed: int, cluster_days: int = 0, future_days: float = 0.0
) -> Calibration:
    """The calibration refitted on bootstrap resample b of its deals (see the module's docstring).
    A refit that fails (a resample with no closes in a small segment, say) keeps the point fit.
    `cluster_days` > 0: the outcome fits resample creation cohorts of that many days
    (`cluster_counts`) instead of deals; sizes and arrivals keep the per-deal resample.
    `future_days` > 0 (with cohorts): a predictive draw for a horizon of that many days."""
    d = cal.deals
    if d is None:
        raise ValueError(
            "this calibration keeps no deals to resample (fit it with sim.calibrate.fit)"
        )
    rng = rng_for(seed, b)
    w_all = rng.poisson(1.0, len(d.t)).astype(float)
    entry = d.entry if d.entry is not None else np.zeros(len(d.t))
    w = w_all
    if cluster_days > 0:  # its own random numbers: cluster_days=0 gives the same draws as before
        c_rng = np.random.default_rng(np.random.SeedSequence([int(seed), TAG, int(b), 1]))
        w = cluster_counts(d.created, cluster_days, c_rng, future_days)
    # the outcome fits weigh the resample by recency, as the point fit did (sizes, arrivals: not)
    w = w * (d.recency if d.recency is not None else 1.0)
    segments, pooled = {}, None
    for name, seg in cal.segments.items():
        sel = d.segment == name
        ws = w[sel]
        of = seg.outcome
        losses = of.classes[0].lost is not None
        fam = of.classes[0].won.dist
        new = of
        if ws.sum() > 0 and (d.kind[sel][ws > 0] > 0).any():
            try:
                if seg.pooled_shape:
                    if pooled is None:
                        pooled = fit_outcomes(
                            d.t, d.kind, 1, fam, losses, d.resolution, weights=w, interval=False,
                            entry=entry,
                        )  # fmt: skip
                    new = _own_p(
                        pooled, d.t[sel], d.kind[sel], losses, d.resolution, weights=ws,
                        entry=entry[sel],
                    )  # fmt: skip
                else:
                    start = np.array(of.params) if of.params else None
                    new = fit_outcomes(
                        d.t[sel],
                        d.kind[sel],
                        len(of.classes),
                        fam,
                        losses,
                        d.resolution,
                        weights=ws,
                        start=start,
                        interval=False,
                        entry=entry[sel],
                    )
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                new = of
            if not _usable(new):  # a resample of few cohorts can run a class to a spike at 0
                new = of
        size = _size(seg.size, d, sel, w_all[sel])
        segments[name] = dataclasses.replace(seg, outcome=new, size=size)
    keys = {name: seg.key for name, seg in cal.segments.items()}
    arrivals = arrival_draw(cal.arrivals, d, w_all, keys, rng)
    return dataclasses.replace(cal, segments=segments, arrivals=arrivals)


def _size(size, d: FitData, sel: np.ndarray, ws: np.ndarray):
    """The deal-size fit's family refitted to the resampled won amounts (the point fit if too few)."""
    if size is None or size.dist not in ("gamma", "lognormal"):
        return size
    a = d.amount[sel]
    ok = np.isfinite(a) & (a > 0)
    x = np.repeat(a[ok], ws[ok].astype(int))
    return fit_size(x, [size.dist]) or size


def arrival_draw(
    a: ArrivalFit, d: FitData, w: np.ndarray, keys: dict[str, str], rng: np.random.Generator
) -> ArrivalFit:
    """The arrival fit with the level, calendar-month factors and segment mix of resample `w`."""
    month = pd.PeriodIndex(pd.DatetimeIndex(d.created), freq="M")
    idx = a.months.get_indexer(month)
    inside = idx >= 0
    star = np.bincount(idx[inside], weights=w[inside], minlength=len(a.months))
    obs = np.bincount(idx[inside], minlength=len(a.months)).astype(float)
    if a.dispersion is not None and a.dispersion > 0:  # months are not independent deals
        star = star * rng.gamma(a.dispersion, 1.0 / a.dispersion, len(star))
    if a.edge is not None:  # the export's edge months were left out of the fit: out here too
        star, obs = np.where(a.edge, 0.0, star), np.where(a.edge, 0.0, obs)
    if obs.sum() <= 0 or star.sum() <= 0:
        return a
    cal = a.months.month.to_numpy() - 1
    ratio = star.sum() / obs.sum()
    level, boost = a.level * ratio, a.quarter_end_boost
    q = cal % 3 == 2
    if math.isfinite(boost) and boost != 1.0:  # the quarter-end effect, its own key
        if obs[q].sum() > 0 and obs[~q].sum() > 0 and star[~q].sum() > 0:
            rq, ro = star[q].sum() / obs[q].sum(), star[~q].sum() / obs[~q].sum()
            boost *= rq / ro
            level = a.level * ro
    factors = np.asarray(a.seasonality, dtype=float).copy()
    raw = a.raw_seasonality
    if a.use_seasonality and raw is not None:
        # each raw factor moves with its months' resampled counts; the fit's shrinkage towards 1
        # (w = (factor - 1) / (raw - 1)) is kept, so a factor shrunk to 1 stays there
        for m in range(12):
            sel = (cal == m) & (a.exposure > 0.25)
            if abs(raw[m] - 1.0) < 1e-9 or not sel.any() or obs[sel].sum() <= 0:
                continue
            w_m = (factors[m] - 1.0) / (raw[m] - 1.0)
            new_raw = raw[m] * (star[sel].sum() / obs[sel].sum()) / ratio
            factors[m] = max(1e-3, 1.0 + w_m * (new_raw - 1.0))
    mix = {}
    own = d.entry == 0 if d.entry is not None else np.ones(len(w), bool)  # the window's deals
    for name, key in keys.items():
        mix[key] = float(w[(d.segment == name) & own].sum())
    total = sum(mix.values())
    seg_mix = {k: v / total for k, v in mix.items() if v > 0} if total > 0 else a.segment_mix
    return dataclasses.replace(
        a,
        level=float(level),
        quarter_end_boost=float(boost),
        seasonality=[float(f) for f in factors],
        segment_mix=seg_mix,
    )


def _usable(of) -> bool:
    """A refit calibrated.yaml can carry: finite shares and every time to close at least
    MIN_DAYS / 10 (a mean that rounds to 0 in calibrated.yaml is not a duration the engine takes)."""
    for c in of.classes:
        for dist in (c.won, c.lost):
            if dist is not None and not (np.isfinite(dist.mean) and dist.mean >= MIN_DAYS / 10):
                return False
        if not (np.isfinite(c.weight) and np.isfinite(c.p_win)):
            return False
    return bool(np.isfinite(of.stuck))


def _draw_job(args) -> Calibration:
    cal, b, seed, cluster_days, future_days = args
    return draw(cal, b, seed, cluster_days, future_days)


def draws(
    cal: Calibration,
    n: int,
    seed: int,
    workers: int = 1,
    cluster_days: int = 0,
    future_days: float = 0.0,
) -> list[Calibration]:
    """Draws 0..n-1, in that order; spread over `workers` processes (same draws either way)."""
    jobs = [(cal, b, seed, cluster_days, future_days) for b in range(n)]
    if workers > 1 and n > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, n)) as pool:
            return list(pool.map(_draw_job, jobs))
    return [_draw_job(j) for j in jobs]


def block_of(r: int, replications: int, blocks: int) -> int:
    """The parameter block of replication r: consecutive replications share a draw, the blocks'
    sizes differ by at most one."""
    return r * blocks // replications
