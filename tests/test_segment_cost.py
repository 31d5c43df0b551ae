"""Per-segment cost rates: an enterprise lead costs more than an SMB one (`channels.<c>.segment_cost`)
and an hour on an enterprise deal costs more than one on an SMB deal (`team.ae.hour_cost`). Both
only move where money is attributed (docs/metrics.md#cost-attribution): the leads, the deals and
the total cost stay exactly as they were."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.metrics import S_AND_M, attributed_costs, month_weights
from sim.model import simulate_replication

from .conftest import scenario

CHANNELS = ("paid_search", "content", "events")


def _by_segment(rec) -> np.ndarray:
    """Attributed S&M cost of the window, (categories, segments)."""
    lo, hi = rec.window
    n = int(rec.columns["staff"]["month"].max()) + 1
    return attributed_costs(rec, month_weights(n, lo, hi)).sum(axis=1)


def _marketing_by_segment(rec) -> np.ndarray:
    c = rec.columns["costs"]
    mk = c["category"] == "marketing"
    return np.bincount(c["segment"][mk], weights=c["amount"][mk], minlength=len(rec.segments))


def test_an_enterprise_lead_costing_more_moves_spend_not_leads():
    """segment_cost.ent 10 (the default company) against 1 (neutral) on the same seed: the same
    leads, the same total spend to the cent, and the enterprise share of spend as the rule says
    (leads x cost: for events, mix 0.1/0.5/0.4, the enterprise share goes from 0.4 to 4/4.6)."""
    neutral = [f"channels.{c}.segment_cost.ent=1" for c in CHANNELS]
    a = simulate_replication(scenario(*neutral)[0], 0)
    b = simulate_replication(scenario()[0], 0)
    assert a.leads.equals(b.leads)
    assert a.opportunities.equals(b.opportunities)
    ma, mb = _marketing_by_segment(a), _marketing_by_segment(b)
    assert mb.sum() == pytest.approx(ma.sum(), rel=1e-12)
    ent = a.segments.index("ent")
    assert mb[ent] > 2 * ma[ent]
    # one channel alone, so the share can be checked against the rule
    only = [f"channels.{c}.budget_month=0" for c in ("paid_search", "content")]
    sc = scenario(*only)[0]
    m = _marketing_by_segment(simulate_replication(sc, 0))
    ch, marketing = (
        sc.channels["events"],
        [k for k, v in sc.motions.items() if v.entry == "marketing"],
    )
    cover = {  # leads x cost of each segment, over the marketing-entry motions that serve it
        s: ch.segment_mix.get(s, 0)
        * ch.segment_cost.get(s, 1)
        * sum(sc.acquisition_weight(s, k) for k in marketing)
        for s in sc.segments
    }
    assert m[ent] / m.sum() == pytest.approx(cover["ent"] / sum(cover.values()), rel=1e-9)


def test_an_enterprise_hour_costing_more_moves_ae_pay_not_its_total():
    """hour_cost {ent: 2.6, mid: 1.4} (the default company) against none: AE pay attributed to
    enterprise rises, the AE total and every other category stay; all 1 equals none to the float."""
    base = simulate_replication(scenario("team.ae.hour_cost=null")[0], 0)
    ones = simulate_replication(scenario("team.ae.hour_cost={smb: 1, mid: 1, ent: 1}")[0], 0)
    dear = simulate_replication(scenario()[0], 0)
    a, o, d = _by_segment(base), _by_segment(ones), _by_segment(dear)
    np.testing.assert_array_equal(a, o)
    ae, ent = S_AND_M.index("ae"), base.segments.index("ent")
    assert d[ae].sum() == pytest.approx(a[ae].sum(), rel=1e-12)
    assert d.sum() == pytest.approx(a.sum(), rel=1e-12)
    assert d[ae, ent] > a[ae, ent] * 1.1
    assert math.isclose(d[S_AND_M.index("marketing")].sum(), a[S_AND_M.index("marketing")].sum())
