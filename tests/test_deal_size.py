"""Deal size and price (docs/model.md#deal-size-and-price): a deal's ACV is drawn when its lead is
born, from its own stream; larger deals win less and take longer at every AE stage; a discount
trades ACV for win rate."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from sim.experiment import run_replication
from sim.model.world import World, simulate_replication

from .conftest import scenario

BLIND = [
    f"segments.{s}.size_elasticity.{k}=0" for s in ("smb", "mid", "ent") for k in ("win", "days")
]
REPS = 8  # paired replications of the default company on common random numbers (same seed 42)


def _paired(base: tuple[str, ...], alt: tuple[str, ...], keys: list[str]) -> dict[str, tuple]:
    """Mean paired difference alt - base of each metric and its 95 % t interval (REPS - 1 df)."""
    a, b = scenario(*base, fast=False)[0], scenario(*alt, fast=False)[0]
    diffs = {k: [] for k in keys}
    for r in range(REPS):
        ma, mb = run_replication(a, r).metrics, run_replication(b, r).metrics
        for k in keys:
            diffs[k].append(mb[k] - ma[k])
    out = {}
    for k, d in diffs.items():
        d = np.asarray(d)
        h = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        out[k] = (d.mean() - h, d.mean() + h)
    return out


def test_the_size_and_price_factors_follow_the_elasticities():
    """Amount = list x (1 - discount); AE odds x (list/ref)^win x (1 - discount)^-e; days x
    (list/ref)^days, for drawn and for seat-priced ACVs."""
    sc, _ = scenario("pricing.discount=0.2", "pricing.discount_win_elasticity=0.5")
    w = World(sc, 0)
    mid = sc.segments["mid"]
    for cm in w.motions:
        if cm.entry not in ("marketing", "product"):
            continue
        seg = np.array([0, 1, 2, 1])
        seats = np.array([30.0, 5.0, 400.0, 40.0])
        value, odds, days = w.deal_size.batch(cm, "test", seg, seats)
        acv = value / 0.8
        if cm.acv == "seats":
            assert np.allclose(acv, seats * sc.product.price_per_seat_month * 12)
        x = acv[1] / mid.acv_ref
        assert math.isclose(odds[1], x**mid.size_elasticity.win * 0.8**-0.5)
        assert math.isclose(days[1], x**mid.size_elasticity.days)


def test_a_deals_amount_follows_its_lead_not_the_order_of_events():
    """Common random numbers: a marketing lead's ACV is drawn at birth from its own stream, so with
    twice the content budget (other leads, interleaved with these at the AEs) every paid-search
    opportunity born of the same lead has the same amount. (Drawn at close from one pool per
    motion, in event order, the content deals would take some of these draws.)"""
    base = scenario("motion=mlg", *BLIND)[0]
    more = scenario("motion=mlg", "channels.content.budget_month=96000", *BLIND)[0]
    a, b = simulate_replication(base, 0).opportunities, simulate_replication(more, 0).opportunities
    assert len(b) > len(a)
    a, b = (o[(o["type"] == "new") & (o["source"] == "paid_search")] for o in (a, b))
    j = a.merge(b, on="lead_day", suffixes=("_a", "_b"))
    assert len(j) > 50
    assert (j["segment_a"] == j["segment_b"]).all()
    assert np.array_equal(j["amount_a"].to_numpy(), j["amount_b"].to_numpy())


def test_zero_elasticities_are_size_blind():
    """With both elasticities 0 and no discount, ACV +20 % changes no opportunity's fate or timing,
    and every amount scales by exactly 1.2 (a lognormal's draw scales with its mean)."""
    a = scenario(*BLIND)[0]
    b = scenario(*BLIND, "segments.mid.acv.mean=33600", "segments.mid.acv_ref=23000")[0]
    oa, ob = simulate_replication(a, 0).opportunities, simulate_replication(b, 0).opportunities
    for col in ("segment", "stage", "outcome"):
        assert (oa[col] == ob[col]).all(), col
    for col in ("lead_day", "created_day", "closed_day"):
        x, y = oa[col].to_numpy(dtype=float), ob[col].to_numpy(dtype=float)
        assert np.array_equal(x, y, equal_nan=True), col
    mid = (oa["segment"] == "mid").to_numpy() & (oa["type"] == "new").to_numpy()
    mid &= (oa["motion"] != "plg").to_numpy()
    assert mid.sum() > 20
    assert np.allclose(ob["amount"].to_numpy()[mid] / oa["amount"].to_numpy()[mid], 1.2)


def test_larger_mid_deals_win_less_and_take_longer():
    """The default company, mid ACV mean +/-20 % (acv_ref fixed): paired on common random numbers,
    the 95 % interval of the change in mid win rate and mid cycle excludes 0, in opposite
    directions; other segments' deals are not moved."""
    keys = ["win_rate.segment.mid", "cycle_days.segment.mid"]
    up = _paired((), ("segments.mid.acv.mean=33600",), keys)
    down = _paired((), ("segments.mid.acv.mean=22400",), keys)
    assert up["win_rate.segment.mid"][1] < 0 < down["win_rate.segment.mid"][0]
    assert down["cycle_days.segment.mid"][1] < 0 < up["cycle_days.segment.mid"][0]


def test_a_discount_trades_acv_for_win_rate():
    """pricing.discount 0.2 vs 0 (default company, paired, 95 % t intervals): win rate and new
    customers rise, the mean new deal's ACV falls, and at the default discount_win_elasticity 0.5
    new bookings fall (measured: about -10 %)."""
    keys = ["win_rate", "new_customers", "bookings_new", "acv_new"]
    a, b = scenario(fast=False)[0], scenario("pricing.discount=0.2", fast=False)[0]
    d = {k: [] for k in keys}
    for r in range(REPS):
        ma, mb = run_replication(a, r).metrics, run_replication(b, r).metrics
        ma["acv_new"] = ma["bookings_new"] / ma["new_customers"]
        mb["acv_new"] = mb["bookings_new"] / mb["new_customers"]
        for k in keys:
            d[k].append(mb[k] - ma[k])
    ci = {}
    for k, v in d.items():
        v = np.asarray(v)
        h = stats.t.ppf(0.975, REPS - 1) * v.std(ddof=1) / math.sqrt(REPS)
        ci[k] = (v.mean() - h, v.mean() + h)
    assert ci["win_rate"][0] > 0
    assert ci["new_customers"][0] > 0
    assert ci["acv_new"][1] < 0
    assert ci["bookings_new"][1] < 0
