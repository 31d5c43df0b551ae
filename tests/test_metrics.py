"""Metric definitions on hand-made records, where every answer can be worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from sim.metrics import MONTH_DAYS, monthly_series, scalar_metrics
from sim.records import OPP_COLUMNS, TABLES, Records


def _records(opps, customers, costs, warmup=0.0, horizon=365.25):
    opp = pd.DataFrame(opps, columns=list(OPP_COLUMNS))
    opp["outcome"] = pd.Categorical(opp["outcome"], ["lost", "won", "open"])
    cust = pd.DataFrame(
        customers,
        columns=["customer_id", "segment", "motion", "start_day", "acv", "term_days", "churn_day"],
    )
    months = int(np.ceil((warmup + horizon) / MONTH_DAYS))
    staff = pd.DataFrame(
        {
            "role": ["ae"] * months,
            "month": range(months),
            "headcount": 1,
            "fte": 1.0,
            "capacity": 10.0,
            "sdr_inbound_days": 0.0,
            "sdr_prospecting_days": 0.0,
            "ae_slot_days": 5 * MONTH_DAYS,
        }
    )
    return Records.from_frames(
        opportunities=opp,
        customers=cust,
        funnel=pd.DataFrame(
            columns=[
                "motion",
                "stage_index",
                "stage",
                "owner",
                "month",
                "advanced",
                "dropped",
                "stage_days",
            ]
        ),
        leads=pd.DataFrame(
            {"motion": ["m"], "source": ["s"], "segment": ["mid"], "month": [0], "leads": [40]}
        ),
        costs=pd.DataFrame(costs, columns=["month", "category", "motion", "amount"]),
        staff=staff,
        waits={
            "sdr": np.array([0.5, 1.5, 9.0]),
            "sdr_at": np.array([10.0, 20.0, 400.0]),
            "ae": np.zeros(0),
            "ae_at": np.zeros(0),
        },
        warmup_days=warmup,
        horizon_days=horizon,
        motions=("m",),
        stages={"m": ("a",)},
        segments=("mid",),
    )


@pytest.fixture
def rec():
    opps = [
        (0, "new", "m", "mid", "s", "AE-1", 5.0, 10.0, 40.0, "a", "won", 12000.0, -1),  # cycle 30
        (1, "new", "m", "mid", "s", "AE-1", 15.0, 20.0, 80.0, "a", "won", 24000.0, -1),  # cycle 60
        (2, "new", "m", "mid", "s", "AE-1", 30.0, 30.0, 50.0, "a", "lost", 5000.0, -1),
        (3, "new", "m", "mid", "s", "AE-1", 30.0, 30.0, 90.0, "a", "lost", 5000.0, -1),
        (4, "new", "m", "mid", "s", "AE-1", 300.0, 300.0, np.nan, "a", "open", 9000.0, -1),
        (
            5,
            "new",
            "m",
            "mid",
            "s",
            "AE-1",
            350.0,
            350.0,
            400.0,
            "a",
            "won",
            9000.0,
            -1,
        ),  # after window
    ]
    customers = [
        (0, "mid", "installed_base", -100.0, 10000.0, 365.25, np.nan),
        (1, "mid", "installed_base", -50.0, 20000.0, 365.25, 200.0),
        (2, "mid", "m", 40.0, 12000.0, 365.25, np.nan),
        (3, "mid", "m", 80.0, 24000.0, 365.25, np.nan),
    ]
    costs = [(m, "ae", "shared", 1000.0) for m in range(12)] + [(0, "csm", "m", 99999.0)]
    return _records(opps, customers, costs)


def test_win_rate_is_won_over_won_plus_lost_closed_in_the_window(rec):
    assert scalar_metrics(rec, 0.8)["win_rate"] == pytest.approx(2 / 4)


def test_cycle_days_is_the_median_close_minus_creation_of_won_deals(rec):
    m = scalar_metrics(rec, 0.8)
    assert m["cycle_days"] == pytest.approx(45.0)
    assert m["cycle_days_mean"] == pytest.approx(45.0)


def test_lead_to_close_is_the_median_close_minus_lead_creation_of_won_deals(rec):
    assert scalar_metrics(rec, 0.8)["lead_to_close_days"] == pytest.approx(50.0)


def test_cac_is_sales_and_marketing_cost_over_new_customers(rec):
    m = scalar_metrics(rec, 0.8)
    assert m["cac"] == pytest.approx(12 * 1000.0 / 2)  # CSM cost is not acquisition cost
    new_mrr = (12000 + 24000) / 2 / 12
    assert m["cac_payback_months"] == pytest.approx(6000 / (new_mrr * 0.8))


def test_without_cost_data_the_cost_metrics_are_missing_not_zero(rec):
    known, unknown = scalar_metrics(rec, 0.8), scalar_metrics(rec, 0.8, costs_known=False)
    for k in known:
        if k.split(".")[0] in ("cac", "cac_payback_months", "ltv_to_cac", "sm_cost", "clv") or (
            k in ("clv_steady_state", "clv_in_horizon")
        ):
            assert math.isnan(unknown[k]), k
        else:
            assert unknown[k] == known[k] or (math.isnan(unknown[k]) and math.isnan(known[k])), k


def test_bookings_arr_and_retention(rec):
    m = scalar_metrics(rec, 0.8)
    assert m["bookings"] == pytest.approx(36000.0)
    assert m["arr_end"] == pytest.approx(10000 + 12000 + 24000)
    # cohort at the window start: customers 0 and 1 (30,000 ARR); customer 1 churns
    assert m["nrr"] == pytest.approx(10000 / 30000)
    assert m["grr"] == pytest.approx(10000 / 30000)
    assert m["logo_churn"] == pytest.approx(0.5)


def test_waits_count_only_inside_the_window(rec):
    assert scalar_metrics(rec, 0.8)["sdr_wait_days"] == pytest.approx(1.0)


def test_utilisation_is_busy_over_capacity(rec):
    assert scalar_metrics(rec, 0.8)["ae_utilization"] == pytest.approx(0.5)


def test_sdr_utilisation_counts_inbound_and_prospecting_work(rec):
    """2 SDRs for a whole window: 10 % of their days on inbound leads, 60 % prospecting."""
    st = rec.columns["staff"]
    n = len(st["month"])
    sdr = {
        "role": np.array(["sdr"] * n, dtype=object),
        "month": st["month"],
        "headcount": np.full(n, 2),
        "fte": np.full(n, 2.0),
        "capacity": np.full(n, 2.0),
        "sdr_inbound_days": np.full(n, 0.2 * MONTH_DAYS),
        "sdr_prospecting_days": np.full(n, 1.2 * MONTH_DAYS),
        "ae_slot_days": np.zeros(n),
    }
    rec.columns["staff"] = {k: np.concatenate([st[k], sdr[k]]) for k in st}
    m = scalar_metrics(rec, 0.8)
    assert m["sdr_inbound_share"] == pytest.approx(0.1)
    assert m["sdr_prospecting_share"] == pytest.approx(0.6)
    assert m["sdr_utilization"] == pytest.approx(0.7)


def test_monthly_bookings_sum_to_window_bookings(rec):
    ms = monthly_series(rec)
    assert len(ms) == 12
    assert ms["bookings"].sum() == pytest.approx(36000.0)
    assert ms.loc[11, "arr"] == pytest.approx(46000.0)


def test_a_metric_without_data_is_nan():
    r = _records([], [], [])
    m = scalar_metrics(r, 0.8)
    assert np.isnan(m["win_rate"]) and np.isnan(m["cac"]) and np.isnan(m["nrr"])


def test_metrics_read_the_columns_and_build_no_dataframe(fast_scenario):
    from sim.metrics import funnel_counts
    from sim.model import simulate_replication

    rec = simulate_replication(fast_scenario, 0)
    scalar_metrics(rec, 0.8), monthly_series(rec), funnel_counts(rec)
    built = {"opportunities", "customers", "funnel", "leads", "costs", "staff", "open_at_end"}
    assert not built & set(vars(rec))  # DataFrames are built only when a consumer asks


def test_metrics_of_records_and_of_their_dataframes_agree(fast_scenario):
    """The columnar records and the labelled tables they turn into are the same facts: every metric
    computed from either agrees (to the last bits of a sum)."""
    from sim.metrics import funnel_counts
    from sim.model import simulate_replication

    rec = simulate_replication(fast_scenario, 0)
    tables = TABLES
    keep = (
        "waits",
        "warmup_days",
        "horizon_days",
        "motions",
        "stages",
        "segments",
        "owners",
        "ae_hours_per_day",
        "play_targets",
        "sdr_days_per_meeting",
        "ae_hour_cost",
    )
    again = Records.from_frames(
        **{t: getattr(rec, t) for t in tables}, **{k: getattr(rec, k) for k in keep}
    )
    a, b = scalar_metrics(rec, 0.8), scalar_metrics(again, 0.8)
    assert a.keys() == b.keys()
    for k in a:  # the same arithmetic on the same columns: equal to the last bit
        assert a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])), k
    pd.testing.assert_frame_equal(monthly_series(rec), monthly_series(again))
    pd.testing.assert_frame_equal(funnel_counts(rec), funnel_counts(again))
