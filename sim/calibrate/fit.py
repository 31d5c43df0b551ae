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
from sim.close_pull import ClosePull
from sim.config import trend_years
from sim.records import MONTH_DAYS

YEAR_DAYS = 12 * MONTH_DAYS  # 365.25


class FitError(ValueError):
    """The data admit no fit salesim can stand behind (one line for the user, exit 2)."""


NEVER_DAYS = 36525.0  # a "stuck" deal's time to close: it stays open through any run
MIN_DAYS = (
    0.5  # a deal closed the day it was created counts as half a day (dates have day resolution)
)
Z90 = stats.norm.ppf(0.95)
# The standard opportunity stages a calibrated deal stage stands for (`covers`), each with its share
# of the deal's time: the marketing-led graph's mean stage days (configs/graph/mlg.yaml: 10, 12, 14,
# 14). A play aimed at proposal or negotiation acts on the deal stage (docs/calibration.md).
COVERS = {"discovery": 0.2, "demo": 0.24, "proposal": 0.28, "negotiation": 0.28}
SLOT_HEADROOM = 1.2  # AE pipeline slots over the fitted peak of open deals (plus 3 sd of noise)
NOTIONAL_SLOTS = (
    20  # open deals per notional AE when the export names no owners (the schema default)
)
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
    level: float  # expected opportunities in a full month with factor 1, at `anchor`
    quarter_end_boost: float  # on March, June, September, December (the factors are net of it)
    quarter_end_ci: tuple[float, float]
    dispersion: float | None  # gamma-Poisson shape; None: Poisson
    seasonality: list[float]  # 12 calendar-month factors, shrunk towards 1 (net of the quarter end)
    use_seasonality: bool
    segment_mix: dict[str, float]  # by scenario segment key
    trend_year: float = 0.0  # growth per year kept in the model (0: none, or not supported)
    trend_estimate: float = float("nan")  # the fitted growth per year, kept or not
    trend_ci: tuple[float, float] = (float("nan"), float("nan"))  # its 90 % interval
    trend_p: float = float("nan")  # likelihood-ratio test of "no trend"
    anchor: pd.Timestamp | None = None  # the day at which `level` holds (the day after the window)
    years: np.ndarray | None = None  # each month's middle, in years from `anchor`
    raw_seasonality: list[float] | None = None  # the factors before shrinkage
    seen: list[float] | None = None  # how many months (exposure) each calendar month was seen
    edge: np.ndarray | None = None  # months left out of the fit as the export's edges
    days: np.ndarray | None = None  # days of each month inside the window (None: exposure x 30.44)
    trend_damping_days: float | None = None  # growth fades e-fold every this many days (kept)
    trend_step: bool = False  # the slope rested on one month at an end of the window: not kept

    def factor(self, cal: np.ndarray) -> np.ndarray:
        """Calendar-month factor x quarter-end effect, for 0-based calendar months."""
        cal = np.asarray(cal)
        return np.asarray(self.seasonality)[cal] * np.where(
            cal % 3 == 2, self.quarter_end_boost, 1.0
        )

    def trend_at(self, years: np.ndarray) -> np.ndarray:
        """The trend's factor `years` from the anchor (damped after it: sim.config.trend_years)."""
        return (1.0 + self.trend_year) ** trend_years(
            np.asarray(years, float), self.trend_damping_days
        )

    def rate(self, months: pd.PeriodIndex) -> np.ndarray:
        """Expected opportunities in each full calendar month (any month, fitted or not)."""
        f = self.factor(months.month.to_numpy() - 1)
        if not self.trend_year or self.anchor is None:
            return self.level * f
        mid = months.start_time + (months.end_time - months.start_time) / 2
        years = (mid - self.anchor) / pd.Timedelta(days=1) / YEAR_DAYS
        return self.level * f * self.trend_at(np.asarray(years, float))

    def expected(self) -> np.ndarray:
        cal = self.months.month.to_numpy() - 1
        trend = self.trend_at(self.years) if self.years is not None else 1.0
        span = self.exposure if self.days is None else np.asarray(self.days) / MONTH_DAYS
        return self.level * self.factor(cal) * trend * span


@dataclass(frozen=True)
class RepFit:
    table: pd.DataFrame  # owner, closed, won, rate, shrunk
    chi2: float
    dof: int
    p_value: float
    supported: bool
    note: str


@dataclass(frozen=True)
class TeamFit:
    """The AE team the export shows: distinct owners with a deal created or closed in each month,
    and the recent level (the median of the last `recent` whole months) taken as the headcount."""

    active: pd.Series  # month (Period) -> distinct active owners
    count: int
    recent: int

    def note(self) -> str:
        last = self.active.iloc[-self.recent :]
        return (
            f"{self.count} AEs: the median number of distinct owners with a deal created or closed "
            f"in each of the last {len(last)} whole months ({last.index[0]}..{last.index[-1]}: "
            f"{', '.join(str(int(x)) for x in last)})"
        )


def fit_team(opp: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, recent: int = 6):
    """Active owners per month, from the deals' creation and close dates (None: no owner column or
    no owner named). Months the window only partly covers are left out when whole ones exist."""
    if "owner" not in opp or not opp["owner"].notna().any():
        return None
    o = opp[opp["owner"].notna()]
    rows = pd.concat(
        [
            pd.DataFrame({"m": o["created_date"].dt.to_period("M"), "owner": o["owner"]}),
            pd.DataFrame({"m": o["close_date"].dt.to_period("M"), "owner": o["owner"]}).dropna(),
        ]
    )
    first, last = start.to_period("M"), end.to_period("M")
    months = pd.period_range(first, last, freq="M")
    whole = [
        m for m in months if m.start_time >= start and m.end_time <= end + pd.Timedelta(days=1)
    ]
    rows = rows[rows["m"].isin(whole or list(months))]
    active = rows.groupby("m")["owner"].nunique().reindex(whole or list(months), fill_value=0)
    recent = min(recent, len(active))
    count = int(math.ceil(float(np.median(active.iloc[-recent:]))))
    return TeamFit(active, count, recent) if count > 0 else None


@dataclass(frozen=True)
class PullFit:
    """Quarter-end and month-end bunching of wins (the closing stage's `close_pull`, sim.close_pull),
    fitted from the won deals' close dates around period ends (`fit_close_pull`)."""

    quarter_days: float
    quarter_share: float
    quarter_ci: tuple[float, float]  # 90 % profile-likelihood interval of the share
    quarter_ends: int  # quarter ends whose whole comparison window lies in the fitted window
    month_days: float
    month_share: float
    month_ci: tuple[float, float]
    month_ends: int

    def unpulled(self, won: DistFit, stall: float | None = None) -> DistFit:
        """The time to win before the pull. The fitted one is of the closes as they happened,
        pulled, and the engine pulls again, so the scenario's duration G (same family) is the one
        whose closes, pulled as the engine pulls them, have the fitted distribution's deciles 1 to 9
        (least squares in log days; with `stall`, among closes due by the stall age, against the
        fitted distribution truncated there, since later ones never close). Computed on a
        calendar of quarter and month ends with deals created evenly over four years and fixed
        stratified draws (common random numbers: the search is deterministic), from the mean
        shortening the pull makes as a start: a pulled win moves by D on average, and a share
        q x D / (days between the ends) x e of the wins is pulled, e the share of wins due in the
        window still in their deal stage at the end. A mean correction alone left the self-check's
        median days to win 8-12 days short on maven_crm: slow wins pulled up to a window earlier
        land between the fast and slow classes, where the median of a bimodal mixture sits."""
        f = won.frozen()
        shift = 0.0
        for days, share, gap in (
            (self.quarter_days, self.quarter_share, 365.25 / 4),
            (self.month_days, self.month_share, 365.25 / 12 * 2 / 3),
        ):
            if share > 0 and days > 0:
                e = float(np.mean(f.sf(np.arange(int(days)) + 0.5)))
                shift += share * days / gap * e * days
        if shift <= 0:
            return won
        start = DistFit(won.dist, won.mean + shift, won.cv * won.mean / (won.mean + shift))
        return _match_pulled(self, won, start, stall)

    def as_config(self) -> dict | None:
        """The stage keys, None when neutral (no pull: the keys are left out)."""
        if round(self.quarter_share, 4) == 0 and round(self.month_share, 4) == 0:
            return None
        return {
            "quarter_days": float(self.quarter_days),
            "quarter_share": round(float(self.quarter_share), 4),
            "month_days": float(self.month_days),
            "month_share": round(float(self.month_share), 4),
        }


