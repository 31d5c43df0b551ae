"""Fit a salesim scenario to a CRM export, treating open deals as right-censored.

What is fitted, from the records known at the cutoff:

- Outcomes and time to close, per segment: a competing-risks mixture fitted by maximum likelihood
  (statsmodels GenericLikelihoodModel). A deal belongs to class k (weight w_k: e.g. deals that close
  fast and deals that close slowly); in class k it is won with probability p_k after a duration drawn
  from the won distribution, or lost after one from the lost distribution. A deal still open at the
  cutoff contributes the probability of not having closed by its age: sum_k w_k (p_k S_won,k(age) +
  (1 - p_k) S_lost,k(age)). Open deals are neither dropped nor counted as lost. The number of classes
  (1 or 2) is chosen by AIC. A file with no explicit losses (olist) gets a cure model: a deal not won
  never closes.
- The nonparametric check: Aalen-Johansen cumulative incidence of won and lost (statsmodels
  CumIncidenceRight), with open deals censored; its plateau is the win probability.
- Arrivals: opportunities created per month, a negative-binomial (or Poisson) regression with the
  month's observed exposure, giving the level and the end-of-quarter effect with intervals, and
  calendar-month factors.
- Deal sizes per segment (scipy.stats, best family by AIC) and per-rep win rates, shrunk towards the
  mean (beta-binomial, method of moments) with a chi-square test of heterogeneity.

Records created before the first close in the file are left-truncated (the extract kept only deals
still open when it starts), so the fit uses deals created from that date on.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from sim.calibrate.importer import CrmData, reopen
from sim.metrics import win_rate
from sim.records import MONTH_DAYS


class FitError(ValueError):
    """The data admit no fit salesim can stand behind (one line for the user, exit 2)."""


NEVER_DAYS = 36525.0  # a "stuck" deal's time to close: it stays open through any run
MIN_DAYS = (
    0.5  # a deal closed the day it was created counts as half a day (dates have day resolution)
)
Z90 = stats.norm.ppf(0.95)
CV_FLOOR = 1e-3  # the least cv of a fitted duration: a one-day spike, drawable by the engine


# -- duration families in salesim's mean / cv parametrisation -------------------------------------
def _frozen(family: str, mean: float, cv: float):
    if family == "gamma":
        k = 1.0 / (cv * cv)
        return stats.gamma(k, scale=mean / k)
    if family == "lognormal":
        s2 = math.log1p(cv * cv)
        return stats.lognorm(math.sqrt(s2), scale=math.exp(math.log(mean) - s2 / 2))
    raise ValueError(f"unknown family {family!r}")


def _cdf_sf(family: str, t: np.ndarray, mean: float, cv: float) -> tuple[np.ndarray, np.ndarray]:
    """Distribution and survival function at t, written with scipy.special (the likelihood's hot
    path; the same as `_frozen(...).cdf/sf`, an order of magnitude faster)."""
    if family == "gamma":
        k = 1.0 / (cv * cv)
        z = t / (mean / k)
        return special.gammainc(k, z), special.gammaincc(k, z)
    if family == "lognormal":
        s2 = math.log1p(cv * cv)
        s, mu = math.sqrt(s2), math.log(mean) - s2 / 2.0
        with np.errstate(divide="ignore"):
            z = (np.log(t) - mu) / s
        return special.ndtr(z), special.ndtr(-z)
    raise ValueError(f"unknown family {family!r}")


def _log_terms(
    family: str, grid: np.ndarray, ilo: np.ndarray, ihi: np.ndarray, ic: np.ndarray, mean, cv
) -> tuple[np.ndarray, np.ndarray]:
    """log P(lo < T <= hi) for lo = grid[ilo], hi = grid[ihi] (a close seen at day resolution is
    known only to its day), and log P(T > t) for t = grid[ic] (an open deal of age t), with the
    distribution evaluated once per point of the grid. Differences are taken on whichever tail is
    small, so narrow intervals keep their precision. At most 0, whatever the parameters: the
    likelihood is bounded, so no fit can run away to a spike."""
    cdf, sf = _cdf_sf(family, grid, mean, cv)
    p = np.where(cdf[ihi] <= 0.5, cdf[ihi] - cdf[ilo], sf[ilo] - sf[ihi])
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(p, 1e-300)), np.log(sf[ic])


def intervals(t: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval each observed time to close stands for at the given resolution (days): a close
    on day d (d >= 1) lies in (d - 1, d], a same-day close in (0, 1)."""
    hi = np.maximum(np.asarray(t, dtype=float), resolution)
    return hi - resolution, hi


@dataclass(frozen=True)
class DistFit:
    """A fitted positive distribution, as salesim writes it: {dist, mean, cv}."""

    dist: str
    mean: float
    cv: float

    def frozen(self):
        return _frozen(self.dist, self.mean, self.cv)

    def as_config(self) -> dict:
        return {
            "dist": self.dist,
            "mean": round(float(self.mean), 4),
            "cv": round(float(self.cv), 4),
        }


@dataclass(frozen=True)
class ClassFit:
    weight: float
    p_win: float
    won: DistFit
    lost: DistFit | None  # None: a deal not won never closes (no losses in the file)


