"""Typed, range-checked scenario schema.

Hydra composes YAML into a plain dict; `load_scenario` turns it into a frozen `Scenario` or raises
`ConfigError` with one line per problem, each naming the key, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim import money
from sim.pipeline_file import read_rows
from sim.play_targets import resolve as resolve_plays


def _not_bool(v: Any) -> Any:
    """YAML `true` is not a number: pydantic's lax mode would read it as 1."""
    if isinstance(v, bool):
        raise ValueError("a number is required, not a boolean")
    return v


NoBool = BeforeValidator(_not_bool)
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, NoBool, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]


class ConfigError(ValueError):
    """A scenario value is out of range, of the wrong type, unknown, or refers to nothing."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Dist(_Model):
    """A positive random quantity given by its mean and coefficient of variation (std/mean)."""

    dist: Literal["exponential", "gamma", "lognormal", "fixed", "uniform"] = "gamma"
    mean: Pos
    cv: NonNeg = 1.0

    @model_validator(mode="after")
    def _shape(self) -> Dist:
        if self.dist == "exponential" and self.cv != 1.0:
            raise ValueError(f"cv = {self.cv}: an exponential distribution has cv 1 (omit cv)")
        if self.dist == "uniform" and self.cv > 1 / math.sqrt(3):
            raise ValueError(f"cv = {self.cv}: a non-negative uniform needs cv <= 0.577")
        return self


def _check_prob_map(v: float | dict[str, float]) -> float | dict[str, float]:
    values = v.values() if isinstance(v, dict) else [v]
    for x in values:
        if not (isinstance(x, int | float) and 0.0 <= x <= 1.0) or isinstance(x, bool):
            raise ValueError(f"{x!r} is not a probability in [0, 1]")
    return v


class SizeElasticity(_Model):
    """How a deal's size moves its AE stages (docs/model.md#deal-size-and-price): at every AE stage the
    odds of advancing are multiplied by (acv / acv_ref)^win and the duration by (acv / acv_ref)^days.
    0 and 0: size-blind."""

    win: float = -0.2  # HubSpot: win ~21 % overall, ~15 % above $100K ACV (per AE stage, 4 stages)
    days: float = 0.5  # Bridge Group: cycle 60 d at $25K, 72 d at $35K ASP (elasticity ~0.54)


class Segment(_Model):
    acv: Dist
    acv_ref: Pos | None = None  # ACV at which AE stages take their p and days (None: median of acv)
    size_elasticity: SizeElasticity = SizeElasticity()
    cycle_scale: Pos = 1.0
    seats: Dist = Dist(dist="lognormal", mean=10, cv=1.0)
    churn_month: Prob = 0.01
    contract_months: Annotated[int, Field(ge=1)] = 12
    expansion_month: Prob = 0.0
    expansion_uplift: NonNeg = 0.3
    initial_customers: Count = 0


def trend_years(years: Any, damping_days: float | None) -> Any:
    """The years of growth a trend has compounded `years` after its anchor: `years` itself when
    undamped or before the anchor; with damping tau (in years) the growth rate fades as e^(-y / tau),
    so y > 0 counts as tau (1 - e^(-y / tau)), never more than tau (a damped trend, as Gardner and
    McKenzie's, in continuous time). A float or a numpy array (operators only: no numpy import)."""
    if damping_days is None:
        return years
    tau = damping_days / 365.25
    pos = years * (years > 0)  # y after the anchor, 0 before it
    return years - pos + tau * (1.0 - math.e ** (-pos / tau))


class Channel(_Model):
    """A marketing channel: leads a month = leads_month x (budget_month / ref_budget_month)^elasticity."""

    budget_month: NonNeg
    leads_month: NonNeg
    ref_budget_month: Pos
    elasticity: Prob = 0.7
    dispersion: Pos | None = None
    segment_mix: dict[str, Prob]
    # relative cost of a lead by segment (a segment not named: 1): the budget is split over the
    # segments by leads x this, so an enterprise lead can cost more; leads do not change
    segment_cost: dict[str, Pos] = Field(default_factory=dict)
    fit_mean: Annotated[float, Field(gt=0, lt=1)] = 0.5
    seasonality: list[Pos] = Field(default_factory=lambda: [1.0] * 12)
    quarter_end_boost: Pos = 1.0
    # growth (or decline) of the lead rate per year, compounding: x (1 + trend_year)^(years from
    # trend_anchor); 0: none. trend_anchor: the date at which the rate is leads_month (None: the
    # scenario's start_date), so a calibrated scenario continues the level fitted at its cutoff.
    trend_year: Annotated[float, Field(gt=-1, allow_inf_nan=False)] = 0.0
    trend_anchor: dt.date | None = None
    # a damped trend: after trend_anchor the growth rate fades e-fold every trend_damping_days, so
    # the rate levels off at (1 + trend_year)^(trend_damping_days / 365.25) times the anchor's
    # instead of compounding for ever (before the anchor: the undamped line). None: undamped.
    trend_damping_days: Pos | None = None

    @field_validator("seasonality")
    @classmethod
    def _twelve(cls, v: list[float]) -> list[float]:
        if len(v) != 12:
            raise ValueError(f"{len(v)} values given: one multiplier per calendar month (12)")
        return v


class Product(_Model):
    signups_month: NonNeg = 0.0
    dispersion: Pos | None = None
    segment_mix: dict[str, Prob] = Field(default_factory=lambda: {"smb": 1.0})
    price_per_seat_month: NonNeg = 20.0
    assist_seats: Annotated[int, Field(ge=1)] = 25
    infra_cost_per_signup: NonNeg = 0.0


class Role(_Model):
    """People in one role: headcount over time, ramp, attrition, backfill and cost."""

    count: Count = 0
    hires: list[Count] = Field(default_factory=list)
    ramp: list[Prob] = Field(default_factory=lambda: [1.0])
    tenure_months: Dist = Dist(dist="exponential", mean=18)
    backfill: bool = True
    hiring_lag_days: NonNeg = 45.0
    cost_month: NonNeg = 0.0


SDR_BY_SEGMENT = ("contact_prob", "max_attempts", "outbound_meetings_day")  # scalar or by segment


def _check_rate_map(v: float | dict[str, float]) -> float | dict[str, float]:
    for x in v.values() if isinstance(v, dict) else [v]:
        ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
        if not (ok and x >= 0):
            raise ValueError(f"{x!r} is not a finite number >= 0")
    return v


def _check_count_map(v: int | dict[str, int]) -> int | dict[str, int]:
    for x in v.values() if isinstance(v, dict) else [v]:
        if not (isinstance(x, int) and not isinstance(x, bool) and x >= 1):
            raise ValueError(f"{x!r} is not a whole number >= 1")
    return v


class SdrRole(Role):
    # contact_prob, max_attempts, outbound_meetings_day: one value, or one per segment
    contact_prob: float | dict[str, float] = 0.6
    max_attempts: int | dict[str, int] = 6
    attempt_days: Dist = Dist(dist="gamma", mean=0.02, cv=0.5)
    attempt_spacing_days: NonNeg = 1.0
    speed_to_lead_hours: list[NonNeg] = Field(default_factory=lambda: [0.0, 1.0, 24.0, 72.0])
    speed_to_lead_multiplier: list[Prob] = Field(default_factory=lambda: [1.0, 0.7, 0.35, 0.15])
    prospecting_block_days: Pos = 0.25
    outbound_meetings_day: float | dict[str, float] = 0.6
    target_mix: dict[str, NonNeg] | None = None  # outbound effort by segment (x the mix weights)

    _contact = field_validator("contact_prob", mode="before")(_check_prob_map)
    _attempts = field_validator("max_attempts", mode="before")(_check_count_map)
    _meetings = field_validator("outbound_meetings_day", mode="before")(_check_rate_map)

    def by_segment(self, key: str, segments: list[str]) -> tuple[float, ...]:
        """A key of SDR_BY_SEGMENT, one value per segment (a scalar applies to every segment)."""
        v = getattr(self, key)
        return tuple(v[s] for s in segments) if isinstance(v, dict) else (v,) * len(segments)

    @model_validator(mode="after")
    def _curve(self) -> SdrRole:
        h, m = self.speed_to_lead_hours, self.speed_to_lead_multiplier
        if len(h) != len(m) or not h:
            raise ValueError(
                f"speed_to_lead_hours has {len(h)} points and speed_to_lead_multiplier {len(m)}: "
                "they must be non-empty and of equal length"
            )
        if any(b <= a for a, b in zip(h, h[1:], strict=False)):
            raise ValueError(f"speed_to_lead_hours = {h}: must be strictly increasing")
        return self


class AeRole(Role):
    max_open_opps: Annotated[int, Field(ge=1)] = 20  # open deals an AE can juggle (a cap on slots)
    wait_decay_days: Pos = 30.0
    # Selling time (sim/model/ae_hours.py): a fully ramped AE's weekly selling hours, and the AE
    # hours one deal takes over its AE stages, by segment (split equally over the motion's AE
    # stages). No deal_hours: AE time is not modelled (slots only).
    selling_hours_week: NonNeg = 12.0
    deal_hours: dict[str, NonNeg] | None = None
    # AE-sourced pipeline: meetings an AE books per selling hour left over, by segment (the leftover
    # split by the outbound motions' mix weights). None or 0: leftover time is idle.
    self_sourced_meetings_hour: dict[str, NonNeg] | None = None
    # Relative cost of an AE hour by segment (a segment not named: 1), for cost attribution only:
    # the AE team's pay is split by hours x this (enterprise AEs are paid more). None: every hour alike.
    hour_cost: dict[str, Pos] | None = None
    # Quota and rep differences (docs/model.md#quota-and-rep-differences): new-business bookings a
    # fully ramped AE is expected to close in a year (0: no quota, attainment n/a), and the spread
    # (cv of a mean-1 lognormal) of a per-rep productivity multiplier on win chance (0: identical reps).
    quota_year: NonNeg = 0.0
    productivity_cv: NonNeg = 0.0


class CsmRole(Role):
    book_size: Annotated[int, Field(ge=1)] = 60
    churn_reduction: Prob = 0.4
    uncovered_expansion_factor: Prob = 0.3


class Team(_Model):
    sdr: SdrRole = SdrRole()
    ae: AeRole = AeRole()
    csm: CsmRole = CsmRole()


class ClosePull(_Model):
    """Quarter-end and month-end bunching of a motion's closes (sim.close_pull): a won close due
    within `quarter_days` after a quarter end is pulled into the quarter's last `quarter_days` with
    probability `quarter_share`; likewise at the other month ends. Timing only: wins unchanged."""

    quarter_days: Annotated[float, Field(ge=0, le=31, allow_inf_nan=False)] = 7.0
    quarter_share: Prob = 0.0
    month_days: Annotated[float, Field(ge=0, le=31, allow_inf_nan=False)] = 3.0
    month_share: Prob = 0.0


class Stage(_Model):
    """One funnel stage: who owns it, the chance to advance, how long it takes, what it queues for."""

    owner: Literal["marketing", "product", "sdr", "handoff", "ae", "csm", "self_serve"]
    p: float | dict[str, float] = 1.0
    days: Dist | None = None
    days_lost: Dist | None = None  # time to drop out, when it differs from `days` (calibration)
    queue: Literal["sdr", "ae"] | None = None
    seats_at_least: Annotated[int, Field(ge=0)] | None = None
    seats_below: Annotated[int, Field(ge=1)] | None = None
    # standard stages this one stands for, each with its share of the stage's time (a calibrated
    # CRM deal stage covers discovery..negotiation): a play's change aimed at a covered stage acts
    # on this one (sim/play_targets.py, docs/calibration.md#running-calibratedyaml)
    covers: dict[str, Annotated[float, Field(gt=0, le=1)]] | None = None
    close_pull: ClosePull | None = None  # the closing stage only: closes bunch at period ends
    stall_days: Pos | None = None  # a deal still in the stage after this many days never leaves it

    _p = field_validator("p", mode="before")(_check_prob_map)

    @field_validator("covers")
    @classmethod
    def _shares(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None and sum(v.values()) > 1 + 1e-6:
            raise ValueError(f"shares of the stage's time sum to {sum(v.values()):g}, more than 1")
        return v

    @model_validator(mode="after")
    def _lost(self) -> Stage:
        if self.days_lost is None:
            return self
        if self.days is None or self.days.dist == "fixed" or self.days.cv == 0:
            raise ValueError(
                "days_lost needs `days` with a continuous distribution (not fixed, cv > 0): "
                "a lead's lost duration is its duration draw mapped through the two quantile functions"
            )
        if self.queue == "sdr":
            raise ValueError("days_lost is not supported on a stage with queue: sdr")
        return self

    @model_validator(mode="after")
    def _stall(self) -> Stage:
        if self.stall_days is not None and (self.days is None or self.queue == "sdr"):
            raise ValueError(
                "stall_days needs a stage with `days` that does not queue for an SDR (a deal stalls "
                "when its time in the stage would exceed stall_days)"
            )
        return self

    @property
    def guarded(self) -> bool:
        return self.seats_at_least is not None or self.seats_below is not None


class Motion(_Model):
    """A motion is data: where its accounts come from and the ordered stages they pass."""

    entry: Literal["marketing", "product", "outbound", "customers"]
    stages: dict[str, Stage]
    opportunity_from: str
    acv: Literal["segment", "seats"] = "segment"
    # a label under which figures and report tables show this motion together with others of the
    # same group (a calibrated segment's fit classes); None: shown on its own
    group: str | None = None

    @field_validator("stages")
    @classmethod
    def _non_empty(cls, v: dict[str, Stage]) -> dict[str, Stage]:
        if not v:
            raise ValueError("a motion needs at least one stage")
        return v


class Costs(_Model):
    gross_margin: Annotated[float, Field(gt=0, le=1)] = 0.78
    tools_month: NonNeg = 0.0
    # S&M cost is attributed by activity (docs/metrics.md#cost-attribution); `activity` is the only
    # rule left: the customer-count split inverted payback by motion
    allocation: str = "activity"
    overhead: Literal["direct_cost", "new_customers"] = "direct_cost"  # rule for unexplained cost
    clv_years: Pos = 5.0  # CLV horizon
    discount_rate_year: Annotated[float, Field(ge=0, le=1)] = 0.10  # CLV discount rate
    # false: the scenario has no cost data (a calibrated CRM export), so the cost metrics (CAC,
    # payback, LTV:CAC, S&M cost) are null rather than computed from placeholder budgets
    known: bool = True

    @field_validator("allocation")
    @classmethod
    def _activity_only(cls, v: str) -> str:
        if v != "activity":
            raise ValueError(
                "only 'activity' is allowed; S&M cost is attributed to motions and "
                "segments by the time and spend they used, and costs.overhead sets how the rest "
                "(tools, plays) is split ('direct_cost' or 'new_customers')"
            )
        return v


class LeadFit(_Model):
    """How a lead's ICP-fit score (0-1, Beta around its source's mean) shifts conversion: at every
    stage the log-odds of advancing move by `log_odds_per_fit` x (fit - `ref`) (docs/model.md#lead-fit).
    0 turns fit off. Channels set their own `fit_mean`; outbound and product leads get these."""

    log_odds_per_fit: NonNeg = 1.0
    ref: Annotated[float, Field(gt=0, lt=1)] = 0.5
    outbound_mean: Annotated[float, Field(gt=0, lt=1)] = 0.5
    product_mean: Annotated[float, Field(gt=0, lt=1)] = 0.5


class Pricing(_Model):
    """The price lever: every new deal is sold `discount` below list (its ACV x (1 - discount)), and
    at every AE stage its odds are multiplied by (1 - discount)^-discount_win_elasticity."""

    discount: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    discount_win_elasticity: NonNeg = 0.5  # assumption: 20 % off raises each AE stage's odds ~12 %


class ScenarioName(_Model):
    name: str = "baseline"


class Change(_Model):
    """One parameter change of a play: `target` (a key, `*` wildcards allowed; sim.play_targets.TARGETS)
    and either `scale` (multiply) or `set` (replace; a motion -> weight map for `mix.<segment>`)."""

    target: str
    scale: NonNeg | None = None
    set: float | dict[str, float] | None = None

    @model_validator(mode="after")
    def _one_op(self) -> Change:
        if (self.scale is None) == (self.set is None):
            raise ValueError(f"target {self.target!r}: give exactly one of `scale` or `set`")
        return self


class Training(_Model):
    """Training a play needs (docs/plays.md#training-takes-selling-time): every rep of `role` spends
    `days` working days once at start_day and `reinforcement_days_month` a month from then on away
    from selling. Reinforcement also stops backsliding."""

    role: Literal["sdr", "ae"]
    days: NonNeg = 0.0
    reinforcement_days_month: NonNeg = 0.0


class Focus(_Model):
    """Focus (docs/plays.md#cadence_333): a `share` of the adopting leads is worked as key accounts,
    their `stages` (a pattern) taking `days_scale` of the time (and converting at `p_scale` times the
    rate); the rest wait longer so that the expected time over all adopting leads is conserved."""

    share: Annotated[float, Field(gt=0, lt=1)] = 0.3
    days_scale: Annotated[float, Field(gt=0, le=1)] = 0.7
    p_scale: NonNeg = 1.0  # key accounts' stage probability x this (clipped to 1)
    stages: str = "*"
    motions: str = "*"


class Play(_Model):
    """A sales play (sim.plays, docs/plays.md): parameter changes from `start_day` (days from
    start_date), adopted by a share rising along an S-curve to `adoption` over `ramp_days` (and
    backsliding without reinforcement), with costs in money and in selling time."""

    description: str = ""
    start_day: NonNeg = 0.0
    ramp_days: NonNeg = 0.0
    adoption: Prob = 1.0
    cost_once: NonNeg = 0.0
    cost_month: NonNeg = 0.0
    segments: list[str] | None = None  # only leads of these segments adopt (a target list)
    sla_hours: NonNeg | None = None  # SDRs check the inbound queue at least this often
    queue_by_fit: bool = False  # SDRs take the waiting lead of highest fit first
    drop_below: Prob | None = None  # SDRs skip (drop unworked) leads whose fit is below this
    knobs: dict[str, float] = Field(default_factory=dict)  # named numbers the changes interpolate
    changes: list[Change] = Field(default_factory=list)
    # resistance to change (sim.plays.Adoption): S-curve steepness (0: linear), learning dip,
    # backsliding; training time; focus. Defaults: assumptions, docs/plays.md#adoption-and-timing
    steepness: NonNeg = 4.4
    training: Training | None = None
    dip: Prob = 0.0  # new adopters of the trained role lose this share of capacity ...
    dip_days: NonNeg = 30.0  # ... for this long after they adopt
    backslide_after_days: NonNeg | None = None  # adoption starts to decay this long after start
    backslide_half_life_days: Pos = 90.0
    backslide_floor: Prob = 0.5  # share of the adoption kept in the long run
    focus: Focus | None = None
    mql_fit_min: Prob | None = (
        None  # adopting leads below this fit are not MQLs (shared definition)
    )

    @model_validator(mode="after")
    def _dip_needs_a_role(self) -> Play:
        if self.dip > 0 and self.training is None:
            raise ValueError(f"dip = {self.dip}: a learning dip needs `training.role` (whose time)")
        return self


class OpenDeal(_Model):
    """A deal already open at day 0 (warm start): its segment, motion (may be omitted when the
    segment's mix has one motion), current stage, days already spent in that stage, and value (drawn
    from the segment's deal size when omitted). See sim.open_pipeline."""

    segment: str
    motion: str | None = None
    stage: str
    age_days: NonNeg
    amount: Pos | None = None
    origin: str | None = None  # where the row came from (file and line), for error messages


def _open_pipeline_rows(v: Any) -> Any:
    """A path (CSV or Parquet) is read into rows here, so a bad file stops the run before it starts."""
    if isinstance(v, str):
        return read_rows(v)
    return v


class Scenario(_Model):
    """Everything one simulated company needs, frozen. Times are days from `start_date`."""

    scenario: ScenarioName = ScenarioName()
    seed: Annotated[int, Field(ge=0)] = 0
    replications: Annotated[int, Field(ge=1)] = 100
    horizon_days: Pos = 365.0
    warmup_days: NonNeg = 180.0
    start_date: dt.date = dt.date(2026, 1, 1)
    segments: dict[str, Segment]
    channels: dict[str, Channel] = Field(default_factory=dict)
    product: Product = Product()
    team: Team = Team()
    motions: dict[str, Motion]
    mix: dict[str, dict[str, Prob]] = Field(default_factory=dict)
    expansion: str | None = None
    costs: Costs = Costs()
    probe_days: NonNeg = 0.0  # >0: sample the SDR queue length this often (validation runs)
    plays: dict[str, Play] = Field(default_factory=dict)  # sales plays in force (sim.plays)
    lead_fit: LeadFit = LeadFit()  # how fit shifts conversion (sim.motions.fit_odds)
    pricing: Pricing = Pricing()  # discount off list (sim.model.customers.new_deals)
    open_pipeline: Annotated[tuple[OpenDeal, ...] | None, BeforeValidator(_open_pipeline_rows)] = (
        None  # deals open at day 0: a CSV/Parquet path or inline rows (sim.open_pipeline)
    )
    # what amounts are in (ISO 4217): report.md, the terminal table and figures print them so
    # (sim.money); calibrated.yaml carries the export's data.currency
    currency: Annotated[str, BeforeValidator(money.check)] = money.DEFAULT

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        segs = set(self.segments)
        if not segs:
            raise ValueError("segments: at least one segment is required")
        _mix_sums("channels.{}.segment_mix", {k: c.segment_mix for k, c in self.channels.items()})
        _mix_sums("product.segment_mix", {"": self.product.segment_mix})
        for name, c in self.channels.items():
            _known(f"channels.{name}.segment_mix", c.segment_mix, segs, "segment")
            _known(f"channels.{name}.segment_cost", c.segment_cost, segs, "segment")
        _known("product.segment_mix", self.product.segment_mix, segs, "segment")
        if self.team.sdr.target_mix is not None:
            _known("team.sdr.target_mix", self.team.sdr.target_mix, segs, "segment")
        for key in ("deal_hours", "self_sourced_meetings_hour", "hour_cost"):
            if getattr(self.team.ae, key) is not None:
                _known(f"team.ae.{key}", getattr(self.team.ae, key), segs, "segment")
        for k in SDR_BY_SEGMENT:
            v = getattr(self.team.sdr, k)
            if isinstance(v, dict):
                _known(f"team.sdr.{k}", v, segs, "segment")
                if segs - set(v):
                    raise ValueError(
                        f"team.sdr.{k} = {v}: no value for segment(s) {sorted(segs - set(v))}; "
                        "give one number or one per segment"
                    )
        for name, m in self.motions.items():
            _check_motion(name, m, segs, self.team)
        for seg, weights in self.mix.items():
            if seg not in segs:
                raise ValueError(f"mix.{seg}: no such segment; segments are {sorted(segs)}")
            for mot, _w in weights.items():
                if mot not in self.motions:
                    raise ValueError(
                        f"mix.{seg}.{mot}: no such motion; motions are {sorted(self.motions)}"
                    )
                if self.motions[mot].entry == "customers":
                    raise ValueError(
                        f"mix.{seg}.{mot}: motion '{mot}' starts from customers; "
                        "name it in `expansion`, not in the acquisition mix"
                    )
            total = sum(weights.values())
            if weights and abs(total - 1.0) > 1e-6:
                raise ValueError(f"mix.{seg} = {dict(weights)}: weights sum to {total:g}, not 1")
        if self.expansion is not None:
            if self.expansion not in self.motions:
                raise ValueError(
                    f"expansion = '{self.expansion}': no such motion; "
                    f"motions are {sorted(self.motions)}"
                )
            exp = self.motions[self.expansion]
            first = next(iter(exp.stages))
            if exp.opportunity_from != first:
                raise ValueError(
                    f"motions.{self.expansion}.opportunity_from = '{exp.opportunity_from}': an "
                    f"expansion opportunity exists from the moment it is raised; use '{first}'"
                )
            if exp.entry != "customers":
                raise ValueError(
                    f"expansion = '{self.expansion}': its entry is "
                    f"'{self.motions[self.expansion].entry}'; an expansion motion needs entry 'customers'"
                )
        for i, deal in enumerate(self.open_pipeline or ()):
            _check_open_deal(self, i, deal)
        if self.plays:
            resolve_plays(self)
        return self

    @field_validator("seed", "replications", "horizon_days", "warmup_days", mode="before")
    @classmethod
    def _numbers_not_booleans(cls, v: Any) -> Any:
        return _not_bool(v)

    @property
    def total_days(self) -> float:
        return self.warmup_days + self.horizon_days

    def acquisition_weight(self, segment: str, motion: str) -> float:
        return self.mix.get(segment, {}).get(motion, 0.0)


def open_deal_motions(sc: Scenario, deal: OpenDeal) -> list[str]:
    """The motions an open deal may run in: its own, else those its segment's mix uses (weight > 0)
    that have its stage among their opportunity stages (the engine draws one; sim.open_pipeline)."""
    if deal.motion is not None:
        return [deal.motion]
    used = [m for m, w in sc.mix.get(deal.segment, {}).items() if w > 0]
    return [m for m in used if deal.stage in _open_stages(sc.motions[m])]


def _open_stages(m: Motion) -> list[str]:
    """Stages a deal of the open pipeline can be in: from opportunity_from on, not an SDR queue."""
    stages = list(m.stages)
    return [s for s in stages[stages.index(m.opportunity_from) :] if m.stages[s].queue != "sdr"]


def _check_open_deal(sc: Scenario, i: int, deal: OpenDeal) -> None:
    where = f"open_pipeline row {i + 1}" + (f" ({deal.origin})" if deal.origin else "")
    if deal.segment not in sc.segments:
        raise ValueError(
            f"{where}: segment = '{deal.segment}': no such segment; segments are {sorted(sc.segments)}"
        )
    if deal.motion is None:
        if not open_deal_motions(sc, deal):
            raise ValueError(
                f"{where}: stage = '{deal.stage}': no motion of segment '{deal.segment}' "
                f"(mix: {dict(sc.mix.get(deal.segment, {}))}) has it as an opportunity stage; "
                "give the deal's motion"
            )
        return
    m = sc.motions.get(deal.motion)
    if m is None:
        raise ValueError(
            f"{where}: motion = '{deal.motion}': no such motion; motions are {sorted(sc.motions)}"
        )
    if m.entry == "customers":
        raise ValueError(
            f"{where}: motion = '{deal.motion}': expansion motions cannot be warm-started"
        )
    if deal.stage not in _open_stages(m):
        raise ValueError(
            f"{where}: stage = '{deal.stage}': not an opportunity stage of motion "
            f"'{deal.motion}'; allowed: {_open_stages(m)}"
        )


def _mix_sums(pattern: str, mixes: dict[str, dict[str, float]]) -> None:
    for name, mix in mixes.items():
        total = sum(mix.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"{pattern.format(name)} = {dict(mix)}: shares sum to {total:g}, not 1"
            )


def _known(key: str, mapping: dict[str, Any], allowed: set[str], what: str) -> None:
    for k in mapping:
        if k not in allowed:
            raise ValueError(f"{key}.{k}: no such {what}; {what}s are {sorted(allowed)}")


def _check_motion(name: str, m: Motion, segs: set[str], team: Team) -> None:
    key = f"motions.{name}"
    if m.opportunity_from not in m.stages:
        raise ValueError(
            f"{key}.opportunity_from = '{m.opportunity_from}': no such stage; "
            f"stages are {list(m.stages)}"
        )
    for sname, st in m.stages.items():
        if isinstance(st.p, dict):
            _known(f"{key}.stages.{sname}.p", st.p, segs, "segment")
            missing = segs - set(st.p)
            if missing:
                raise ValueError(
                    f"{key}.stages.{sname}.p = {st.p}: no probability for segment(s) {sorted(missing)}"
                )
        if st.queue is not None:
            if m.entry == "customers":
                raise ValueError(
                    f"{key}.stages.{sname}.queue = '{st.queue}': motions with entry 'customers' "
                    "cannot queue for a role (expansion is worked without contention)"
                )
            role = getattr(team, st.queue)
            if role.count == 0 and not any(role.hires):
                raise ValueError(
                    f"{key}.stages.{sname}.queue = '{st.queue}': team.{st.queue} has no headcount "
                    "(count 0 and no hires), so nobody would ever work this stage"
                )
        if st.close_pull is not None and (sname != list(m.stages)[-1] or m.entry == "customers"):
            raise ValueError(
                f"{key}.stages.{sname}.close_pull: only a new-business motion's last stage (its "
                "close) can be pulled into a period"
            )
        if m.entry == "customers" and st.guarded:
            raise ValueError(
                f"{key}.stages.{sname}: seat guards do not apply to expansion motions "
                "(customers carry no seat count)"
            )
    if m.entry == "outbound":
        first = next(iter(m.stages.values()))
        if first.queue == "sdr":
            raise ValueError(
                f"{key}: an outbound motion's meetings come from SDR prospecting; "
                "its first stage must not queue for an SDR again"
            )


def load_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a composed config dict. Raises ConfigError naming each bad key, value and rule."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_format(e, data) for e in exc.errors())) from None


def _format(err: dict[str, Any], data: dict[str, Any]) -> str:
    loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-after", "float", "dict"))]
    key = ".".join(loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"config error: {key}: unknown key (value {err['input']!r}); check its spelling"
    if err["type"] == "missing":
        return f"config error: {key}: required key is missing"
    if not key:
        return f"config error: {msg}"
    value = err.get("input")
    if isinstance(value, dict | list) and len(repr(value)) > 80:
        return f"config error: {key}: {msg}"
    return f"config error: {key} = {value!r}: {msg}"


class ExecutorSettings(_Model):
    """Where replications run (docs/scale.md). `address` and `replications_per_task` are for Ray:
    null starts Ray on this machine; 'auto', 'HOST:6379' or 'ray://HOST:10001' join a cluster."""

    kind: Literal["serial", "local", "ray"] = "serial"
    address: str | None = None
    replications_per_task: Annotated[int, NoBool, Field(ge=1)] | None = None

    @field_validator("kind")
    @classmethod
    def _ray_installed(cls, v: str) -> str:
        if v == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError("Ray is not installed: pip install 'salesim[ray]' (or executor=local)")
        return v


class CompareSettings(_Model):
    """Several scenarios in one run: each is the run's config plus its own overrides, all on the same
    seed and replication streams (common random numbers), compared with `baseline`."""

    scenarios: dict[str, list[str]]
    baseline: str

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(v) < 2:
            raise ValueError("a comparison needs at least two scenarios")
        for name in v:
            if not name or any(c.isspace() or c in "/\\'\"" for c in name):
                raise ValueError(
                    f"scenario name {name!r}: no spaces, slashes or quotes (it labels files)"
                )
        return v

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, v: str, info: ValidationInfo) -> str:
        names = info.data.get("scenarios")
        if names is not None and v not in names:
            raise ValueError(f"not one of the scenarios {sorted(names)}")
        return v


class SensitivitySettings(_Model):
    """One-at-a-time swings: each input set to a low and a high value, everything else at the
    baseline, on common random numbers; the tornado chart ranks inputs by how far they move `metrics`."""

    metrics: list[str] = Field(default_factory=lambda: ["arr_end"], min_length=1)
    swing: Annotated[float, Field(gt=0, lt=1)] = 0.2
    inputs: dict[str, list[float] | None] = Field(min_length=1)

    @field_validator("inputs")
    @classmethod
    def _pairs(cls, v: dict[str, list[float] | None]) -> dict[str, list[float] | None]:
        for key, pair in v.items():
            if pair is not None and (len(pair) != 2 or pair[0] >= pair[1]):
                raise ValueError(
                    f"{key} = {pair}: give [low, high] with low < high, or null for "
                    "the baseline value -/+ swing"
                )
        return v


class PlanTarget(_Model):
    """What the year must deliver: a metric of the forecast window and the value it must reach."""

    metric: Literal["bookings", "bookings_new", "arr_end", "new_customers"] = "bookings"
    value: Annotated[float, NoBool, Field(gt=0, allow_inf_nan=False)]


class PlanLever(_Model):
    """One thing a capacity plan may add, in whole `step`s up to `max` on top of the company's own
    plan: hires of a role in one month (`role`, `month`: a month of the run, as in team.<role>.hires)
    or a channel's monthly budget (`channel`). Neither given: read from the lever's name,
    `<role>_hires` or `<channel>_budget` (sim.capacity_plan)."""

    role: Literal["sdr", "ae", "csm"] | None = None
    channel: str | None = None
    month: Count = 0
    step: Pos
    max: Pos

    @model_validator(mode="after")
    def _one_target(self) -> PlanLever:
        if self.role is not None and self.channel is not None:
            raise ValueError("give role (hires) or channel (budget), not both")
        if self.max < self.step:
            raise ValueError(f"max = {self.max:g} is below step = {self.step:g}: nothing to add")
        return self


class PlanSettings(_Model):
    """A capacity plan (experiment=capacity_plan): the cheapest levers found that meet `target` in
    half the replications and in `probability` of them; a greedy search of at most `max_steps`
    additions per goal (docs/experiments.md)."""

    target: PlanTarget
    probability: Annotated[float, Field(gt=0.5, lt=1)] = 0.8
    max_steps: Annotated[int, NoBool, Field(ge=1, le=200)] = 12
    cost: Literal["total", "sm_cost"] = "total"
    refine: bool = True
    levers: dict[str, PlanLever] = Field(min_length=1)


class Factor(_Model):
    """An input that global sensitivity (sim.gsa) varies: an uncertainty (what the market does) or a
    lever (what the company decides), with its distribution as in SALib's problem dict (`dists`):
    uniform over [low, high] (the default), normal (mean, sd), triang (low, high and the peak value
    between them) or lognorm (mu, sigma: mean and standard deviation of the value's logarithm).
    A key whose baseline is a whole number is rounded to one at every sample point."""

    dist: Literal["uniform", "normal", "triang", "lognorm"] = "uniform"
    low: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    high: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    peak: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    mean: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    sd: Annotated[float, NoBool, Field(gt=0, allow_inf_nan=False)] | None = None
    mu: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    sigma: Annotated[float, NoBool, Field(gt=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Factor:
        need = {
            "uniform": ("low", "high"),
            "triang": ("low", "high", "peak"),
            "normal": ("mean", "sd"),
            "lognorm": ("mu", "sigma"),
        }[self.dist]
        given = {
            k
            for k in ("low", "high", "peak", "mean", "sd", "mu", "sigma")
            if getattr(self, k) is not None
        }
        if given != set(need):
            raise ValueError(
                f"dist {self.dist} takes {', '.join(need)} (given: {', '.join(sorted(given)) or 'none'})"
            )
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low = {self.low:g} must be below high = {self.high:g}")
        if self.peak is not None and not self.low <= self.peak < self.high:  # type: ignore[operator]
            raise ValueError(f"peak = {self.peak:g}: allowed low <= peak < high (SALib's triang)")
        return self


class GsaSettings(_Model):
    """Global sensitivity (experiment=sobol / morris, sim.gsa): every `uncertainties` and `levers`
    key varied together over its distribution by SALib's sample plan, each sample point run on the
    same replication seeds (common random numbers); `over` picks which of the two sets vary (the
    others stay at their baseline)."""

    method: Literal["sobol", "morris"]
    metrics: list[str] = Field(default_factory=lambda: ["arr_end"], min_length=1)
    over: Literal["both", "uncertainties", "levers"] = "both"
    swing: Annotated[float, Field(gt=0, lt=1)] = 0.2  # a factor given as null: uniform -/+ swing
    n: Annotated[int, NoBool, Field(ge=2, le=65536)] = 32  # Sobol: base sample size, a power of 2
    second_order: bool = False  # Sobol: also S2 (pairs); N*(2k+2) points instead of N*(k+2)
    trajectories: Annotated[int, NoBool, Field(ge=2, le=10000)] = 10  # Morris: r
    levels: Annotated[int, NoBool, Field(ge=2, le=64)] = 4  # Morris: grid levels (even)
    resamples: Annotated[int, NoBool, Field(ge=10, le=100000)] = 1000  # bootstrap for the *_conf

    @field_validator("n")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError("Sobol's sequence needs a power of 2 (8, 16, 32, 64, ...)")
        return v

    @field_validator("levels")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("Morris needs an even number of levels (4, 6, 8, ...)")
        return v


def flat_factors(v: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{team: {ae: {count: null}}}` (what `+levers.team.ae.count=null` makes on the command line)
    as `{team.ae.count: null}`: a mapping of plain values (numbers, words) is a distribution (Factor);
    a mapping holding mappings or nulls is one more level of the config key."""
    out: dict[str, Any] = {}
    for key, value in v.items():
        name = f"{prefix}{key}"
        spec = (
            isinstance(value, dict)
            and value
            and all(x is not None and not isinstance(x, dict | list) for x in value.values())
        )
        if isinstance(value, dict) and not spec:
            out.update(flat_factors(value, f"{name}."))
        else:
            out[name] = value
    return out


STATS = ("mean", "std", "p5", "p10", "p50", "p90", "p95", "ci95_low", "ci95_high")  # sim.stats


class SearchParam(_Model):
    """One searched config key (experiment=optimise_*): a number from `low` to `high` (both
    included), in steps of `step` if given, on a log scale if `log`, a whole number if `int`."""

    low: Annotated[float, NoBool, Field(allow_inf_nan=False)]
    high: Annotated[float, NoBool, Field(allow_inf_nan=False)]
    step: Pos | None = None
    log: bool = False
    is_int: bool = Field(False, alias="int")  # `int: true` in the YAML

    @model_validator(mode="after")
    def _range(self) -> SearchParam:
        if self.low >= self.high:
            raise ValueError(f"low = {self.low:g} must be below high = {self.high:g}")
        if self.log and self.step is not None:
            raise ValueError("log and step cannot be combined (optuna's rule)")
        if self.log and self.low <= 0:
            raise ValueError(f"log needs low > 0, got {self.low:g}")
        if self.is_int and (self.low != round(self.low) or self.high != round(self.high)):
            raise ValueError("int: low and high must be whole numbers")
        if self.step is not None:
            k = (self.high - self.low) / self.step
            if abs(k - round(k)) > 1e-9 or (self.is_int and self.step != round(self.step)):
                raise ValueError(
                    f"step = {self.step:g} must divide high - low = {self.high - self.low:g}"
                    + (" and be whole (int)" if self.is_int else "")
                )
        return self


class StudyObjective(_Model):
    """What a study optimises: `metric`'s `stat` over a trial's replications, or, with `at_least`,
    the share of replications where the metric reaches that value (P(metric >= at_least))."""

    metric: str
    stat: Literal[STATS] = "mean"  # type: ignore[valid-type]
    at_least: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    direction: Literal["maximize", "minimize"] = "maximize"


class StudyConstraint(_Model):
    """A limit on `metric`'s `stat` (the median by default): at most `max`, at least `min`."""

    metric: str
    stat: Literal[STATS] = "p50"  # type: ignore[valid-type]
    max: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None
    min: Annotated[float, NoBool, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> StudyConstraint:
        if self.max is None and self.min is None:
            raise ValueError("give max and/or min")
        return self


class OptimiseSettings(_Model):
    """An Optuna study over config keys (experiment=optimise_budget, optimise_target; sim.optimise,
    docs/sweeps.md): `n_trials` trials, each a run of `replications` on the executor (proposals
    over `budget_limit_month` are not run and do not count)."""

    space: dict[str, SearchParam] = Field(min_length=1)
    objectives: list[StudyObjective] = Field(min_length=1, max_length=3)
    constraints: list[StudyConstraint] = Field(default_factory=list)
    budget_limit_month: Pos | None = None  # hard: the channels' budget_month summed, per trial
    n_trials: Annotated[int, NoBool, Field(ge=1, le=10_000)] = 20
    seed: Annotated[int, NoBool, Field(ge=0)] = 0
    sampler: Literal["tpe", "nsga2", "random"] = "tpe"
    n_startup_trials: Annotated[int, NoBool, Field(ge=0)] = 8  # random trials first (TPE)
    population_size: Annotated[int, NoBool, Field(ge=2)] = 20  # NSGA-II's generation size
    pruning: bool = False  # single objective only: stop a trial whose partial result is hopeless
    prune_every: Annotated[int, NoBool, Field(ge=1)] = 4  # replications between pruning checks
    prune_startup_trials: Annotated[int, NoBool, Field(ge=0)] = 5  # trials never pruned first
    storage: str | None = None  # null: sqlite <run folder>/study.db; else a file path or an URL

    @model_validator(mode="after")
    def _pruning_single(self) -> OptimiseSettings:
        if self.pruning and len(self.objectives) > 1:
            raise ValueError(
                "pruning = true needs one objective: optuna does not prune multi-objective studies"
            )
        return self


class RunSettings(_Model):
    """How to run (not what to simulate): executor, workers, progress bar, table format, and an
    optional comparison of several scenarios."""

    executor: ExecutorSettings = ExecutorSettings()
    workers: Annotated[int, Field(ge=1)] = 1
    progress: bool = True
    tables: Literal["parquet", "csv", "both"] = "parquet"
    compare: CompareSettings | None = None
    sensitivity: SensitivitySettings | None = None
    plan: PlanSettings | None = None  # experiment=capacity_plan (sim.capacity_plan)
    # global sensitivity (sim.gsa): inputs the company does not control, inputs it does, and how
    uncertainties: dict[str, Factor | None] | None = None
    levers: dict[str, Factor | None] | None = None
    gsa: GsaSettings | None = None

    @field_validator("uncertainties", "levers", mode="before")
    @classmethod
    def _flat_keys(cls, v: Any) -> Any:
        return flat_factors(v) if isinstance(v, dict) else v

    overwrite: bool = False  # salesim: replace a complete run in hydra.run.dir (sim/cli.py)
    optimise: OptimiseSettings | None = None  # experiment=optimise_* (sim.optimise)

    @field_validator("workers", mode="before")
    @classmethod
    def _workers_not_boolean(cls, v: Any) -> Any:
        return _not_bool(v)


RUN_KEYS = tuple(RunSettings.model_fields)


def load_run(
    data: dict[str, Any], namespaces: tuple[str, ...] = ()
) -> tuple[Scenario, RunSettings]:
    """Split a composed config into the scenario and the run settings, validating both.

    `namespaces` are top-level keys holding an experiment preset's knobs (already resolved into the
    scenario through interpolation); they are set aside, not validated as scenario keys.
    """
    data = {k: v for k, v in data.items() if k != "hydra" and k not in namespaces}
    run = {k: data.pop(k) for k in RUN_KEYS if k in data}
    scenario = load_scenario(data)
    try:
        settings = RunSettings.model_validate(run)
    except ValidationError as exc:
        raise ConfigError("\n".join(_format(e, run) for e in exc.errors())) from None
    check_factors(settings, data)
    return scenario, settings


def config_value(data: dict[str, Any], key: str) -> Any:
    """The value at dotted `key` in a composed config dict (list items by index), or KeyError."""
    node: Any = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node


def check_factors(rs: RunSettings, data: dict[str, Any]) -> None:
    """Every `uncertainties` / `levers` key names a number of the config, none is in both, and a
    `gsa` run has something to vary: one config error line otherwise (sim.gsa)."""
    both = set(rs.uncertainties or {}) & set(rs.levers or {})
    if both:
        key = sorted(both)[0]
        raise ConfigError(
            f"config error: levers.{key}: also listed under uncertainties; an input is one or the other"
        )
    for group in ("uncertainties", "levers"):
        for key in getattr(rs, group) or {}:
            try:
                value = config_value(data, key)
            except KeyError:
                raise ConfigError(
                    f"config error: {group}.{key}: no such key in the config (docs/configuration.md)"
                ) from None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(
                    f"config error: {group}.{key}: the config value is {value!r}, not a number; "
                    "allowed: a numeric key"
                )
    if rs.gsa is not None:
        chosen = {"both": ("uncertainties", "levers")}.get(rs.gsa.over, (rs.gsa.over,))
        if not any(getattr(rs, g) for g in chosen):
            raise ConfigError(
                f"config error: gsa.over = {rs.gsa.over!r}: nothing to vary; declare inputs under "
                + " or ".join(chosen)
            )


# --- sizes before work (docs/reliability.md) ------------------------------------------------------

# Measured with tracemalloc on the shipped companies (71-138 bytes per arrival at the peak of one
# replication; docs/reliability.md): rounded up, so the estimate errs on the large side.
BYTES_PER_ARRIVAL = 150
BYTES_PER_PERSON = 200  # a seat's arrays and records (team.<role>.count, hires)
BYTES_PER_REPLICATION = (
    50_000  # what the main process keeps per replication (metrics, monthly rows)
)
BASE_BYTES = 300_000_000  # the interpreter with numpy, pandas, simpy and matplotlib loaded
LONG_DAYS = 3653  # ten years: a longer simulated window is named as the cause of a large estimate
QUIET_WORKERS = 2  # the shipped `workers`: capping it (1 replication, 1 CPU) goes without a note
WARN_SHARE = 0.5  # warn when the estimate exceeds this share of the memory available now


@dataclass(frozen=True)
class SizeEstimate:
    """Memory a run is expected to need, and the config key that drives it most."""

    bytes: float
    key: str
    value: float
    arrivals: float  # leads and sign-ups of one replication, warm-up included


def size_estimate(sc: Scenario, rs: RunSettings) -> SizeEstimate:
    """Peak memory from the config alone (no simulation): the replications held at once (one per
    worker) times the arrivals of one (channel leads, sign-ups and outbound meetings over the
    warm-up and horizon, at the peak month's rate) times bytes per arrival, plus people, plus what
    the main process keeps per replication. `key` names the largest term's input, for the message."""
    months = sc.total_days / 30.4375
    terms: dict[tuple[str, float], float] = {}
    for name, c in sc.channels.items():
        rate = c.leads_month * (c.budget_month / c.ref_budget_month) ** c.elasticity
        rate *= max(c.seasonality) * max(c.quarter_end_boost, 1.0)
        if c.trend_year:  # the peak of the trend over the run: at its first or its last day
            anchor = (c.trend_anchor or sc.start_date) - sc.start_date
            years = ((0.0 - anchor.days) / 365.25, (sc.total_days - anchor.days) / 365.25)
            years = tuple(trend_years(y, c.trend_damping_days) for y in years)
            rate *= max((1.0 + c.trend_year) ** y for y in years)
        terms[(f"channels.{name}.leads_month", c.leads_month)] = rate * months
    terms[("product.signups_month", sc.product.signups_month)] = sc.product.signups_month * months
    sdrs = sc.team.sdr.count + sum(sc.team.sdr.hires)
    rate = sc.team.sdr.outbound_meetings_day  # one number or one per segment: the largest
    rate = max(rate.values(), default=0.0) if isinstance(rate, dict) else rate
    terms[("team.sdr.count", sc.team.sdr.count)] = sdrs * rate * sc.total_days
    ae = sc.team.ae  # AE-sourced meetings: at most every selling hour spent prospecting
    ae_rate = ae.self_sourced_meetings_hour or {}
    if ae_rate:
        hours = (ae.count + sum(ae.hires)) * ae.selling_hours_week / 7.0 * sc.total_days
        terms[("team.ae.count", ae.count)] = hours * max(ae_rate.values())
    arrivals = sum(terms.values())
    held = min(rs.workers, sc.replications) if rs.executor.kind == "local" else 1
    parts: dict[tuple[str, float], float] = {
        k: v * BYTES_PER_ARRIVAL * held for k, v in terms.items()
    }
    for role in ("sdr", "ae", "csm"):
        r = getattr(sc.team, role)
        parts[(f"team.{role}.count", r.count)] = parts.get((f"team.{role}.count", r.count), 0.0) + (
            (r.count + sum(r.hires)) * BYTES_PER_PERSON * held
        )
    parts[("replications", sc.replications)] = float(sc.replications) * BYTES_PER_REPLICATION
    (key, value), _ = max(parts.items(), key=lambda kv: kv[1])
    if sc.total_days > LONG_DAYS and key not in ("replications",) and not key.startswith("team."):
        # arrivals scale with the simulated days: past a decade, name the window, not a rate
        key, value = max(("horizon_days", sc.horizon_days), ("warmup_days", sc.warmup_days),
                         key=lambda kv: kv[1])  # fmt: skip
    return SizeEstimate(BASE_BYTES + sum(parts.values()), key, value, arrivals)


def machine_memory() -> tuple[float, float]:
    """(total, available now) bytes of this machine's memory; available falls back to total."""
    total = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return total, float(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return total, total


def _gb(b: float) -> str:
    return f"{b / 1e9:,.1f} GB" if b < 1e15 else f"{b / 1e9:.1e} GB"


def check_size(sc: Scenario, rs: RunSettings) -> list[str]:
    """Refuse (ConfigError, one line) a run whose estimated memory exceeds this machine's memory;
    return warning lines for one above WARN_SHARE of what is available now, for capped workers, and
    for keys the chosen executor ignores."""
    est = size_estimate(sc, rs)
    total, avail = machine_memory()
    where = f"{est.key} = {est.value:g}"
    if est.bytes > total:
        raise ConfigError(
            f"config error: {where}: the run would need about {_gb(est.bytes)} of memory "
            f"({est.arrivals:.3g} arrivals a replication, {sc.replications:g} replications); this "
            f"machine has {_gb(total)}; allowed: a smaller value (docs/reliability.md)"
        )
    notes = []
    if est.bytes > WARN_SHARE * avail:
        notes.append(
            f"warning: {where}: the run may need about {_gb(est.bytes)} of memory, "
            f"{_gb(avail)} is free now (docs/reliability.md)"
        )
    n = effective_workers(sc, rs)
    if rs.executor.kind == "local" and n < rs.workers and rs.workers > QUIET_WORKERS:
        notes.append(
            f"note: workers = {rs.workers}: using {n} (at most one per replication and per CPU; "
            f"{sc.replications} replications, {cpu_count()} CPUs)"
        )
    if rs.executor.kind != "ray":
        for k in ("address", "replications_per_task"):
            if getattr(rs.executor, k) is not None:
                notes.append(
                    f"warning: executor.{k} = {getattr(rs.executor, k)!r}: used only by "
                    f"executor=ray; ignored by executor={rs.executor.kind}"
                )
    return notes


def cpu_count() -> int:
    """CPUs this process may use (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def effective_workers(sc: Scenario, rs: RunSettings) -> int:
    """Processes executor=local starts: `workers`, capped at the replications and the CPUs (more
    would only add memory and start-up time; results never depend on the worker count)."""
    return max(1, min(rs.workers, sc.replications, cpu_count()))