PULL_DECILES = np.arange(1, 10) / 10.0  # the quantiles `PullFit.unpulled` matches
PULL_DRAWS = 8000  # deals in its calendar (a decile's sampling error ~1 % of its value)


def _match_pulled(pf: PullFit, won: DistFit, start: DistFit, stall: float | None) -> DistFit:
    """`PullFit.unpulled`'s search: (log mean, log cv) of G by Nelder-Mead from `start`."""
    from scipy import optimize

    n = PULL_DRAWS
    span = 4 * 365.25
    created = (np.arange(n) + 0.5) / n * span
    rng = np.random.default_rng(0)
    u = rng.permutation((np.arange(n) + 0.5) / n)  # stratified quantile levels of the due time
    v = rng.random(n)  # the pull's own uniform (sim.close_pull)
    n_ends = int((span + 3000) / (365.25 / 12)) + 2
    ends = np.arange(1, n_ends) * 365.25 / 12
    quarter = np.arange(1, n_ends) % 3 == 0
    pull = ClosePull(
        tuple(ends.tolist()),
        tuple(np.where(quarter, pf.quarter_days, pf.month_days).tolist()),
        tuple(np.where(quarter, pf.quarter_share, pf.month_share).tolist()),
    )
    f = won.frozen()
    top = f.cdf(stall) if stall is not None else 1.0
    target = np.log(np.maximum(f.ppf(PULL_DECILES * top), 1e-3))
    won_all = np.ones(n, dtype=bool)

    def loss(x) -> float:
        g = _frozen(won.dist, math.exp(x[0]), math.exp(x[1]))
        due = created + g.ppf(u)
        keep = due - created <= stall if stall is not None else won_all
        close = pull.batch(created, due, won_all, v)[keep] - created[keep]
        if len(close) < n // 10:
            return 1e6
        got = np.log(np.maximum(np.quantile(close, PULL_DECILES), 1e-3))
        return float(np.sum((got - target) ** 2))

    x0 = np.array([math.log(start.mean), math.log(max(start.cv, CV_FLOOR))])
    res = optimize.minimize(loss, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-7})
    best = res.x if res.fun <= loss(x0) else x0
    return DistFit(won.dist, math.exp(best[0]), max(math.exp(best[1]), CV_FLOOR))


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
    entry: np.ndarray | None = None  # age when first observed (left-truncated deals; else 0)
    recency: np.ndarray | None = None  # the outcome fit's weight of each deal (`recency`)


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
    close_pull: PullFit | None = None  # wins pulled into quarter and month ends (None: not fitted)
    stall_days: float | None = None  # no deal open longer ever closed (`fit_stall`); None: no sign
    stall_at_risk: int = 0  # deals open longer than the longest close: the evidence for the stall
    seed: int = 42
    warmup_months: int = 6
    horizon_months: int = 12
    fit_mean: float = 0.95
    notes: list[str] = field(default_factory=list)
    team: TeamFit | None = None  # the AE team the export shows (None: it names no owners)
    drift: DriftFit | None = None  # win-rate drift across creation cohorts
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
                won_days = c.won
                if self.close_pull is not None:  # the pull's own shortening, added back
                    won_days = self.close_pull.unpulled(c.won, self.stall_days)
                deal = {"owner": "ae", "p": round(float(c.p_win), 6), "days": won_days.as_config()}
                if c.lost is not None:
                    deal["days_lost"] = c.lost.as_config()
                if self.stall_days is not None:  # open longer than that: never closes
                    deal["stall_days"] = float(self.stall_days)
                pull = self.close_pull.as_config() if self.close_pull is not None else None
                if pull is not None:  # wins bunch at quarter and month ends (fit_close_pull)
                    deal["close_pull"] = pull
                motions[name] = _motion(deal, seg.key)
                mix[seg.key][name] = round(float(c.weight), 6)
            if seg.outcome.stuck >= 1e-4:  # deals that never close: open for ~100 years
                never = {"dist": "fixed", "mean": NEVER_DAYS, "cv": 0.0}
                motions[f"{seg.key}_stuck"] = _motion(
                    {"owner": "ae", "p": 0.0, "days": never}, seg.key, stuck=True
                )
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
            "quarter_end_boost": round(a.quarter_end_boost, 4),
        }
        if a.trend_year and a.anchor is not None:  # the level holds at the cutoff, then compounds
            channel["trend_year"] = round(a.trend_year, 4)
            channel["trend_anchor"] = a.anchor.date().isoformat()
            if a.trend_damping_days is not None:
                channel["trend_damping_days"] = round(a.trend_damping_days, 2)
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
                "team": {"sdr": {"count": 0}, "ae": self.ae_team(), "csm": {"count": 0}},
                "motions": motions,
                "mix": mix,
                "expansion": None,
                "lead_fit": {"log_odds_per_fit": 0.0},
                # a CRM export has no costs: the channel's budget of 1 only scales its leads
                "costs": {"tools_month": 0.0, "known": False},
            }
        )

    def open_deals_peak(self) -> float:
        """Deals open with an AE at the busiest month of the fitted flow (Little's law: arrivals a
        day at the highest monthly factor, grown by a kept trend to the horizon's end, x the mean
        days to close, over segments and classes; stuck deals hold no AE)."""
        a = self.arrivals
        f = a.factor(np.arange(12))  # calendar-month factor x quarter-end effect
        if a.trend_year > 0 and a.anchor is not None:  # growth: the busiest month is the last one
            end = self.cutoff + pd.Timedelta(days=self.horizon_months * MONTH_DAYS)
            f = f * float(a.trend_at((end - a.anchor) / pd.Timedelta(days=1) / YEAR_DAYS))
        days = 0.0
        for seg in self.segments.values():
            for c in seg.outcome.classes:
                lost = c.lost.mean if c.lost is not None else 0.0
                t = c.p_win * c.won.mean + (1 - c.p_win) * lost
                days += a.segment_mix.get(seg.key, 0.0) * c.weight * t
        return a.level * float(f.max()) / MONTH_DAYS * days

    def ae_team(self) -> dict:
        """team.ae of the calibrated scenario: the owners active in the export (`TeamFit`), or a
        notional team when it names none, with pipeline slots for the fitted peak of open deals plus
        headroom, so the fit is not capacity-bound at this headcount while fewer AEs make deals wait
        (and lose, `wait_decay_days`) and more cannot speed them past the fit. Leavers are replaced
        at once (the active count is already net of turnover), so the headcount stays level."""
        peak = self.open_deals_peak()
        need = max(1.0, SLOT_HEADROOM * peak + 3.0 * math.sqrt(peak))
        if self.team is not None:
            count, slots = self.team.count, math.ceil(need / self.team.count)
        else:
            count, slots = math.ceil(need / NOTIONAL_SLOTS), NOTIONAL_SLOTS
        return {"count": count, "max_open_opps": slots, "hiring_lag_days": 0.0}


