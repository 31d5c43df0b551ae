"""AE selling time as capacity (sim.model.ae_hours): hours are conserved, overload slips and erodes
deals, more AEs sell more where AEs bind, and AE time left over sources pipeline of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import scalar_metrics
from sim.model import simulate_replication
from sim.model.world import World

from .conftest import scenario

NO_AE_SOURCING = "team.ae.self_sourced_meetings_hour=null"  # the default company's, said again


def _run(*overrides: str, r: int = 0, fast: bool = True):
    sc = scenario(*overrides, fast=fast)[0]
    return scalar_metrics(simulate_replication(sc, r), 0.78)


def _world(*overrides: str) -> World:
    w = World(scenario(*overrides)[0], 0)
    w.records = w.run()
    return w


@pytest.mark.parametrize("hours", ["{smb: 2.5, mid: 5, ent: 12}", "{smb: 20, mid: 40, ent: 90}"])
def test_hours_worked_never_exceed_the_hours_available_day_by_day_and_month_by_month(hours):
    w = _world(f"team.ae.deal_hours={hours}")
    cal = w.ae.hours
    cap, used = np.array(cal.cap), np.array(cal.used)
    assert used.sum() > 0
    assert (used <= cap + 1e-9).all()
    avail, worked = cal.monthly()
    assert (worked + cal.prospecting_hours <= avail + 1e-6).all()
    # every hour is available once: deals, prospecting or idle (the last day of the run is open)
    st = w.rec.ae_hours_available
    assert np.allclose(st, avail) and np.allclose(w.rec.ae_hours_worked, worked)
    # per-deal hours by motion and segment sum to the hours worked (cost attribution reads them)
    assert np.isclose(np.sum(cal.spent), used.sum())


def test_an_overloaded_team_works_every_hour_it_has():
    w = _world("team.ae.deal_hours={smb: 20, mid: 40, ent: 90}", "team.ae.count=4")
    avail, worked = w.ae.hours.monthly()
    # every month but the first (the pipeline fills up) and the last (deals book past it): no idle hour
    assert np.allclose(worked[1:-1], avail[1:-1], rtol=1e-6)


def test_zero_deal_hours_walk_the_stages_exactly_as_without_selling_time():
    """The per-stage walk with hours is the engine's walk when no hours are needed: same records."""
    # identical reps: a rep's productivity factor is spread over the AE stages one per stage with
    # selling hours, and put on a block's first stage with slots (the same total factor, split
    # differently, so the records would differ in when deals are lost)
    same = ("team.ae.productivity_cv=0", NO_AE_SOURCING)
    off = simulate_replication(scenario("team.ae.deal_hours=null", *same)[0], 0)
    zero = simulate_replication(
        scenario("team.ae.deal_hours={smb: 0, mid: 0, ent: 0}", *same)[0], 0
    )
    pd.testing.assert_frame_equal(off.opportunities, zero.opportunities)
    pd.testing.assert_frame_equal(off.funnel, zero.funnel)


def test_overloaded_aes_make_deals_wait_slip_and_lose():
    """Common random numbers (same seed and replication): only the hours a deal takes differ."""
    light = _run("team.ae.deal_hours={smb: 1, mid: 2, ent: 5}", NO_AE_SOURCING)
    heavy = _run("team.ae.deal_hours={smb: 10, mid: 20, ent: 50}", NO_AE_SOURCING)
    assert heavy["ae_utilization"] > 0.97 > light["ae_utilization"]
    assert heavy["ae_wait_days"] > light["ae_wait_days"] + 5
    assert heavy["win_rate"] < light["win_rate"]
    assert heavy["bookings"] < light["bookings"]


def test_more_aes_sell_more_when_aes_bind():
    """Fast version of the next test: in the AE-bound preset (short run), paired replications 0-2
    (same seeds) each gain from every AE added where AEs bind hardest (4 to 9)."""
    for r in range(3):
        b = [_run("company=ae_bound", f"team.ae.count={n}", r=r)["bookings"] for n in (4, 6, 9)]
        assert b[0] < b[1] < b[2]


def _paired_ci(x: np.ndarray) -> tuple[float, float]:
    """95 % t interval of the mean of paired differences x."""
    from scipy import stats

    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@pytest.mark.slow
def test_ae_bound_bookings_rise_with_aes_with_diminishing_returns():
    """company=ae_bound, the default horizon, 10 replications; 8, 12 and 16 AEs on common random
    numbers (same seed, replication by replication), so each difference is paired: the 95 % interval
    of each gain excludes zero, and so does that of (gain 8->12) - (gain 12->16)."""
    reps = range(10)
    b = {
        n: np.array(
            [
                _run("company=ae_bound", f"team.ae.count={n}", r=r, fast=False)["bookings"]
                for r in reps
            ]
        )  # fmt: skip
        for n in (8, 12, 16)
    }
    first, second = b[12] - b[8], b[16] - b[12]
    assert _paired_ci(first)[0] > 0
    assert _paired_ci(second)[0] > 0
    assert _paired_ci(first - second)[0] > 0


def test_ae_time_left_over_sources_pipeline_recorded_as_ae_outbound():
    on = _world("team.ae.self_sourced_meetings_hour={smb: 0.1, mid: 0.1, ent: 0.1}")
    leads = on.records.leads
    assert leads.loc[leads["source"] == "ae_outbound", "leads"].sum() > 0
    assert on.rec.ae_hours_prospecting.sum() > 0
    off = _world(NO_AE_SOURCING)
    assert off.rec.ae_hours_prospecting.sum() == 0
    # prospecting takes only hours no deal booked
    avail, worked = on.ae.hours.monthly()
    assert (worked + on.rec.ae_hours_prospecting <= avail + 1e-6).all()


def _ae_stage_days(*overrides: str) -> float:
    """Mean days an AE stage took, over the AE stages decided in the run."""
    f = simulate_replication(scenario(*overrides)[0], 0).funnel
    ae = f[f["owner"] == "ae"]
    return float(ae["stage_days"].sum() / (ae["advanced"] + ae["dropped"]).sum())


def test_without_erosion_overload_still_slips_the_stages():
    """Waits erode nothing (wait_decay_days huge): overload shows as longer AE stages (same seed;
    about 15 days light, 34 heavy)."""
    calm = "team.ae.wait_decay_days=1e12"
    light = _ae_stage_days("team.ae.deal_hours={smb: 1, mid: 2, ent: 5}", NO_AE_SOURCING, calm)
    heavy = _ae_stage_days("team.ae.deal_hours={smb: 10, mid: 20, ent: 50}", NO_AE_SOURCING, calm)
    assert heavy > 1.5 * light