@dataclass(frozen=True)
class OutcomeFit:
    """The competing-risks mixture of one segment."""

    classes: tuple[ClassFit, ...]
    stuck: float  # share of deals that never close (stay open for good)
    p_win: float
    p_win_ci: tuple[float, float]  # 90 % interval (delta method on the MLE)
    loglik: float
    aic: float
    n: int
    params: tuple[float, ...] = ()  # the optimiser's vector (`_unpack`): a refit can start there

    def cif(self, t: np.ndarray, outcome: str) -> np.ndarray:
        """Fitted cumulative incidence of `outcome` by age t."""
        out = np.zeros_like(np.asarray(t, dtype=float))
        for c in self.classes:
            if outcome == "won":
                out += c.weight * c.p_win * c.won.frozen().cdf(t)
            elif c.lost is not None:
                out += c.weight * (1 - c.p_win) * c.lost.frozen().cdf(t)
        return out

    def quantile(self, q: float, outcome: str) -> float:
        """Quantile of the time to close among deals with this outcome."""
        total = self.cif(np.array([1e7]), outcome)[0]
        if total <= 0:
            return float("nan")
        grid = np.linspace(0, 2000, 40001)
        f = self.cif(grid, outcome) / total
        return float(np.interp(q, f, grid))

    def mean_days(self, outcome: str) -> float:
        num = den = 0.0
        for c in self.classes:
            w = c.weight * (c.p_win if outcome == "won" else 1 - c.p_win)
            d = c.won if outcome == "won" else c.lost
            if d is not None and w > 0:
                num, den = num + w * d.mean, den + w
        return num / den if den else float("nan")


@dataclass(frozen=True)
class SegmentFit:
    name: str  # as in the file
    key: str  # the scenario's segment name
    n: int
    won: int
    lost: int
    open: int
    outcome: OutcomeFit
    aj_times: np.ndarray
    aj_won: np.ndarray
    aj_lost: np.ndarray
    aj_won_ci: tuple[float, float]  # 90 % interval of the Aalen-Johansen plateau
    naive_closed: float  # won / (won + lost): open deals dropped
    naive_open_lost: float  # won / n: open deals counted as lost
    size: DistFit | None
    size_n: int
    pooled_shape: bool  # too few closed deals: durations borrowed from the pooled fit
    max_age: float = 0.0  # the longest follow-up (days) of any deal of the segment
    # the final P(won) the deals allow (`plausible_p_win`): what the fit is held to
    p_win_range: tuple[float, float] = (float("nan"), float("nan"))


@dataclass(frozen=True)
class ArrivalFit:
    months: pd.PeriodIndex
    observed: np.ndarray  # opportunities created in each month
    exposure: np.ndarray  # share of each month inside the fitted window
    level: float  # expected opportunities in a full month with factor 1
    quarter_end_boost: float
    quarter_end_ci: tuple[float, float]
    dispersion: float | None  # gamma-Poisson shape; None: Poisson
    seasonality: list[float]  # 12 calendar-month factors (quarter ends included when used)
    use_seasonality: bool
    segment_mix: dict[str, float]  # by scenario segment key

    def expected(self) -> np.ndarray:
        cal = self.months.month.to_numpy() - 1
        f = np.asarray(self.seasonality)[cal]
        if not self.use_seasonality:
            f = f * np.where(cal % 3 == 2, self.quarter_end_boost, 1.0)
        return self.level * f * self.exposure


@dataclass(frozen=True)
class RepFit:
    table: pd.DataFrame  # owner, closed, won, rate, shrunk
    chi2: float
    dof: int
    p_value: float
    supported: bool
    note: str


@dataclass(frozen=True)
class FitData:
    """The deals the outcome, size and arrival fits saw, one entry per deal, kept so that the fits
    can be redone on a bootstrap resample (sim.calibrate.uncertainty)."""

    t: np.ndarray  # time to close, or age at the cutoff when open (days)
    kind: np.ndarray  # 1 won, 2 lost, 0 open
    segment: np.ndarray  # the segment's name, as in Calibration.segments
    amount: np.ndarray  # the won amount (NaN when not won or unknown)
    created: np.ndarray  # creation date (datetime64)
    resolution: float  # of the times to close (days)