def _plain(obj):
    """numpy scalars -> Python numbers, so the scenario dumps as plain YAML."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj.item() if isinstance(obj, np.generic) else obj


def _motion(deal: dict, group: str, stuck: bool = False) -> dict:
    """One calibrated motion: a lead that becomes an opportunity at once, then the deal stage,
    which waits for an AE's pipeline slot and stands for the standard opportunity stages (COVERS),
    so AE headcount and plays act on it. A stuck deal never closes: it holds no slot and no play
    turns it into a win. `group`: its segment, under which figures and tables show it."""
    if not stuck:
        deal = {**deal, "queue": "ae", "covers": dict(COVERS)}
    return {
        "entry": "marketing",
        "opportunity_from": "deal",
        "group": group,
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


def _loglik_obs(x, t, kind, k: int, family: str, losses: bool, resolution: float = 1.0, entry=None):
    """Per-deal log likelihood; kind 1 won, 2 lost, 0 open (censored at age t). A close is
    interval-censored to its `resolution` (days; see `intervals`), so each term is a log
    probability, never a density: bounded above by 0. `entry` (days, optional): a deal known only
    because it was still open at that age (created before the extract starts: left-truncated)
    contributes its term given that it had not closed by then, i.e. divided by P(open at entry)."""
    won, lost, cens = kind == 1, kind == 2, kind == 0
    lo, hi = intervals(t, resolution)
    late = np.flatnonzero(entry > 0) if entry is not None else np.empty(0, dtype=int)
    n_cens = int(cens.sum())
    # each distinct point once: at day resolution a close's upper end is the next one's lower end
    parts = (lo[won], hi[won], lo[lost], hi[lost], np.r_[t[cens], entry[late] if len(late) else []])
    grid, at = np.unique(np.concatenate(parts), return_inverse=True)
    at = np.split(at, np.cumsum([len(x) for x in parts])[:-1])
    classes, stuck = _unpack(x, k, losses)
    total = enter = None
    for w, p, wm, wc, lm, lc in classes:
        lw, lp, lq = math.log(w), math.log(max(p, 1e-300)), math.log(max(1 - p, 1e-300))
        term = np.empty(len(t))
        pdf_w, sf_w = _log_terms(family, grid, at[0], at[1], at[4], wm, wc)
        sf_wc, sf_we = sf_w[:n_cens], sf_w[n_cens:]
        term[won] = lw + lp + pdf_w
        if losses:
            pdf_l, sf_l = _log_terms(family, grid, at[2], at[3], at[4], lm, lc)
            sf_lc, sf_le = sf_l[:n_cens], sf_l[n_cens:]
            term[lost] = lw + lq + pdf_l
            term[cens] = lw + np.logaddexp(lp + sf_wc, lq + sf_lc)
            e_term = lw + np.logaddexp(lp + sf_we, lq + sf_le)
        else:
            term[lost] = -np.inf
            term[cens] = lw + sf_wc
            e_term = lw + sf_we
        total = term if total is None else np.logaddexp(total, term)
        enter = e_term if enter is None else np.logaddexp(enter, e_term)
    log_stuck = math.log(max(stuck, 1e-300))
    total[cens] = np.logaddexp(total[cens], log_stuck)
    if len(late):  # log P(open at entry) is at most 0, so a term stays a log probability
        total[late] -= np.logaddexp(enter, log_stuck)
    return total


def compress(
    t: np.ndarray, kind: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (time, kind) pairs of the deals and how many deals (or how much weight) each
    holds. Day-resolution times take few distinct values, so a likelihood or an Aalen-Johansen
    estimate summed over the pairs with these counts as weights is the same as over the deals, at
    a fraction of the cost (a million deals are a few thousand pairs)."""
    tu, ku, wu, _ = compress_entry(t, kind, None, weights)
    return tu, ku, wu


