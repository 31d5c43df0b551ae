"""Unit economics: channel budgets are money spent (docs/configuration.md#channels)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.model import simulate_replication

from .conftest import scenario


def _marketing(rec) -> float:
    c = rec.costs
    return float(c.loc[c.category == "marketing", "amount"].sum())


def _months(sc) -> int:
    return math.ceil(sc.total_days / (365.25 / 12))


def test_channel_cost_is_budget_times_months_exactly():
    """The default mix covers part of each channel's segments (paid search ~47 %); the whole
    budget is still spent: the cost line is the sum of the budgets x months."""
    sc = scenario()[0]
    rec = simulate_replication(sc, 0)
    budgets = sum(ch.budget_month for ch in sc.channels.values())
    assert _marketing(rec) == pytest.approx(budgets * _months(sc), rel=1e-12)


def test_doubling_a_budget_doubles_its_cost_line():
    base = scenario()[0]
    double = scenario("channels.paid_search.budget_month=300000")[0]
    a, b = simulate_replication(base, 0), simulate_replication(double, 0)
    assert _marketing(b) - _marketing(a) == pytest.approx(150000 * _months(base), rel=1e-12)


def test_a_channel_no_marketing_motion_covers_spends_nothing():
    """In a product-led-only company the channels have no motion to send leads to: no leads,
    no spend (docs/configuration.md#channels)."""
    rec = simulate_replication(scenario("motion=plg")[0], 0)
    assert _marketing(rec) == 0.0
    assert not (rec.leads.source == "paid_search").any()


def test_a_budget_play_spends_what_it_says():
    """A play that moves a budget month by month spends that path, whole."""
    sc = scenario(
        "+plays.more_search.start_day=30",
        "+plays.more_search.ramp_days=0",
        "+plays.more_search.changes=[{target: channels.paid_search.budget_month, scale: 2.0}]",
    )[0]
    from sim.motions import compile_motions
    from sim.plays import compile_plays

    book = compile_plays(sc, compile_motions(sc), _months(sc))
    path = book.monthly[("budget", "paid_search")]
    others = sum(ch.budget_month for k, ch in sc.channels.items() if k != "paid_search")
    rec = simulate_replication(sc, 0)
    assert _marketing(rec) == pytest.approx(float(np.sum(path)) + others * _months(sc), rel=1e-12)
    assert float(np.sum(path)) > sc.channels["paid_search"].budget_month * _months(sc)