@dataclass
class Calibration:
    """Everything fitted from one export at one cutoff; `scenario()` is calibrated.yaml."""

    name: str
    cutoff: pd.Timestamp
    start: pd.Timestamp  # first day of the fitted window (the first close in the file)
    segments: dict[str, SegmentFit]
    arrivals: ArrivalFit
    reps: RepFit | None
    has_losses: bool
    left_truncated: int  # deals created before `start`, not used for outcomes
    closes: ArrivalFit | None = None  # won deals by close month: the end-of-quarter effect on wins
    seed: int = 42
    warmup_months: int = 6
    horizon_months: int = 12
    fit_mean: float = 0.95
    notes: list[str] = field(default_factory=list)
    deals: FitData | None = None  # what was fitted, for bootstrap refits (backtest.parameter_draws)

    # the scenario ---------------------------------------------------------------------------------
    def motion_names(self, seg: SegmentFit) -> list[str]:
        k = len(seg.outcome.classes)
        return [seg.key] if k == 1 else [f"{seg.key}_{x}" for x in ("fast", "slow")[:k]]

    def scenario(self) -> dict:
        """The calibrated scenario as a plain dict (sim.config.load_scenario validates it)."""
        # stage probabilities are fitted for the CRM's deals as they came: fit is off (lead_fit), so
        # the lead stage (p = 1) passes every lead
        pass_lead = 1.0
        a = self.arrivals
        start = (self.start.to_period("M") - self.warmup_months).to_timestamp()
        segments, motions, mix = {}, {}, {}
        for seg in self.segments.values():
            size = seg.size.as_config() if seg.size else {"dist": "fixed", "mean": 1.0, "cv": 0.0}
            # size-blind: the fitted p and durations are the deals' own, whatever their size
            segments[seg.key] = {
                "acv": size,
                "churn_month": 0.0,
                "size_elasticity": {"win": 0.0, "days": 0.0},
            }
            mix[seg.key] = {}
            for name, c in zip(self.motion_names(seg), seg.outcome.classes, strict=True):
                deal = {"owner": "ae", "p": round(float(c.p_win), 6), "days": c.won.as_config()}
                if c.lost is not None:
                    deal["days_lost"] = c.lost.as_config()
                motions[name] = _motion(deal)
                mix[seg.key][name] = round(float(c.weight), 6)
            if seg.outcome.stuck >= 1e-4:  # deals that never close: open for ~100 years
                never = {"dist": "fixed", "mean": NEVER_DAYS, "cv": 0.0}
                motions[f"{seg.key}_stuck"] = _motion({"owner": "ae", "p": 0.0, "days": never})
                mix[seg.key][f"{seg.key}_stuck"] = round(float(seg.outcome.stuck), 6)
            _fix_sum(mix[seg.key])
        seg_mix = {k: round(v, 6) for k, v in a.segment_mix.items()}
        _fix_sum(seg_mix)
        channel = {
            "budget_month": 1.0,
            "ref_budget_month": 1.0,
            "leads_month": round(a.level / pass_lead, 3),
            "segment_mix": seg_mix,
            "fit_mean": self.fit_mean,
            "seasonality": [round(float(x), 4) for x in a.seasonality],
            "quarter_end_boost": 1.0 if a.use_seasonality else round(a.quarter_end_boost, 4),
        }
        if a.dispersion is not None:
            channel["dispersion"] = round(a.dispersion, 3)
        return _plain(
            {
                "scenario": {"name": f"calibrated_{self.name}"},
                "seed": self.seed,
                "start_date": start.date().isoformat(),
                "warmup_days": round(self.warmup_months * MONTH_DAYS, 4),
                "horizon_days": round(self.horizon_months * MONTH_DAYS, 4),
                "segments": segments,
                "channels": {"crm": channel},
                "product": {"signups_month": 0.0, "segment_mix": {next(iter(segments)): 1.0}},
                "team": {r: {"count": 0} for r in ("sdr", "ae", "csm")},
                "motions": motions,
                "mix": mix,
                "expansion": None,
                "lead_fit": {"log_odds_per_fit": 0.0},
                # a CRM export has no costs: the channel's budget of 1 only scales its leads
                "costs": {"tools_month": 0.0, "known": False},
            }
        )


def _plain(obj):
    """numpy scalars -> Python numbers, so the scenario dumps as plain YAML."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj.item() if isinstance(obj, np.generic) else obj


def _motion(deal: dict) -> dict:
    """One calibrated motion: a lead that becomes an opportunity at once, then the deal stage."""
    return {
        "entry": "marketing",
        "opportunity_from": "deal",
        "stages": {"lead": {"owner": "marketing", "p": 1.0}, "deal": deal},
    }


def _fix_sum(d: dict[str, float]) -> None:
    """Rounded shares sum to exactly 1: put the rounding error on the largest."""
    if d:
        big = max(d, key=d.get)
        d[big] = round(d[big] + 1.0 - sum(d.values()), 6)


def slug(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return s or "segment"


# -- the outcome mixture --------------------------------------------------------------------------
def _unpack(x: np.ndarray, k: int, losses: bool):
    """Parameter vector -> (classes, stuck weight). A class is (weight, p, won mean, won cv, lost
    mean, lost cv); without losses p is 1 and the lost pair NaN. Weights are a softmax against the
    stuck class (deals that never close)."""
    e = np.exp(np.clip(x[:k], -30, 30))
    ws = e / (1.0 + e.sum())
    stuck = 1.0 / (1.0 + e.sum())
    i, out = k, []
    for c in range(k):
        if losses:
            p = special.expit(x[i])
            i += 1
        else:
            p = 1.0
        wm, wc = math.exp(x[i]), math.exp(x[i + 1])
        i += 2
        lm = lc = float("nan")
        if losses:
            lm, lc = math.exp(x[i]), math.exp(x[i + 1])
            i += 2
        out.append((float(ws[c]), float(p), wm, wc, lm, lc))
    return out, float(stuck)


def _loglik_obs(x, t, kind, k: int, family: str, losses: bool, resolution: float = 1.0):
    """Per-deal log likelihood; kind 1 won, 2 lost, 0 open (censored at age t). A close is
    interval-censored to its `resolution` (days; see `intervals`), so each term is a log
    probability, never a density: bounded above by 0."""
    won, lost, cens = kind == 1, kind == 2, kind == 0
    lo, hi = intervals(t, resolution)
    # each distinct point once: at day resolution a close's upper end is the next one's lower end
    parts = (lo[won], hi[won], lo[lost], hi[lost], t[cens])
    grid, at = np.unique(np.concatenate(parts), return_inverse=True)
    at = np.split(at, np.cumsum([len(x) for x in parts])[:-1])
    classes, stuck = _unpack(x, k, losses)
    total = None
    for w, p, wm, wc, lm, lc in classes:
        lw, lp, lq = math.log(w), math.log(max(p, 1e-300)), math.log(max(1 - p, 1e-300))
        term = np.empty(len(t))
        pdf_w, sf_wc = _log_terms(family, grid, at[0], at[1], at[4], wm, wc)
        term[won] = lw + lp + pdf_w
        if losses:
            pdf_l, sf_lc = _log_terms(family, grid, at[2], at[3], at[4], lm, lc)
            term[lost] = lw + lq + pdf_l
            term[cens] = lw + np.logaddexp(lp + sf_wc, lq + sf_lc)
        else:
            term[lost] = -np.inf
            term[cens] = lw + sf_wc
        total = term if total is None else np.logaddexp(total, term)
    total[cens] = np.logaddexp(total[cens], math.log(max(stuck, 1e-300)))
    return total


def compress(
    t: np.ndarray, kind: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (time, kind) pairs of the deals and how many deals (or how much weight) each
    holds. Day-resolution times take few distinct values, so a likelihood or an Aalen-Johansen
    estimate summed over the pairs with these counts as weights is the same as over the deals, at
    a fraction of the cost (a million deals are a few thousand pairs)."""
    t = np.asarray(t, dtype=float)
    kind = np.asarray(kind, dtype=int)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    if not len(t):
        return t, kind, w
    order = np.lexsort((kind, t))
    ts, ks, ws = t[order], kind[order], w[order]
    new = np.r_[True, (ts[1:] != ts[:-1]) | (ks[1:] != ks[:-1])]
    group = np.cumsum(new) - 1
    counts = np.bincount(group, weights=ws)
    keep = counts > 0
    return ts[new][keep], ks[new][keep], counts[keep]