def compress_entry(
    t: np.ndarray, kind: np.ndarray, entry: np.ndarray | None, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`compress` over distinct (time, kind, entry age) triples (entry None: all 0), for a
    likelihood with left-truncated deals (`_loglik_obs`)."""
    t = np.asarray(t, dtype=float)
    kind = np.asarray(kind, dtype=int)
    e = np.zeros(len(t)) if entry is None else np.asarray(entry, dtype=float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    if not len(t):
        return t, kind, w, e
    order = np.lexsort((e, kind, t))
    ts, ks, es, ws = t[order], kind[order], e[order], w[order]
    new = np.r_[True, (ts[1:] != ts[:-1]) | (ks[1:] != ks[:-1]) | (es[1:] != es[:-1])]
    group = np.cumsum(new) - 1
    counts = np.bincount(group, weights=ws)
    keep = counts > 0
    return ts[new][keep], ks[new][keep], counts[keep], es[new][keep]


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
    entry: np.ndarray | None = None,
) -> OutcomeFit:
    """Maximum likelihood for the k-class competing-risks mixture (statsmodels GenericLikelihoodModel),
    closes interval-censored to `resolution` days. The likelihood is summed over the distinct
    (time, kind) pairs with their counts (`compress`), times `weights` per deal when given (a
    bootstrap's resampling counts). `start`: the parameter vector to start from (else moments);
    `interval=False` skips the Hessian (P(won)'s interval is then unknown). `entry`: per deal, the
    age from which it was observed (left truncation, `_loglik_obs`; None: from creation)."""
    from statsmodels.base.model import GenericLikelihoodModel

    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    kind = np.asarray(kind, dtype=int)
    tu, ku, wu, eu = compress_entry(t, kind, entry, weights)
    eu = eu if (eu > 0).any() else None
    n = float(wu.sum())
    x0 = _start(np.maximum(tu, MIN_DAYS), ku, k, losses, w=wu) if start is None else start

    class Mixture(GenericLikelihoodModel):
        def loglike(self, params):
            return float(wu @ _loglik_obs(params, tu, ku, k, family, losses, resolution, eu))

        def loglikeobs(self, params):  # per distinct pair, weighted (the sum is `loglike`)
            return wu * _loglik_obs(params, tu, ku, k, family, losses, resolution, eu)

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


def _glm(obs: np.ndarray, X: np.ndarray, off: np.ndarray, scale: float = 1.0):
    """A log-link Poisson regression with offset. Its coefficients are consistent for the mean
    whatever the over-dispersion (quasi-likelihood: the fitted months add up to the observed ones);
    `scale` > 1 widens the intervals by the Pearson over-dispersion (quasi-Poisson)."""
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(obs, X, family=sm.families.Poisson(), offset=off).fit(scale=float(scale))


def _trend_test(obs, X0, X1, off, k):
    """Likelihood-ratio test of the log-linear slope over the months `k`, both models at the
    larger one's alpha (quasi-likelihood: the deviance drop over the Pearson over-dispersion of the
    larger model): (p, slope, its 90 % interval, flat fit, trend fit); p NaN when there are as many
    parameters as months."""
    y = obs[k]
    r1 = _glm(y, X1[k], off[k])
    phi = _phi(y, r1.mu, k.sum() - X1.shape[1])
    r0, r1 = _glm(y, X0[k], off[k], phi), _glm(y, X1[k], off[k], phi)
    lr = max(0.0, (r0.deviance - r1.deviance) / phi)
    p, b1 = float(stats.chi2.sf(lr, 1)), float(r1.params[-1])
    ci1 = np.asarray(r1.conf_int(0.10))[-1]
    if k.sum() <= X1.shape[1]:  # as many parameters as months: no slope to speak of
        p, b1, ci1 = float("nan"), float("nan"), np.full(2, np.nan)
    return p, b1, ci1, r0, r1


def _growth(slope: float) -> float:
    """A log slope per year as growth per year (inf past what a float holds)."""
    with np.errstate(over="ignore"):
        return float(np.expm1(slope))


def _phi(obs: np.ndarray, mu: np.ndarray, dof: float) -> float:
    """Pearson over-dispersion X2 / dof, at least 1 (1: Poisson)."""
    return max(1.0, float(np.sum((obs - mu) ** 2 / mu)) / dof) if dof > 0 else 1.0


def _alpha(obs: np.ndarray, mu: np.ndarray, dof: float) -> float:
    """NB2 over-dispersion by moments from a fit's residuals, corrected for the fitted parameters
    (0: no more variance than Poisson)."""
    if dof <= 0 or not len(obs):
        return 0.0
    return max(0.0, float(np.sum((obs - mu) ** 2 - mu) / np.sum(mu**2)) * len(obs) / dof)


def _nb_cdf(y: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    if alpha > 1e-6:
        k = 1.0 / alpha
        return stats.nbinom.cdf(y, k, k / (k + mu))
    return stats.poisson.cdf(y, mu)


EDGE_MONTHS = 2  # at most this many months at each end of the window can be an export's edge
EDGE_RATIO = 0.5  # an edge month holds less than this share of what the other months predict
EDGE_P = 0.01  # ... and so few that chance alone would give it with less than this probability
TREND_P = 0.05  # the trend is kept when the likelihood-ratio test rejects "no trend" at this
# level; a kept trend is damped (below), so a false one costs at most the growth of one window
MIN_TREND_MONTHS = 4  # fewer fitted months: no trend (the test has too few degrees of freedom)
# A kept trend's growth rate fades e-fold every window length (the days of the fitted months): the
# level grows at most by the factor the fitted window itself showed, and a long history is barely
# damped over a year's horizon (3 years: 0.85 years of growth in the first year) while a short one
# is not extrapolated for ever (the 1 % bar and 6 months undamped kept olist's ramp-up out).


def _edges(obs, exposure, X, off, keep) -> np.ndarray:
    """Months at either end of the window far below what the months between them predict (the
    newest deals not yet recorded, an extract that starts mid-stream): True where an edge. A run of
    up to EDGE_MONTHS at one end is an edge when every month in it falls below EDGE_RATIO of the
    prediction and below its EDGE_P quantile; the longest such run is taken."""
    edge = np.zeros(len(obs), bool)
    if keep.sum() < 6:
        return edge
    for side in (-1, 1):  # the end first (the usual edge), then the start
        idx = np.flatnonzero(keep & ~edge)
        idx = idx[::-1] if side < 0 else idx
        for k in range(EDGE_MONTHS, 0, -1):
            run, rest = idx[:k], idx[k:]
            if len(rest) < 4:
                continue
            res = _glm(obs[rest], X[rest], off[rest])
            a = _alpha(obs[rest], res.mu, len(rest) - X.shape[1])
            mu = np.exp(X[run] @ np.asarray(res.params) + off[run])
            low = (obs[run] < EDGE_RATIO * mu) & (_nb_cdf(obs[run], mu, a) < EDGE_P)
            if low.all():
                edge[run] = True
                break
    return edge


def fit_arrivals(
    created: pd.Series,
    segkey: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    seasonality: bool,
    *,
    trend: bool = True,
    edges: bool = True,
) -> ArrivalFit:
    """Monthly opportunity arrivals in [start, end]: level at `end`, a log-linear trend (kept when a
    likelihood-ratio test supports it), the end-of-quarter effect, and calendar-month factors net
    of both, shrunk towards 1 by how often each month was seen (empirical Bayes). Months at the
    window's edges far below the rest (`_edges`) are left out of the fit."""
    months = pd.period_range(start.to_period("M"), end.to_period("M"), freq="M")
    lo = np.maximum(months.start_time.to_numpy(), np.datetime64(start))
    hi = np.minimum(
        (months.end_time + pd.Timedelta(1, "ns")).to_numpy(),
        np.datetime64(end + pd.Timedelta(days=1)),
    )
    days = (hi - lo) / np.timedelta64(1, "D")
    exposure = days / months.days_in_month.to_numpy()
    # years from the anchor (the window's last day) to the middle of each month's exposed days
    anchor = end + pd.Timedelta(days=1)
    years = ((lo - np.datetime64(anchor)) / np.timedelta64(1, "D") + days / 2) / YEAR_DAYS
    obs = created.dt.to_period("M").value_counts().reindex(months, fill_value=0).to_numpy()
    cal = months.month.to_numpy() - 1
    qend = (cal % 3 == 2).astype(float)
    # the offset: the month's days against salesim's month of 365.25 / 12 days (a February is not
    # a seasonal low, and `level` is what the engine draws a month)
    off = np.log(days / MONTH_DAYS)
    keep = exposure > 0
    cols = [np.ones(len(months))] + ([qend] if qend[keep].std() > 0 else [])
    X0 = np.column_stack(cols)
    X1 = np.column_stack([*cols, years])
    edge = _edges(obs, exposure, X1 if trend else X0, off, keep) if edges else np.zeros_like(keep)
    keep &= ~edge
    n_q = float(qend[keep].sum())
    if X0.shape[1] == 2 and min(n_q, keep.sum() - n_q) < 2:
        # a quarter-end effect from a single quarter-end month (or against a single other month)
        # is that month's own noise, and would be carried into every later quarter end: none
        X0, X1 = X0[:, :1], X1[:, [0, 2]]
    y, k = obs[keep], keep
    p_trend, b1, ci1, r0, r1 = _trend_test(obs, X0, X1, off, k)
    use_trend = trend and k.sum() >= MIN_TREND_MONTHS and p_trend < TREND_P and abs(b1) < 10
    step = False
    if use_trend:  # a slope that one month at either end carries alone is a step, not a trend
        ends = np.flatnonzero(k)[[0, -1]]
        for i in ends:
            k_i = k.copy()
            k_i[i] = False
            p_i, b_i = _trend_test(obs, X0, X1, off, k_i)[:2]
            step |= not bool(p_i < TREND_P and np.sign(b_i) == np.sign(b1))
        use_trend = not step
    damping = float(days[k].sum()) if use_trend else None
    X = X1 if use_trend else X0
    base = r1 if use_trend else r0
    # calendar-month factors net of level, trend and quarter end, shrunk towards 1 (empirical
    # Bayes): raw factor r = observed / expected in that calendar month; its sampling variance v
    # under the NB2 model; between-month variance tau2 by moments; factor 1 + tau2/(tau2 + v) (r - 1)
    raw, factors, weight = np.ones(12), np.ones(12), np.zeros(12)
    seen = np.zeros(12)
    np.add.at(seen, cal[k], exposure[k])
    if seasonality:
        mu = np.asarray(base.mu)
        om, em, sm2 = np.zeros(12), np.zeros(12), np.zeros(12)
        np.add.at(om, cal[k], y)
        np.add.at(em, cal[k], mu)
        np.add.at(sm2, cal[k], mu**2)
        s = seen > 0
        raw[s] = om[s] / em[s]
        # the sampling noise: over-dispersion within a calendar month (across years) when some
        # month was seen twice, else all month-to-month variation (no season can be told apart)
        n_seen = int(s.sum())
        dof_w = k.sum() - n_seen - (1 if use_trend else 0)
        if dof_w > 0:
            D = np.column_stack([(cal[k] == m).astype(float) for m in np.flatnonzero(s)])
            Dw = np.column_stack([D, years[k]]) if use_trend else D
            a_w = _alpha(y, _glm(y, Dw, off[k]).mu, dof_w)
        else:
            a_w = _alpha(y, mu, k.sum() - X.shape[1])
        v = np.where(s, (em + a_w * sm2) / np.maximum(em, 1e-12) ** 2, np.inf)
        tau2 = max(0.0, float(np.mean((raw[s] - 1) ** 2 - v[s]))) if n_seen else 0.0
        weight = np.where(s, tau2 / (tau2 + v), 0.0)
        factors = 1.0 + weight * (raw - 1.0)
    # the level, trend and quarter end net of the factors; the dispersion left over, if supported
    off_f = off + np.log(factors[cal])
    res = _glm(y, X[k], off_f[k])
    eff = X.shape[1] + float(weight.sum())  # shrunk factors spend part of a parameter each
    a_fin = _alpha(y, res.mu, k.sum() - eff)
    pearson = float(np.sum((y - res.mu) ** 2 / res.mu))
    over = k.sum() - eff > 0 and stats.chi2.sf(pearson, k.sum() - eff) < 0.05 and a_fin > 1e-6
    if over:  # intervals widened by the over-dispersion the factors leave
        res = _glm(y, X[k], off_f[k], _phi(y, res.mu, k.sum() - eff))
    b = np.asarray(res.params)
    ci = np.asarray(res.conf_int(alpha=0.10))
    if X0.shape[1] >= 2:
        boost, boost_ci = math.exp(b[1]), (math.exp(ci[1][0]), math.exp(ci[1][1]))
    else:
        boost, boost_ci = 1.0, (float("nan"), float("nan"))
    if use_trend:
        b1, ci1 = float(b[-1]), ci[-1]
    mix = segkey.value_counts(normalize=True).sort_index()
    return ArrivalFit(
        months,
        obs,
        exposure,
        math.exp(b[0]),
        boost,
        boost_ci,
        (1.0 / a_fin) if over else None,
        [float(f) for f in factors],
        seasonality,
        {str(k): float(v) for k, v in mix.items()},
        trend_year=math.expm1(b1) if use_trend else 0.0,
        trend_estimate=_growth(b1),
        trend_ci=(_growth(ci1[0]), _growth(ci1[1])),
        trend_p=p_trend,
        anchor=anchor,
        years=years,
        raw_seasonality=[float(f) for f in raw],
        seen=[float(v) for v in seen],
        edge=edge,
        days=days,
        trend_damping_days=damping,
        trend_step=step,
    )


def fit_stall(t: np.ndarray, kind: np.ndarray, min_at_risk: int = 20) -> tuple[float | None, int]:
    """The stall age: the longest time to close seen (whole days, up), when at least `min_at_risk`
    deals are open longer than that (no close among them: the Aalen-Johansen increments are 0 past
    it while deals remain at risk), so a deal open longer never closes. (None, n) when too few
    deals are open that long to tell; n: how many are."""
    t, kind = np.asarray(t, float), np.asarray(kind)
    closed = t[kind > 0]
    if not len(closed):
        return None, 0
    last = float(math.ceil(closed.max()))
    n = int((t[kind == 0] > last).sum())
    return (last if n >= min_at_risk else None), n


# windows tried for the pull (days after a period end), and the days each side of a period end
# whose wins are compared (a quarter's month on each side; half a month at the other month ends)
PULL_DAYS = {"quarter": (3.0, 7.0, 14.0, 21.0, 31.0), "month": (3.0, 7.0, 14.0)}
PULL_SPAN = {"quarter": 31, "month": 15}


def fit_close_pull(close: pd.Series, start: pd.Timestamp, end: pd.Timestamp, won_sf) -> PullFit:
    """The pull of wins into quarter and month ends, by maximum likelihood on the won deals' daily
    close counts in the PULL_SPAN days either side of each period end that the fitted window holds
    whole. Around one end b, wins arrive at a steady rate E_b (the window's own mean: the pull only
    moves wins inside it, so trend and season cancel); with window D and share q, day x after b keeps
    E_b (1 - q e(x)) and each of the D days before gains E_b q mean(e), where e(x) = `won_sf(x)` is
    the share of wins closing x days after b that were already in their closing stage at b (the
    fitted time to win). Poisson likelihood; D from PULL_DAYS by likelihood, q on [0, 1] with a 90 %
    profile-likelihood interval. No whole window: share 0 (neutral)."""
    day0 = pd.Timestamp(start).normalize()
    days = ((close.dt.normalize() - day0).dt.days).to_numpy()
    last = int((pd.Timestamp(end).normalize() - day0).days)  # the last day observed
    firsts = pd.date_range(day0 + pd.offsets.MonthBegin(1), pd.Timestamp(end), freq="MS")
    out: dict[str, tuple] = {}
    for kind, grid in PULL_DAYS.items():
        w = PULL_SPAN[kind]
        isq = (firsts.month % 3 == 1) == (kind == "quarter")
        b = np.array([(f - day0).days for f in firsts[isq]], dtype=int)
        b = b[(b - w >= 0) & (b + w - 1 <= last)]
        if not len(b):
            out[kind] = (grid[1], 0.0, (float("nan"), float("nan")), 0)
            continue
        rel = np.arange(-w, w)
        counts = np.array([np.bincount(days[(days >= x - w) & (days < x + w)] - (x - w),
                                       minlength=2 * w) for x in b], dtype=float)  # fmt: skip
        rate = counts.sum(axis=1, keepdims=True) / (2 * w)
        e = np.clip(won_sf(np.arange(w) + 0.5), 0.0, 1.0)
        qs = np.linspace(0.0, 1.0, 201)
        best = None
        for d in grid:
            dd = int(d)
            mult = np.ones((len(qs), 2 * w))
            after = (rel >= 0) & (rel < dd)
            before = (rel < 0) & (rel >= -dd)
            mult[:, after] -= qs[:, None] * e[rel[after]][None, :]
            mult[:, before] += qs[:, None] * e[:dd].mean()
            mu = rate[None, :, :] * mult[:, None, :]  # (q, ends, days)
            with np.errstate(divide="ignore", invalid="ignore"):
                ll = np.where(counts > 0, counts * np.log(np.maximum(mu, 1e-300)), 0.0) - mu
            ll = ll.sum(axis=(1, 2))
            i = int(np.argmax(ll))
            if best is None or ll[i] > best[0] + 1e-9:
                inside = qs[2 * (ll[i] - ll) <= stats.chi2.ppf(0.90, 1)]
                best = (ll[i], d, float(qs[i]), (float(inside.min()), float(inside.max())))
        out[kind] = (best[1], best[2], best[3], len(b))
    (qd, qq, qci, qn), (md, mq, mci, mn) = out["quarter"], out["month"]
    return PullFit(qd, qq, qci, qn, md, mq, mci, mn)


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


DRIFT_AGE = 90.0  # days: cohorts are compared on the share won by this age
DRIFT_P = 0.01  # drift is reported as supported below this p-value (likelihood-ratio test)
MIN_COHORT = 30  # deals a creation quarter needs to be shown and used


@dataclass(frozen=True)
class DriftFit:
    """Win-rate drift across creation cohorts: the share of each quarter's deals won within
    DRIFT_AGE days (every deal of a used cohort has been followed that long, so the share is
    censoring-free), and a logistic regression of it on the creation date (with the segments)."""

    age: float
    table: pd.DataFrame  # cohort, deals, won, share
    odds_year: float  # odds ratio of winning per year of creation date
    odds_year_ci: tuple[float, float]  # 90 %
    p_value: float
    supported: bool
    note: str
    # the odds multiplier that takes the fit (all cohorts) to the latest cohort's level, shrunk
    # towards 1 by the slope's signal to noise; 1 when drift is not supported
    recent_odds: float = 1.0


def _shift(p: float, odds: float) -> float:
    """P with its odds multiplied by `odds`."""
    if not 0 < p < 1:
        return p
    o = p / (1 - p) * odds
    return o / (1 + o)


def carry_drift(segfits: dict[str, SegmentFit], d: DriftFit | None) -> dict[str, SegmentFit]:
    """Segment fits with every class's P(won) (and its interval) moved to the latest cohort's
    level when drift is supported, but no further than the range of final P(won) the segment's
    deals allow (`plausible_p_win`, the bound every fit is held to); unchanged otherwise."""
    if d is None or not d.supported or d.recent_odds == 1.0:
        return segfits
    from scipy.optimize import brentq

    out = {}
    for name, sf in segfits.items():
        o = sf.outcome

        def p_at(log_m: float, o=o) -> float:
            return sum(c.weight * _shift(c.p_win, math.exp(log_m)) for c in o.classes)

        log_m = math.log(d.recent_odds)
        lo, hi = sf.p_win_range
        for bound in (lo, hi):  # stop at the bound the shift would cross
            if math.isfinite(bound) and (p_at(0.0) - bound) * (p_at(log_m) - bound) < 0:
                # a hair inside, so the bound's own check holds it
                log_m = brentq(lambda x, b=bound: p_at(x) - b, 0.0, log_m) * (1 - 1e-6)
        m = math.exp(log_m)
        cls = tuple(dataclasses.replace(c, p_win=_shift(c.p_win, m)) for c in o.classes)
        ci = tuple(_shift(v, m) if math.isfinite(v) else v for v in o.p_win_ci)
        out[name] = dataclasses.replace(
            sf, outcome=dataclasses.replace(o, classes=cls, p_win=p_at(log_m), p_win_ci=ci)
        )
    return out


def fit_drift(use: pd.DataFrame, end: pd.Timestamp) -> DriftFit | None:
    """Does P(won) drift across creation cohorts? None when fewer than three quarters have been
    followed DRIFT_AGE days with MIN_COHORT deals each (nothing to compare)."""
    import statsmodels.api as sm

    last = end + pd.Timedelta(days=1) - pd.Timedelta(days=DRIFT_AGE)  # created before: followed
    d = use.loc[use["created_date"] < last, ["created_date", "close_date", "outcome", "segment"]]
    if d.empty:
        return None
    codes, quarters = pd.factorize(d["created_date"].dt.to_period("Q"), sort=True)
    labels = np.asarray(quarters.astype(str))  # one string per quarter, not per deal
    t_won = (d["close_date"] - d["created_date"]).dt.total_seconds() / 86400
    y = ((d["outcome"] == "won") & (t_won <= DRIFT_AGE)).to_numpy(float)
    tab = pd.DataFrame(
        {
            "cohort": labels,
            "deals": np.bincount(codes, minlength=len(labels)),
            "won": np.bincount(codes, weights=y, minlength=len(labels)),
        }
    )
    tab = tab[tab["deals"] >= MIN_COHORT]
    if len(tab) < 3 or not 0 < tab["won"].sum() < tab["deals"].sum():
        return None
    sel = np.isin(codes, tab.index.to_numpy())
    # grouped binomial over (segment, creation day): the same likelihood-ratio test and slope as
    # one row per deal at day resolution (a creation time within a day moves the covariate by
    # under 1/365 year), in a few thousand rows, so a 3-million-deal export fits in little memory
    cells = (
        pd.DataFrame(
            {
                "seg": labels_of(d["segment"])[sel],
                "day": d["created_date"].dt.floor("D").to_numpy()[sel],
                "won": y[sel],
            }
        )
        .groupby(["seg", "day"], sort=True)["won"]
        .agg(["size", "sum"])
        .reset_index()
    )
    years = ((cells["day"] - end) / pd.Timedelta(days=1)).to_numpy(float) / YEAR_DAYS
    seg = pd.get_dummies(cells["seg"], drop_first=True, dtype=float).to_numpy()
    X0 = np.column_stack([np.ones(len(cells)), seg])
    X1 = np.column_stack([X0, years])
    wins = cells["sum"].to_numpy(float)
    endog = np.column_stack([wins, cells["size"].to_numpy(float) - wins])  # (won, not won)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r0 = sm.GLM(endog, X0, family=sm.families.Binomial()).fit()
        r1 = sm.GLM(endog, X1, family=sm.families.Binomial()).fit()
    p = float(stats.chi2.sf(max(0.0, 2 * (r1.llf - r0.llf)), 1))
    b, ci = float(r1.params[-1]), np.asarray(r1.conf_int(alpha=0.10))[-1]
    tab = tab.assign(share=tab["won"] / tab["deals"])
    odds, odds_ci = math.exp(b), (math.exp(ci[0]), math.exp(ci[1]))
    supported = p < DRIFT_P
    # the latest cohort's mean creation date against all used deals': the log-odds shift the slope
    # gives between them, times b^2 / (b^2 + se^2) (shrunk by how sure the slope is)
    all_years = ((d["created_date"] - end) / pd.Timedelta(days=1)).to_numpy(float)[sel] / YEAR_DAYS
    gap = float(all_years[codes[sel] == tab.index[-1]].mean() - all_years.mean())
    se = float(r1.bse[-1])
    recent = math.exp(b * b * b / (b * b + se * se) * gap) if supported else 1.0
    span = f"{len(tab)} creation quarters ({tab['cohort'].iloc[0]} .. {tab['cohort'].iloc[-1]})"
    note = (
        f"P(won within {DRIFT_AGE:.0f} days) drifts across {span}: odds x{odds:.2f} a year (90% "
        f"{odds_ci[0]:.2f}..{odds_ci[1]:.2f}, likelihood-ratio p = {p:.3g}). Every P(won) of "
        f"the fit and of calibrated.yaml is carried towards the latest cohort's level: odds "
        f"x{recent:.3f} (the slope over {gap * 12:+.1f} months, shrunk by its signal to noise), "
        "but no further than the range of P(won) each segment's deals allow."
        if supported
        else f"no evidence of drift in P(won within {DRIFT_AGE:.0f} days) across {span} (odds "
        f"x{odds:.2f} a year, 90% {odds_ci[0]:.2f}..{odds_ci[1]:.2f}, likelihood-ratio p = "
        f"{p:.2g}): one P(won) for all cohorts."
    )
    return DriftFit(
        DRIFT_AGE, tab.reset_index(drop=True), odds, odds_ci, p, supported, note, recent
    )


# -- the whole fit ---------------------------------------------------------------------------------
def labels_of(s: pd.Series) -> np.ndarray:
    """`s.astype(str).to_numpy()`, the same values, with each distinct label one string object: a
    3-million-row table would otherwise make 3 million strings (memory that is slow to return)."""
    codes, uniq = pd.factorize(s.astype(str))
    return np.append(np.asarray(uniq, dtype=object), np.nan)[codes]  # code -1 (NA): NaN


def time_resolution(opp: pd.DataFrame) -> float:
    """The resolution of the export's times to close, in days: 1 when every creation and close
    date falls on midnight (dates without times, the usual CRM export), else one minute."""
    stamps = pd.concat([opp["created_date"], opp["close_date"]]).dropna()
    return 1.0 if (stamps == stamps.dt.normalize()).all() else 1.0 / 1440.0


def known_at(crm: CrmData, cutoff: pd.Timestamp | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Deals created by the cutoff, with outcomes after it turned back into open."""
    opp = crm.opportunities
    end = crm.as_of if cutoff is None else min(pd.Timestamp(cutoff), crm.as_of)
    last = end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    later = opp["close_date"] > last
    if (opp["created_date"] <= last).all() and not later.any():
        return opp, end  # everything was known then: no copy (a large export's memory)
    opp = opp[opp["created_date"] <= last].copy()
    reopen(opp, opp["close_date"] > last)
    return opp, end


def _days(td: pd.Series) -> np.ndarray:
    return td.dt.total_seconds().to_numpy() / 86400


def outcome_rows(
    out: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, resolution: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, kind, entry) of the deals `out` known at `end`: time to close, or age at the end of
    `end` when open; 1 won, 2 lost, 0 open; the age from which each is observed (left truncation:
    a deal created before `start` from its age that day, less one resolution step, since a close
    that day falls in (d - 1, d]; else 0)."""
    close_t = _days(out["close_date"] - out["created_date"])
    age = _days(end + pd.Timedelta(days=1) - out["created_date"])
    kind = out["outcome"].map({"won": 1, "lost": 2, "open": 0}).astype(int).to_numpy()
    t = np.where(kind == 0, age, close_t).astype(float)
    before = _days(start - out["created_date"])
    entry = np.where(before > 0, np.maximum(before - resolution, 0.0), 0.0)
    return t, kind, entry


UNIDENTIFIED_WIDTH = 4.0  # a fit whose P(won) interval is this many times the one-class fit's


def _width(f: OutcomeFit) -> float:
    lo, hi = f.p_win_ci
    return hi - lo if math.isfinite(lo) and math.isfinite(hi) else math.inf


def _identified(fits: list[OutcomeFit], label: str, notes: list[str]) -> list[OutcomeFit]:
    """Drop the multi-class fits the data cannot pin down: a class of slow closers whose wins fall
    mostly after the longest follow-up can take any size, so P(won) comes with an interval many
    times the one-class fit's (olist's `unknown` origin with delayed entry: 0-63 % against
    18-23 %). Such a fit is set aside, with a note, when a one-class fit is at hand."""
    one = [f for f in fits if len(f.classes) == 1]
    if not one or not fits or len(fits[0].classes) == 1:
        return fits
    limit = UNIDENTIFIED_WIDTH * _width(one[0])
    kept = [f for f in fits if len(f.classes) == 1 or _width(f) <= limit]
    if kept[0] is not fits[0]:
        f = fits[0]
        notes.append(
            f"{label}: the {len(f.classes)}-class fit's P(won) {100 * f.p_win:.1f} % has a 90 % "
            f"interval of {100 * f.p_win_ci[0]:.1f}-{100 * f.p_win_ci[1]:.1f} %, more than "
            f"{UNIDENTIFIED_WIDTH:g} times the {len(kept[0].classes)}-class fit's "
            f"({100 * kept[0].p_win_ci[0]:.1f}-{100 * kept[0].p_win_ci[1]:.1f} %): the data cannot "
            "size its slow class; the simpler fit is used."
        )
    return kept


def recency(created: pd.Series, end: pd.Timestamp, half_life: float) -> np.ndarray:
    """Each deal's weight in the outcome fit: 2^(-age at the end of `end` / half_life), so a
    cohort half_life days older counts half as much (inf: all 1)."""
    if not math.isfinite(half_life):
        return np.ones(len(created))
    return np.exp2(-_days(end + pd.Timedelta(days=1) - created) / half_life)


HALF_LIVES = (math.inf, 365.0, 180.0, 90.0)  # days, the candidates of `fit.half_life=auto`


def choose_half_life(
    crm: CrmData,
    start: pd.Timestamp,
    end: pd.Timestamp,
    resolution: float,
    left_truncation: bool,
    family: str,
    has_losses: bool,
    holdout_days: int = 90,
    candidates: tuple[float, ...] = HALF_LIVES,
) -> tuple[float, dict[float, float]]:
    """The half-life of the recency weights with the best held-out likelihood: a pooled one-class
    outcome fit on what was known `holdout_days` before `end`, under each candidate's weights,
    scored on what happened next to the deals still open then (each from its age then: delayed
    entry) and to the deals created after it, as known at `end`; the held-out span is at most a
    third of the window. inf (no weighting) when that is under 14 days, or no candidate beats it."""
    window = _days(pd.Series([end - start]))[0]
    holdout_days = min(holdout_days, int(window // 3))  # at most a third of the window
    if holdout_days < 14:
        return math.inf, {}
    pseudo = end - pd.Timedelta(days=holdout_days)
    past, _ = known_at(crm, pseudo)
    past = past if left_truncation else past[past["created_date"] >= start]
    t0, k0, e0 = outcome_rows(past, start, pseudo, resolution)
    if (k0 > 0).sum() < 20:
        return math.inf, {}
    now, _ = known_at(crm, end)
    now = now if left_truncation else now[now["created_date"] >= start]
    last = pseudo + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    ahead = now[~(now["close_date"] <= last)]  # open at the pseudo-cutoff, or created after it
    t1, k1, e1 = outcome_rows(ahead, start, end, resolution)
    at_pseudo = _days(pseudo + pd.Timedelta(days=1) - ahead["created_date"]) - resolution
    e1 = np.maximum(e1, np.where(at_pseudo > 0, at_pseudo, 0.0))
    t1u, k1u, w1u, e1u = compress_entry(np.maximum(t1, 0.0), k1, e1)
    scores: dict[float, float] = {}
    for h in candidates:
        w = recency(past["created_date"], pseudo, h)
        try:
            f = fit_outcomes(t0, k0, 1, family, has_losses, resolution, w, None, False, e0)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        ll = w1u @ _loglik_obs(np.array(f.params), t1u, k1u, 1, family, has_losses, resolution, e1u)
        if math.isfinite(ll):
            scores[h] = float(ll)
    if not scores:
        return math.inf, {}
    return max(scores, key=lambda h: scores[h]), scores


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
    left_truncation: bool = True,
    half_life: float | None = None,
) -> Calibration:
    """Fit everything from the records known at `cutoff` (default: the whole file).
    `left_truncation`: deals created before the extract's first close enter the outcome fit from
    their age then (delayed entry, `_loglik_obs`); False: they are left out of it. `half_life`:
    the outcome fit weights each deal by `recency` with this half-life in days (inf: off; None:
    chosen by held-out likelihood, `choose_half_life`)."""
    opp, end = known_at(crm, cutoff)
    start = (
        crm.closes_from if crm.closes_from is not None else opp["created_date"].min().normalize()
    )
    if start > end:
        start = opp["created_date"].min().normalize()
    truncated = int((opp["created_date"] < start).sum())
    # read only below: the table itself when no deal is left-truncated (a copy of a 3-million-row
    # export would be most of the fit's memory)
    use = opp[opp["created_date"] >= start] if truncated else opp
    if not len(use):
        raise FitError(f"fit error: no opportunity created between {start.date()} and {end.date()}")
    has_losses = bool((use["outcome"] == "lost").any())
    resolution = time_resolution(use)
    # the deals of the outcome fit: those created in the window, and with `left_truncation` those
    # created before it, each observed from its age on the window's first day (the extract holds
    # only the deals still open then), less one resolution step: a close that day falls in (d-1, d]
    out = opp if left_truncation else use
    t_all, kind_all, entry_all = outcome_rows(out, start, end, resolution)
    inside = (out["created_date"] >= start).to_numpy()  # the window's own deals
    seg_all = labels_of(out["segment"])  # one string per label, not per deal
    notes: list[str] = []
    # recency: the outcome fit weights recent cohorts more when that predicts held-out closes better
    scores: dict[float, float] = {}
    if half_life is None:
        half_life, scores = choose_half_life(
            crm, start, end, resolution, left_truncation, families[0], has_losses
        )
    rw_all = recency(out["created_date"], end, half_life)
    if math.isfinite(half_life):
        notes.append(
            f"Recent deals weigh more in the outcome fit: a deal's weight halves every "
            f"{half_life:.0f} days of age"
            + (
                " (chosen by the held-out likelihood of the latest closes: "
                + ", ".join(
                    f"{'none' if not math.isfinite(h) else f'{h:.0f} d'} {v:.1f}"
                    for h, v in scores.items()
                )
                + ")."
                if scores
                else "."
            )
        )
    elif scores:  # auto looked and kept equal weights: say so, with what it compared
        notes.append(
            "All deals weigh the same in the outcome fit: fit.half_life=auto found no half-life "
            "that predicts the latest closes better (held-out log-likelihood: "
            + ", ".join(
                f"{'none' if not math.isfinite(h) else f'{h:.0f} d'} {v:.1f}"
                for h, v in scores.items()
            )
            + ")."
        )

    def best(t, kind, entry, ks, label="all segments", w=None):
        """The fit with the lowest AIC among those whose P(won) the data's own censoring-aware
        figures allow (`plausible_p_win`, from the deals created in the window); simpler models
        are tried when the best one is not."""
        fits = []
        for k in ks:
            n_par = k * (6 if has_losses else 3)
            if k > 1 and (kind > 0).sum() < 10 * n_par:
                continue
            for fam in families:
                try:
                    fits.append(
                        fit_outcomes(
                            t, kind, k, fam, has_losses, resolution, weights=w, entry=entry
                        )
                    )
                except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                    continue
        if not fits:
            raise FitError(f"fit error: {label}: no outcome model could be fitted")
        fits.sort(key=lambda f: f.aic)
        own = entry == 0  # with the recency weights the fit used (a weighted Aalen-Johansen)
        lo, hi = plausible_p_win(t[own], kind[own], None if w is None else w[own])
        inside = [f for f in fits if lo <= f.p_win <= hi]
        ok = _identified(inside, label, notes)
        if ok and ok[0] is fits[0]:
            return fits[0]
        if inside and inside[0] is fits[0]:  # inside, but set aside as unidentified (noted)
            return ok[0]
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

    pooled = best(t_all, kind_all, entry_all, (1,), w=rw_all)
    segfits: dict[str, SegmentFit] = {}
    keys: dict[str, str] = {}
    for name in sorted(use["segment"].astype(str).unique()):
        key = slug(name)
        while key in keys.values():
            key += "_"
        keys[name] = key
        sel_all = seg_all == name
        t_out, kind_out, e_out = t_all[sel_all], kind_all[sel_all], entry_all[sel_all]
        if int((kind_out > 0).sum()) >= min_closed:
            of = best(t_out, kind_out, e_out, classes, name, w=rw_all[sel_all])
            pooled_shape = False
        else:  # too few closes for a shape: pooled durations, own win probability
            of = _own_p(
                pooled, t_out, kind_out, has_losses, resolution, rw_all[sel_all], entry=e_out
            )
            pooled_shape = True
        sel = sel_all & inside  # the window's own deals: counts, Aalen-Johansen, sizes
        t, kind = t_all[sel], kind_all[sel]
        n_closed = int((kind > 0).sum())
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
        seg_rows = out[sel]
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
            # win_rate() over the segment's closed deals, from the codes at hand (the table's
            # rows would be copied and re-coded for this one ratio)
            naive_closed=int((kind == 1).sum()) / n_closed if n_closed else 0.0,
            naive_open_lost=float((kind == 1).mean()),
            size=fit_size(won_amt.to_numpy(), list(sizes)),
            size_n=int(won_amt.notna().sum()),
            pooled_shape=pooled_shape,
            max_age=float(t.max()),
            p_win_range=plausible_p_win(t, kind, rw_all[sel]),
        )
    arr_end = min(end, opp["created_date"].max().normalize())
    arrivals = fit_arrivals(
        use["created_date"],
        pd.Series(labels_of(use["segment"]), index=use.index).map(keys),
        start,
        arr_end,
        seasonality,
    )
    # every win the file records from `start` on, whenever the deal was created, while new deals
    # still arrive (olist's wins after its last lead only wind down)
    won = opp.loc[  # the two columns read below, not every column of the rows
        (opp["outcome"] == "won") & (opp["close_date"] >= start), ["close_date", "segment"]
    ]
    won = won[won["close_date"] < arr_end + pd.Timedelta(days=1)]
    closes = None
    if len(won) >= 30:  # the end-of-quarter effect on wins (salesim puts quarter ends on arrivals)
        closes = fit_arrivals(
            won["close_date"],
            won["segment"].astype(str),
            start,
            arr_end,
            False,
            trend=False,
            edges=False,
        )
    # the stall age from every deal known at the cutoff: one created before `start` and open
    # long past the longest close is evidence too, whatever its cohort
    k_all = opp["outcome"].map({"won": 1, "lost": 2, "open": 0}).astype(int).to_numpy()
    age_all = (end + pd.Timedelta(days=1) - opp["created_date"]).dt.total_seconds() / 86400
    dur_all = (opp["close_date"] - opp["created_date"]).dt.total_seconds() / 86400
    stall, at_risk = fit_stall(np.where(k_all == 0, age_all, dur_all), k_all)
    pull = None
    if len(won) >= 30:  # wins bunched at quarter and month ends: the closing stage's close_pull
        won_total = pooled.cif(np.array([1e7]), "won")[0]

        def won_sf(x):
            return 1.0 - pooled.cif(x, "won") / won_total if won_total > 0 else np.ones_like(x)

        pull = fit_close_pull(won["close_date"], start, arr_end, won_sf)
    if truncated and left_truncation:
        notes.append(
            f"{truncated} deals created before {start.date()} (the first close in the file) are "
            "left-truncated: the extract holds only those still open then. They enter the outcome "
            "fit from their age on that day (delayed entry), not the arrival, size or drift fits."
        )
    elif truncated:
        notes.append(
            f"{truncated} deals created before {start.date()} (the first close in the file) are "
            "left-truncated: the extract holds only those still open then. They are not used."
        )
    if not has_losses:
        notes.append(
            "The file records no lost deals: a deal not won is censored while open, and the share "
            "that never converts is the fitted 'stuck' class (open for good in calibrated.yaml)."
        )
    drift = fit_drift(use, end)
    return Calibration(
        name=crm.name,
        cutoff=end,
        start=start,
        # recency weights already move P(won) towards the latest cohorts: no second carry
        segments=carry_drift(segfits, drift if not math.isfinite(half_life) else None),
        arrivals=arrivals,
        reps=fit_reps(use),
        team=fit_team(opp, start, arr_end),  # while new deals arrive (olist's end winds down)
        has_losses=has_losses,
        left_truncated=truncated,
        closes=closes,
        close_pull=pull,
        stall_days=stall,
        stall_at_risk=at_risk,
        seed=seed,
        warmup_months=warmup_months,
        horizon_months=horizon_months,
        notes=notes,
        drift=drift,
        deals=FitData(
            t_all,
            kind_all,
            seg_all,
            np.where((kind_all == 1) & inside, out["amount"].to_numpy(dtype=float), np.nan),
            out["created_date"].to_numpy(),
            resolution,
            entry_all,
            rw_all,
        ),
    )


def _own_p(
    pooled: OutcomeFit, t, kind, losses: bool, resolution: float = 1.0, weights=None, entry=None
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
    t, kind, w, e = compress_entry(
        np.maximum(np.asarray(t, float), 0.0), np.asarray(kind, int), entry, weights
    )
    e = e if (e > 0).any() else None

    def full(z):
        return np.array([z[0], *z[1:], *shape])

    def nll(z):
        return -float(w @ _loglik_obs(full(z), t, kind, 1, fam, losses, resolution, e))

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
