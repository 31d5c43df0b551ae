"""What is known about each metric, in one place: its label, unit, good direction, number format and
whether it is a headline. The report, the figures, the sweep figures and the comparisons read it.

Names are those sim.metrics produces (docs/metrics.md defines them); a breakdown such as `cac.plg` or
`bookings.segment.smb` is described by its base metric, the name before the first dot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Fmt = Literal["pct", "money", "count", "num"]


@dataclass(frozen=True)
class Metric:
    """One metric: `label` for titles, `unit` in words, `direction` +1 when higher is better, -1 when
    lower is, None when neither (a cost, a utilisation); `fmt` how its values print (pct 26.1%, money
    $1.25M, count 1,234, num 12.35); `headline` for the four the distribution figure shows."""

    name: str
    label: str
    unit: str
    direction: int | None
    fmt: Fmt = "num"
    headline: bool = False


_ALL = (
    Metric("win_rate", "Win rate", "share of closed opportunities won", 1, "pct", True),
    Metric("cycle_days", "Won-deal cycle, median (days)", "days", -1, "num", True),
    Metric("cac", "CAC", "$ per new customer", -1, "money", True),
    Metric("clv", "CLV", "$ per customer", 1, "money", True),
    Metric("cycle_days_mean", "Won-deal cycle, mean (days)", "days", -1),
    Metric("lead_to_close_days", "Lead to close (days)", "days", -1),
    Metric("cac_payback_months", "CAC payback (months)", "months", -1),
    Metric("ltv_to_cac", "LTV:CAC", "ratio", 1),
    Metric("clv_in_horizon", "CLV earned in the window", "$ per customer", 1, "money"),
    Metric(
        "clv_steady_state",
        "CLV, steady state (ARPA x margin / churn)",
        "$ per customer",
        1,
        "money",
    ),
    Metric("bookings", "Bookings in the window", "$", 1, "money"),
    Metric("bookings_new", "New-logo bookings", "$", 1, "money"),
    Metric("bookings_expansion", "Expansion bookings", "$", 1, "money"),
    Metric("arr_end", "ARR at the end of the window", "$", 1, "money"),
    Metric("arpa_month", "ARPA per month", "$ per account", 1, "money"),
    Metric("sm_cost", "S&M cost", "$", None, "money"),
    Metric("new_customers", "New customers in the window", "customers", 1, "count"),
    Metric("customers_end", "Customers at the end", "customers", 1, "count"),
    Metric("leads", "Leads", "leads", 1, "count"),
    Metric("nrr", "Net revenue retention", "share of starting ARR", 1, "pct"),
    Metric("grr", "Gross revenue retention", "share of starting ARR", 1, "pct"),
    Metric("logo_churn", "Logo churn", "share of customers", -1, "pct"),
    Metric("logo_churn_month", "Logo churn a month", "share of customers a month", -1),
    Metric("sdr_wait_days", "SDR wait (speed to lead, days)", "days", -1),
    Metric("ae_wait_days", "Wait for an AE (days)", "days", -1),
    Metric("sdr_waited_share", "Leads that waited for an SDR", "share of leads", -1),
    Metric("sdr_queue_length", "SDR queue length", "leads", -1),
    Metric("sdr_served_per_day", "Leads served a day", "leads a day", None),
    Metric("ae_utilization", "AE capacity in use", "share of hours (or slots)", None, "pct"),
    Metric(
        "sdr_utilization", "SDR time working (inbound + prospecting)", "share of time", None, "pct"
    ),
    Metric("sdr_inbound_share", "SDR time on inbound leads", "share of time", None, "pct"),
    Metric("sdr_prospecting_share", "SDR time prospecting", "share of time", None, "pct"),
    Metric("sla_met_share", "Leads contacted within the SLA", "share of leads", 1),
    Metric("ae_prospecting_share", "AE time prospecting", "share of selling hours", None, "pct"),
    Metric(
        "quota_attainment", "AE quota attainment, median rep", "bookings / ramped quota", 1, "pct"
    ),
    Metric("share_at_quota", "AEs at quota", "share of AEs with quota", 1, "pct"),
)
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
HEADLINE = tuple(m.name for m in _ALL if m.headline)


def metric(name: str) -> Metric | None:
    """The entry of a metric or of a breakdown of it (`cac.plg` -> cac); None if unregistered."""
    return METRICS.get(name.split(".")[0])


def good_direction(name: str) -> int | None:
    """+1 if higher is better, -1 if lower is better, None if the metric has no good direction."""
    m = metric(name)
    return None if m is None else m.direction


def fmt(name: str) -> Fmt:
    """How values of `name` print ('num' for an unregistered name)."""
    m = metric(name)
    return "num" if m is None else m.fmt


def label(name: str) -> str:
    """The title of `name` in figures (the name itself when unregistered)."""
    m = metric(name)
    return name if m is None else m.label