def _start(t, kind, k: int, losses: bool, split: float = 30.0, w=None) -> np.ndarray:
    w = np.ones(len(t)) if w is None else np.asarray(w, dtype=float)

    def moments(sel):
        v, wv = t[sel], w[sel]
        ok = np.isfinite(v)
        v, wv = v[ok], wv[ok]
        if wv.sum() < 2:
            return 30.0, 1.0
        mean = float(np.sum(wv * v) / wv.sum())
        sd = math.sqrt(float(np.sum(wv * (v - mean) ** 2) / wv.sum()))
        return max(mean, 1.0), float(np.clip(sd / max(mean, 1e-9), 0.2, 3))

    closed = kind > 0
    groups = [np.ones(len(t), bool)] if k == 1 else [t < split, t >= split]
    # weights against the stuck class: closed deals of the group vs a tenth of the open ones
    stuck0 = max(0.1 * w[kind == 0].sum(), 1.0)
    x = [math.log(max(w[closed & g].sum(), 1.0) / stuck0) for g in groups]
    for g in groups:
        if losses:
            pw = w[g & (kind == 1)].sum() / max(w[g & (kind > 0)].sum(), 1)
            x.append(special.logit(np.clip(pw, 0.02, 0.98)))
        m, c = moments(g & (kind == 1))
        x += [math.log(m), math.log(c)]
        if losses:
            m, c = moments(g & (kind == 2))
            x += [math.log(m), math.log(c)]
    return np.array(x, dtype=float)


