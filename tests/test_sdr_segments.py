"""SDR work by segment: outbound meetings per SDR-month, the contact probability and the attempt cap
each take one number for every segment or one per segment (team.sdr)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.model import simulate_replication
from sim.records import MONTH_DAYS

from .conftest import scenario

RATES = {"smb": 0.6, "mid": 0.3, "ent": 0.1}  # meetings per SDR-day: 18, 9 and 3 a month


def test_outbound_meetings_per_sdr_month_follow_the_setting_by_segment():
    """Sales-led only (SDRs prospect all the time), effort split evenly over the three segments.
    Meetings in a segment / (SDR FTE-months x 1/3) estimates the setting x 30.4; tolerance 4 Poisson
    standard errors of each segment's count (a few hundred meetings over 3 replications)."""
    rates = "{" + ", ".join(f"{k}: {v}" for k, v in RATES.items()) + "}"
    sc = scenario("motion=slg", "team.sdr.count=20", f"team.sdr.outbound_meetings_day={rates}")[0]
    assert len({sc.acquisition_weight(s, "slg") for s in sc.segments}) == 1  # even split
    meetings, fte_months = {s: 0 for s in RATES}, 0.0
    for rep in range(3):
        r = simulate_replication(sc, rep)
        out = r.leads[r.leads["source"] == "outbound"].groupby("segment")["leads"].sum()
        for s in RATES:
            meetings[s] += int(out.get(s, 0))
        st = r.columns["staff"]
        fte_months += float(np.sum(st["fte"][st["role"] == "sdr"]))
    for s, rate in RATES.items():
        n = meetings[s]
        per_sdr_month = n / (fte_months / 3)
        assert abs(per_sdr_month - rate * MONTH_DAYS) < 4 * per_sdr_month / math.sqrt(n), s


def test_the_default_company_books_fewer_enterprise_meetings_per_sdr_month():
    sdr = scenario()[0].team.sdr
    per_month = {s: v * MONTH_DAYS for s, v in sdr.outbound_meetings_day.items()}
    assert 12 <= per_month["smb"] <= 15 and 12 <= per_month["mid"] <= 15  # outbound band
    assert 4 <= per_month["ent"] <= 6  # enterprise band (shared/reference/benchmarks.md)


def test_contact_probability_by_segment():
    """Mid-market leads are never reached (p = 0): no mid-market marketing-led opportunities."""
    sc = scenario("motion=mlg", "team.sdr.contact_prob={smb: 1.0, mid: 0.0, ent: 1.0}")[0]
    opp = simulate_replication(sc, 0).opportunities
    assert (opp["segment"] == "mid").sum() == 0
    assert (opp["segment"] == "smb").sum() > 0 and (opp["segment"] == "ent").sum() > 0


def test_attempt_cap_by_segment():
    """Nobody answers (p = 0), so every lead costs its segment's cap in attempts: raising only the
    enterprise cap raises SDR time on inbound leads, on the same draws."""

    def sdr_days(caps: str) -> float:
        sc = scenario("motion=mlg", "team.sdr.contact_prob=0", f"team.sdr.max_attempts={caps}")[0]
        st = simulate_replication(sc, 0).columns["staff"]
        return float(np.nansum(st["sdr_inbound_days"][st["role"] == "sdr"]))

    low = sdr_days("{smb: 2, mid: 2, ent: 2}")
    assert sdr_days("2") == pytest.approx(low, rel=1e-12)  # a scalar is every segment's value
    assert sdr_days("{smb: 2, mid: 2, ent: 6}") > 1.05 * low