def fit_outcomes(
    t: np.ndarray,
    kind: np.ndarray,
    k: int,
    family: str = "gamma",
    losses: bool = True,
    resolution: float = 1.0,
    weights: np.ndarray | None = None,
    start: np.ndarray | None = None,
    interval: bool = True,
) -> OutcomeFit:
    """Maximum likelihood for the k-class competing-risks mixture (statsmodels GenericLikelihoodModel),
    closes interval-censored to `resolution` days. The likelihood is summed over the distinct
    (time, kind) pairs with their counts (`compress`), times `weights` per deal when given (a
    bootstrap's resampling counts). `start`: the parameter vector to start from (else moments);
    `interval=False` skips the Hessian (P(won)'s interval is then unknown)."""
    from statsmodels.base.model import GenericLikelihoodModel

    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    kind = np.asarray(kind, dtype=int)
    tu, ku, wu = compress(t, kind, weights)
    n = float(wu.sum())
    x0 = _start(np.maximum(tu, MIN_DAYS), ku, k, losses, w=wu) if start is None else start

    class Mixture(GenericLikelihoodModel):
        def loglike(self, params):
            return float(wu @ _loglik_obs(params, tu, ku, k, family, losses, resolution))

        def loglikeobs(self, params):  # per distinct pair, weighted (the sum is `loglike`)
            return wu * _loglik_obs(params, tu, ku, k, family, losses, resolution)

    names = [f"x{i}" for i in range(len(x0))]
    # endog: the deals themselves, as before, since the optimiser divides the objective by their
    # number (its tolerances then act as they did per deal); the likelihood reads only the pairs
    model = Mixture(t, None, extra_params_names=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(
            start_params=x0, method="bfgs", maxiter=2000, disp=0, skip_hessian=not interval
        )
        x = np.asarray(res.params)
        try:
            if not interval:
                raise ValueError("not asked for")
            cov = np.asarray(res.cov_params())
        except Exception:  # noqa: BLE001 - a singular Hessian leaves the interval unknown
            cov = np.full((len(x), len(x)), np.nan)
    classes = []
    unpacked, stuck = _unpack(x, k, losses)
    for w, p, wm, wc, lm, lc in unpacked:
        # a class whose closes all fall on one day is a spike there (cv -> 0 keeps the interval's
        # probability at 1): kept at CV_FLOOR, which calibrated.yaml's 4 decimals do not round to 0
        lost = DistFit(family, lm, max(lc, CV_FLOOR)) if losses else None
        classes.append(ClassFit(w, p, DistFit(family, wm, max(wc, CV_FLOOR)), lost))
    order = sorted(range(k), key=lambda i: classes[i].won.mean)  # fast class first
    classes = [classes[i] for i in order]

    def p_of(v):
        return sum(w * p for w, p, *_ in _unpack(v, k, losses)[0])

    p = p_of(x)
    grad = np.array([(p_of(x + e) - p_of(x - e)) / (2 * 1e-5) for e in np.eye(len(x)) * 1e-5])
    var = float(grad @ cov @ grad)
    se = math.sqrt(var) if np.isfinite(var) and var >= 0 else float("nan")
    ll = float(res.llf)
    return OutcomeFit(
        tuple(classes),
        stuck,
        p,
        _ci(p, se),
        ll,
        2 * len(x) - 2 * ll,
        int(round(n)),
        tuple(float(v) for v in x),
    )


def aalen_johansen(t: np.ndarray, kind: np.ndarray, weights: np.ndarray | None = None):
    """Cumulative incidence of won (cause 1) and lost (cause 2), open deals censored: times, won,
    lost, 90 % interval of the won plateau. Computed on the distinct (time, kind) pairs with their
    counts (`compress`; times `weights` per deal when given), with statsmodels' formulas
    (CumIncidenceRight, and SurvfuncRight's Kaplan-Meier with Greenwood's variance when the file
    has no losses): counts are frequency weights, so the estimate and its standard error are those
    of the deals one by one."""
    t = np.maximum(np.asarray(t, float), MIN_DAYS)
    kind = np.asarray(kind, int)
    tu, ku, wu = compress(t, kind, weights)
    if not (ku > 0).any():
        z = np.zeros(1)
        return z, z, z, (0.0, 0.0)
    utime, r = np.unique(tu, return_inverse=True)
    m = len(utime)
    n = np.cumsum(np.bincount(r, weights=wu, minlength=m)[::-1])[::-1]  # at risk just before
    d1 = np.bincount(r, weights=wu * (ku == 1), minlength=m)
    d2 = np.bincount(r, weights=wu * (ku == 2), minlength=m)
    d = d1 + d2
    with np.errstate(divide="ignore", invalid="ignore"):
        if not (ku == 2).any():  # one cause: Kaplan-Meier at the event times (SurvfuncRight)
            ev = d > 0
            n, d, utime = n[ev], d[ev], utime[ev]
            sp, _ = _km(n, d)
            se = d / np.clip(n * (n - d), 1e-12, np.inf)
            se[(n == d) | (n == 0)] = np.nan
            se = np.sqrt(np.cumsum(se))
            ok = np.isfinite(se) | (sp != 0)
            se[ok] *= sp[ok]
            se[~ok] = np.nan
            won = 1 - sp
            return utime, won, np.zeros_like(won), _ci(won[-1], _last_finite(se))
        sp, _ = _km(n, d)
        sp0 = np.r_[1.0, sp[:-1]] / n
        cinc = [np.cumsum(sp0 * d1), np.cumsum(sp0 * d2)]
        # the variance of the won incidence (statsmodels' _calc_incidence_right, cause 1)
        ip = cinc[0]
        ra = d / (n * (n - d))
        v = ip**2 * np.cumsum(ra) - 2 * ip * np.cumsum(ip * ra) + np.cumsum(ip**2 * ra)
        v += np.cumsum(sp0**2 * (n - d1) * d1 / n)
        ra = sp0 * d1 / n
        v += -2 * ip * np.cumsum(ra) + 2 * np.cumsum(ip * ra)
        se = np.sqrt(v)
    return utime, cinc[0], cinc[1], _ci(ip[-1], _last_finite(se))


def _km(n: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-cause Kaplan-Meier survival after each time, as statsmodels computes it (a product of
    logs, exactly 0 once everyone has closed)."""
    sp = 1 - d / n.astype(np.float64)
    zero = sp < 1e-16
    sp[zero] = 1e-16
    sp = np.exp(np.cumsum(np.log(sp)))
    sp[zero] = 0
    return sp, zero


def plausible_p_win(
    t: np.ndarray, kind: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """The range of final P(won) the deals allow, from their own censoring-aware figures: at least
    the lower 90 % bound of the Aalen-Johansen won incidence at the last follow-up (wins can only
    add up from there), at most its upper bound plus every deal still unresolved then (the most
    that could yet be won)."""
    _, won, lost, (lo, hi) = aalen_johansen(t, kind, weights)
    if not math.isfinite(lo):
        lo = hi = float(won[-1])
    left = max(0.0, 1.0 - float(won[-1]) - float(lost[-1]))
    return max(0.0, lo), min(1.0, hi + left)


def _last_finite(se: np.ndarray) -> float:
    """The standard error at the last time where it is defined (statsmodels leaves it NaN where
    the risk set has run out, which would make every interval 0-100 %)."""
    ok = np.isfinite(se)
    return float(se[ok][-1]) if ok.any() else float("nan")


def _ci(p: float, se: float) -> tuple[float, float]:
    if not math.isfinite(se):  # unknown: the interval says so rather than claiming 0-100 %
        return (float("nan"), float("nan"))
    return (max(0.0, p - Z90 * se), min(1.0, p + Z90 * se))


# -- deal size, arrivals, reps ---------------------------------------------------------------------
def fit_size(x: np.ndarray, families: list[str]) -> DistFit | None:
    """Best of the families by AIC (scipy.stats, location fixed at 0), as {dist, mean, cv}."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) < 5:
        return None
    if np.ptp(x) == 0:
        return DistFit("fixed", float(x[0]), 0.0)
    best = None
    for fam in families:
        sp = {"gamma": stats.gamma, "lognormal": stats.lognorm}[fam]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params = sp.fit(x, floc=0)
        d = sp(*params)
        aic = 2 * (len(params) - 1) - 2 * float(np.sum(d.logpdf(x)))
        m, s = float(d.mean()), float(d.std())
        if best is None or aic < best[0]:
            best = (aic, DistFit(fam, m, s / m))
    return best[1]


def fit_arrivals(
    created: pd.Series, segkey: pd.Series, start: pd.Timestamp, end: pd.Timestamp, seasonality: bool
) -> ArrivalFit:
    """Monthly opportunity arrivals in [start, end]: level, end-of-quarter effect, month factors."""
    import statsmodels.api as sm

    months = pd.period_range(start.to_period("M"), end.to_period("M"), freq="M")
    lo = np.maximum(months.start_time.to_numpy(), np.datetime64(start))
    hi = np.minimum(
        (months.end_time + pd.Timedelta(1, "ns")).to_numpy(),
        np.datetime64(end + pd.Timedelta(days=1)),
    )
    days = (hi - lo) / np.timedelta64(1, "D")
    exposure = days / months.days_in_month.to_numpy()
    obs = created.dt.to_period("M").value_counts().reindex(months, fill_value=0).to_numpy()
    cal = months.month.to_numpy() - 1
    qend = (cal % 3 == 2).astype(float)
    X = (
        np.column_stack([np.ones(len(months)), qend])
        if qend.std() > 0
        else np.ones((len(months), 1))
    )
    off = np.log(exposure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = sm.GLM(obs, X, family=sm.families.Poisson(), offset=off).fit()
        mu = pois.mu
        dof = len(obs) - X.shape[1]
        # NB2 variance mu + alpha mu^2: alpha by moments from the Poisson residuals
        alpha = float(np.sum((obs - mu) ** 2 - mu) / np.sum(mu**2)) if dof > 0 else 0.0
        fam = sm.families.NegativeBinomial(alpha=alpha) if alpha > 1e-6 else sm.families.Poisson()
        res = sm.GLM(obs, X, family=fam, offset=off).fit()
    b = np.asarray(res.params)
    if X.shape[1] == 2:
        ci = np.asarray(res.conf_int(alpha=0.10))[1]
        boost, boost_ci = math.exp(b[1]), (math.exp(ci[0]), math.exp(ci[1]))
    else:
        boost, boost_ci = 1.0, (float("nan"), float("nan"))
    level = math.exp(b[0])
    factors = np.ones(12)
    if seasonality:  # calendar-month factors: observed / expected at factor 1, averaged over years
        rate = obs / np.maximum(exposure, 1e-9) / level
        seen = np.zeros(12, bool)
        for m in range(12):
            sel = (cal == m) & (exposure > 0.25)
            if sel.any():
                factors[m] = np.average(rate[sel], weights=exposure[sel])
                seen[m] = True
        scale = factors[seen].mean() if seen.any() else 1.0
        factors[seen] /= scale  # observed months average 1; unseen months stay at 1
        level *= scale
    mix = segkey.value_counts(normalize=True).sort_index()
    return ArrivalFit(
        months,
        obs,
        exposure,
        level,
        boost,
        boost_ci,
        (1.0 / alpha) if alpha > 1e-6 and not seasonality else None,
        [float(f) for f in factors],
        seasonality,
        {str(k): float(v) for k, v in mix.items()},
    )


def fit_reps(opp: pd.DataFrame, level: float = 0.05) -> RepFit | None:
    """Per-rep win rates among closed deals, shrunk towards the mean (beta-binomial, moments), and a
    chi-square test of whether reps differ at all."""
    closed = opp[opp["outcome"].isin(["won", "lost"]) & opp["owner"].notna()]
    if closed["owner"].nunique() < 2:
        return None
    g = closed.groupby("owner", observed=True)["outcome"]
    tab = pd.DataFrame({"closed": g.size(), "won": g.apply(lambda s: int((s == "won").sum()))})
    tab["rate"] = tab["won"] / tab["closed"]
    if not (tab["won"] < tab["closed"]).any() or not tab["won"].any():  # no losses or no wins:
        # a win rate per rep is meaningless (and the chi-square table has an empty column)
        return None
    lost = tab["closed"] - tab["won"]
    chi2, pval, dof, _ = stats.chi2_contingency(np.column_stack([tab["won"], lost]))
    pbar = tab["won"].sum() / tab["closed"].sum()
    within = float(np.mean(pbar * (1 - pbar) / tab["closed"]))
    tau2 = max(0.0, float(tab["rate"].var(ddof=1)) - within)
    if tau2 > 0:
        m = pbar * (1 - pbar) / tau2 - 1  # prior strength in deals
        tab["shrunk"] = (tab["won"] + m * pbar) / (tab["closed"] + m)
    else:
        tab["shrunk"] = pbar
    supported = bool(pval < level)
    note = (
        f"reps differ (chi-square {chi2:.1f} on {dof} df, p = {pval:.3g}); shrunk rates shown"
        if supported
        else f"no evidence that reps differ (chi-square {chi2:.1f} on {dof} df, p = {pval:.2f}): "
        "the data do not support per-rep win rates; one rate per segment is used"
    )
    tab = tab.reset_index().sort_values("closed", ascending=False)
    return RepFit(tab, float(chi2), int(dof), float(pval), supported, note)


# -- the whole fit ---------------------------------------------------------------------------------
def time_resolution(opp: pd.DataFrame) -> float:
    """The resolution of the export's times to close, in days: 1 when every creation and close
    date falls on midnight (dates without times, the usual CRM export), else one minute."""
    stamps = pd.concat([opp["created_date"], opp["close_date"]]).dropna()
    return 1.0 if (stamps == stamps.dt.normalize()).all() else 1.0 / 1440.0


def known_at(crm: CrmData, cutoff: pd.Timestamp | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Deals created by the cutoff, with outcomes after it turned back into open."""
    opp = crm.opportunities
    end = crm.as_of if cutoff is None else min(pd.Timestamp(cutoff), crm.as_of)
    opp = opp[opp["created_date"] <= end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")].copy()
    reopen(opp, opp["close_date"] > end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns"))
    return opp, end


def fit(
    crm: CrmData,
    cutoff: pd.Timestamp | None = None,
    *,
    families: tuple[str, ...] = ("gamma",),
    sizes: tuple[str, ...] = ("lognormal", "gamma"),
    min_closed: int = 20,
    seasonality: bool = True,
    classes: tuple[int, ...] = (1, 2),
    seed: int = 42,
    warmup_months: int = 6,
    horizon_months: int = 12,
) -> Calibration:
    """Fit everything from the records known at `cutoff` (default: the whole file)."""
    opp, end = known_at(crm, cutoff)
    start = (
        crm.closes_from if crm.closes_from is not None else opp["created_date"].min().normalize()
    )
    if start > end:
        start = opp["created_date"].min().normalize()
    use = opp[opp["created_date"] >= start]
    truncated = int((opp["created_date"] < start).sum())
    if not len(use):
        raise FitError(f"fit error: no opportunity created between {start.date()} and {end.date()}")
    has_losses = bool((use["outcome"] == "lost").any())
    close_t = (use["close_date"] - use["created_date"]).dt.total_seconds() / 86400
    resolution = time_resolution(use)
    age = (end + pd.Timedelta(days=1) - use["created_date"]).dt.total_seconds() / 86400
    t_all = np.where(use["outcome"] == "open", age, close_t).astype(float)
    kind_all = use["outcome"].map({"won": 1, "lost": 2, "open": 0}).astype(int).to_numpy()

    notes: list[str] = []

    def best(t, kind, ks, label="all segments"):
        """The fit with the lowest AIC among those whose P(won) the data's own censoring-aware
        figures allow (`plausible_p_win`); simpler models are tried when the best one is not."""
        fits = []
        for k in ks:
            n_par = k * (6 if has_losses else 3)
            if k > 1 and (kind > 0).sum() < 10 * n_par:
                continue
            for fam in families:
                try:
                    fits.append(fit_outcomes(t, kind, k, fam, has_losses, resolution))
                except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                    continue
        if not fits:
            raise FitError(f"fit error: {label}: no outcome model could be fitted")
        fits.sort(key=lambda f: f.aic)
        lo, hi = plausible_p_win(t, kind)
        ok = [f for f in fits if lo <= f.p_win <= hi]
        if ok and ok[0] is fits[0]:
            return fits[0]
        first = fits[0]
        what = (
            f"{label}: the best fit's P(won) {100 * first.p_win:.2f} % lies outside "
            f"{100 * lo:.2f}-{100 * hi:.2f} %, what the deals allow (Aalen-Johansen, with open deals"
            " censored)"
        )
        if not ok:
            raise FitError(f"fit error: {what}; no simpler model fits either")
        notes.append(
            f"{what}; replaced by the {len(ok[0].classes)}-class fit ({100 * ok[0].p_win:.2f} %)."
        )
        return ok[0]

    pooled = best(t_all, kind_all, (1,))
    segfits: dict[str, SegmentFit] = {}
    keys: dict[str, str] = {}
    for name in sorted(use["segment"].astype(str).unique()):
        key = slug(name)
        while key in keys.values():
            key += "_"
        keys[name] = key
        sel = (use["segment"].astype(str) == name).to_numpy()
        t, kind = t_all[sel], kind_all[sel]
        n_closed = int((kind > 0).sum())
        if n_closed >= min_closed:
            of, pooled_shape = best(t, kind, classes, name), False
        else:  # too few closes for a shape: pooled durations, own win probability
            of, pooled_shape = _own_p(pooled, t, kind, has_losses, resolution), True
        times, aw, al, aci = aalen_johansen(t, kind)
        if not math.isfinite(of.p_win_ci[0]) and math.isfinite(aci[0]):
            # a singular Hessian leaves the fit's own interval unknown: borrow the width of the
            # censoring-aware estimate's, around the fitted value, and say so
            half = ((aw[-1] - aci[0]), (aci[1] - aw[-1]))
            ci = (max(0.0, of.p_win - half[0]), min(1.0, of.p_win + half[1]))
            of = dataclasses.replace(of, p_win_ci=ci)
            notes.append(
                f"{name}: the fit's 90 % interval of P(won) could not be computed (singular "
                "Hessian); the report shows the Aalen-Johansen interval's width around it."
            )
        seg_rows = use[sel]
        won_amt = seg_rows.loc[seg_rows["outcome"] == "won", "amount"]
        segfits[name] = SegmentFit(
            name=name,
            key=key,
            n=int(sel.sum()),
            won=int((kind == 1).sum()),
            lost=int((kind == 2).sum()),
            open=int((kind == 0).sum()),
            outcome=of,
            aj_times=times,
            aj_won=aw,
            aj_lost=al,
            aj_won_ci=aci,
            naive_closed=win_rate(use[sel]) if n_closed else 0.0,
            naive_open_lost=float((kind == 1).mean()),
            size=fit_size(won_amt.to_numpy(), list(sizes)),
            size_n=int(won_amt.notna().sum()),
            pooled_shape=pooled_shape,
            max_age=float(t.max()),
            p_win_range=plausible_p_win(t, kind),
        )
    arr_end = min(end, opp["created_date"].max().normalize())
    arrivals = fit_arrivals(
        use["created_date"], use["segment"].astype(str).map(keys), start, arr_end, seasonality
    )
    # every win the file records from `start` on, whenever the deal was created, while new deals
    # still arrive (olist's wins after its last lead only wind down)
    won = opp[(opp["outcome"] == "won") & (opp["close_date"] >= start)]
    won = won[won["close_date"] < arr_end + pd.Timedelta(days=1)]
    closes = None
    if len(won) >= 30:  # the end-of-quarter effect on wins (salesim puts quarter ends on arrivals)
        closes = fit_arrivals(won["close_date"], won["segment"].astype(str), start, arr_end, False)
    if truncated:
        notes.append(
            f"{truncated} deals created before {start.date()} (the first close in the file) are "
            "left-truncated: the extract holds only those still open then. They are not used."
        )
    if not has_losses:
        notes.append(
            "The file records no lost deals: a deal not won is censored while open, and the share "
            "that never converts is the fitted 'stuck' class (open for good in calibrated.yaml)."
        )
    return Calibration(
        name=crm.name,
        cutoff=end,
        start=start,
        segments=segfits,
        arrivals=arrivals,
        reps=fit_reps(use),
        has_losses=has_losses,
        left_truncated=truncated,
        closes=closes,
        seed=seed,
        warmup_months=warmup_months,
        horizon_months=horizon_months,
        notes=notes,
        deals=FitData(
            t_all,
            kind_all,
            use["segment"].astype(str).to_numpy(),
            np.where(kind_all == 1, use["amount"].to_numpy(dtype=float), np.nan),
            use["created_date"].to_numpy(),
            resolution,
        ),
    )


def _own_p(
    pooled: OutcomeFit, t, kind, losses: bool, resolution: float = 1.0, weights=None
) -> OutcomeFit:
    """The pooled one-class durations with this segment's own shares of won, lost and stuck (the
    likelihood summed over distinct (time, kind) pairs with their counts, as in `fit_outcomes`)."""
    from scipy.optimize import minimize
    from statsmodels.tools.numdiff import approx_hess

    c = pooled.classes[0]
    fam = c.won.dist
    shape = [math.log(c.won.mean), math.log(c.won.cv)]
    if losses:
        shape += [math.log(c.lost.mean), math.log(c.lost.cv)]
    t, kind, w = compress(np.maximum(np.asarray(t, float), 0.0), np.asarray(kind, int), weights)

    def full(z):
        return np.array([z[0], *z[1:], *shape])

    def nll(z):
        return -float(w @ _loglik_obs(full(z), t, kind, 1, fam, losses, resolution))

    z0 = np.array([1.0, 0.0] if losses else [1.0])
    z = minimize(nll, z0, method="Nelder-Mead").x
    (cls,), stuck = _unpack(full(z), 1, losses)
    p = cls[0] * cls[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cov = np.linalg.inv(approx_hess(z, nll))
        except np.linalg.LinAlgError:
            cov = np.full((len(z), len(z)), np.nan)

    def p_of(v):
        (cc,), _ = _unpack(full(v), 1, losses)
        return cc[0] * cc[1]

    grad = np.array([(p_of(z + e) - p_of(z - e)) / 2e-5 for e in np.eye(len(z)) * 1e-5])
    var = float(grad @ cov @ grad)
    se = math.sqrt(var) if np.isfinite(var) and var >= 0 else float("nan")
    fitc = ClassFit(cls[0], cls[1], c.won, c.lost)
    ll = -nll(z)
    return OutcomeFit(
        (fitc,),
        stuck,
        p,
        _ci(p, se),
        ll,
        2 * len(z) - 2 * ll,
        int(round(w.sum())),
        tuple(float(v) for v in full(z)),
    )
