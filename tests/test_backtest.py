"""The open-pipeline warm start, the backtest's output and coverage, and the naive baselines.

Statistical checks use a tolerance of 4 standard errors of the estimate (a correct engine fails one
about once in 16,000 runs), with the standard error from the analytic distribution.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.calibrate import backtest, baselines, scoring
from sim.calibrate.importer import table as crm_table
from sim.config import ConfigError, load_scenario
from sim.model import simulate_replication
from sim.open_pipeline import conditional_win, log_survival
from tests.test_html_report import self_contained

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
Z = 4.0


def deal_scenario(deals, stages=None, scale=1.0, opp_from="deal") -> dict:
    """One segment, no new arrivals, a motion whose deal stage is worked without contention."""
    stages = stages or {
        "deal": {
            "owner": "ae",
            "p": 0.4,
            "days": {"dist": "gamma", "mean": 30, "cv": 0.8},
            "days_lost": {"dist": "gamma", "mean": 10, "cv": 1.2},
        }
    }
    return {
        "seed": 3,
        "replications": 1,
        "horizon_days": 20000,
        "warmup_days": 0,
        "segments": {
            "a": {
                "acv": {"dist": "fixed", "mean": 100, "cv": 0},
                "churn_month": 0,
                "cycle_scale": scale,
            }
        },
        "channels": {
            "c": {
                "budget_month": 1,
                "ref_budget_month": 1,
                "leads_month": 0,
                "segment_mix": {"a": 1},
            }
        },
        "product": {"segment_mix": {"a": 1}},
        "motions": {"m": {"entry": "marketing", "opportunity_from": opp_from, "stages": stages}},
        "mix": {"a": {"m": 1}},
        "open_pipeline": deals,
    }


def gamma(mean: float, cv: float):
    k = 1 / cv**2
    return stats.gamma(k, scale=mean / k)


# -- warm start -------------------------------------------------------------------------------------
def test_warm_start_runs_when_the_lost_time_has_no_spread():
    """A fitted lost time with cv 0 (same-day losses at day resolution) once crashed the warm start
    (ZeroDivisionError in the quantile map); such deals still close, and as lost or won."""
    stages = {
        "deal": {
            "owner": "ae",
            "p": 0.4,
            "days": {"dist": "gamma", "mean": 30, "cv": 0.8},
            "days_lost": {"dist": "gamma", "mean": 0.5, "cv": 0.0},
        }
    }
    deals = [{"segment": "a", "stage": "deal", "age_days": a} for a in (0.2, 3.0, 40.0)] * 50
    opp = simulate_replication(load_scenario(deal_scenario(deals, stages)), 0).opportunities
    assert len(opp) == 150 and set(opp["outcome"].unique()) == {"won", "lost"}


def test_warm_start_draws_outcome_and_remaining_time_given_the_age():
    """P(win | open at age a) = p S_won(a) / (p S_won(a) + (1-p) S_lost(a)); remaining time of each
    outcome is T - a with T | T > a, on the segment's cycle_scale."""
    n, age, scale = 3000, 20.0, 1.5
    sc = load_scenario(
        deal_scenario([{"segment": "a", "stage": "deal", "age_days": age}] * n, scale=scale)
    )
    opp = simulate_replication(sc, 0).opportunities
    assert len(opp) == n and (opp["source"] == "open_pipeline").all()
    assert np.allclose(opp["created_day"], -age)
    won_d, lost_d, a = gamma(30, 0.8), gamma(10, 1.2), age / scale
    p = 0.4 * won_d.sf(a) / (0.4 * won_d.sf(a) + 0.6 * lost_d.sf(a))
    share = (opp["outcome"] == "won").mean()
    assert abs(share - p) < Z * math.sqrt(p * (1 - p) / n), (share, p)
    for outcome, d in (("won", won_d), ("lost", lost_d)):
        rest = opp.loc[opp["outcome"] == outcome, "closed_day"].to_numpy()
        m = scale * d.expect(lambda x: x - a, lb=a, conditional=True)
        sd = scale * math.sqrt(
            d.expect(lambda x: (x - a) ** 2, lb=a, conditional=True) - (m / scale) ** 2
        )
        assert abs(rest.mean() - m) < Z * sd / math.sqrt(len(rest)), (outcome, rest.mean(), m)
        assert rest.min() > 0


def test_warm_start_is_memoryless_for_exponential_durations():
    """With exponential won and lost times of equal mean, age changes nothing: P(win) = p and the
    remaining time is exponential with the same mean, whatever the age."""
    stages = {"deal": {"owner": "ae", "p": 0.3, "days": {"dist": "exponential", "mean": 25}}}
    n = 5000
    sc = load_scenario(
        deal_scenario([{"segment": "a", "stage": "deal", "age_days": 200.0}] * n, stages)
    )
    opp = simulate_replication(sc, 0).opportunities
    share = (opp["outcome"] == "won").mean()
    assert abs(share - 0.3) < Z * math.sqrt(0.3 * 0.7 / n)
    assert abs(opp["closed_day"].mean() - 25) < Z * 25 / math.sqrt(n)


def test_conditional_win_formula_matches_unconditional_draws():
    """The closed form against brute force: draw outcome and duration, keep deals open at age a."""
    rng = np.random.default_rng(7)
    p, a, n = 0.35, 15.0, 400_000
    won_d, lost_d = gamma(40, 0.6), gamma(12, 1.0)
    won = rng.random(n) < p
    t = np.where(won, won_d.rvs(n, random_state=rng), lost_d.rvs(n, random_state=rng))
    alive = t > a
    brute = won[alive].mean()
    from sim.config import Dist

    lw = log_survival(Dist(dist="gamma", mean=40, cv=0.6), np.array([a]))
    ll = log_survival(Dist(dist="gamma", mean=12, cv=1.0), np.array([a]))
    exact = float(conditional_win(np.array([p]), lw, ll)[0])
    assert abs(brute - exact) < Z * math.sqrt(exact * (1 - exact) / alive.sum())


@pytest.mark.parametrize("queue", [None, "ae"])
def test_warm_deal_goes_on_through_later_stages(queue):
    """A deal in the first of two stages must also pass the second: P(won) = P(pass 1 | a) x p2 =
    0.5 x 0.6 (exponential times: age changes nothing), walked in numpy or, when the stages queue
    for an AE slot, in simpy."""
    stages = {
        "deal": {"owner": "ae", "p": 0.5, "days": {"dist": "exponential", "mean": 10}},
        "close": {"owner": "ae", "p": 0.6, "days": {"dist": "exponential", "mean": 5}},
    }
    n = 3000 if queue is None else 800
    if queue:
        for st in stages.values():
            st["queue"] = queue
    rows = [{"segment": "a", "stage": "deal", "age_days": 3.0}] * n
    sc = deal_scenario(rows, stages)
    sc["team"] = {"ae": {"count": 4, "max_open_opps": 250, "backfill": False,
                         "tenure_months": {"dist": "fixed", "mean": 1000, "cv": 0}}}  # fmt: skip
    opp = simulate_replication(load_scenario(sc), 0).opportunities
    share = (opp["outcome"] == "won").mean()
    assert abs(share - 0.3) < Z * math.sqrt(0.3 * 0.7 / n)
    assert set(opp.loc[opp["outcome"] == "lost", "stage"]) == {"deal", "close"}
    assert (opp["owner"] != "self-serve").all() if queue else (opp["owner"] == "self-serve").all()


def test_deal_without_a_motion_gets_one_drawn_given_its_age():
    """Two classes of deal, fast (mean 5 days) and slow (mean 50), half each: a deal open for 30
    days is fast with posterior e^-6 / (e^-6 + e^-0.6) = 0.45 %; a new one (age 0) half the time."""
    sc = deal_scenario([])
    fast = {"deal": {"owner": "ae", "p": 0.5, "days": {"dist": "exponential", "mean": 5}}}
    slow = {"deal": {"owner": "ae", "p": 0.5, "days": {"dist": "exponential", "mean": 50}}}
    sc["motions"] = {
        "fast": {"entry": "marketing", "opportunity_from": "deal", "stages": fast},
        "slow": {"entry": "marketing", "opportunity_from": "deal", "stages": slow},
    }
    sc["mix"] = {"a": {"fast": 0.5, "slow": 0.5}}
    n = 4000
    sc["open_pipeline"] = [{"segment": "a", "stage": "deal", "age_days": 30.0}] * n + [
        {"segment": "a", "stage": "deal", "age_days": 0.0}
    ] * n
    opp = simulate_replication(load_scenario(sc), 0).opportunities
    old = opp[opp["created_day"] == -30.0]
    new = opp[opp["created_day"] == 0.0]
    p_old = math.exp(-6) / (math.exp(-6) + math.exp(-0.6))
    share_old = (old["motion"] == "fast").mean()
    assert abs(share_old - p_old) < Z * math.sqrt(p_old * (1 - p_old) / n) + 1 / n
    assert abs((new["motion"] == "fast").mean() - 0.5) < Z * math.sqrt(0.25 / n)


def test_known_amount_is_kept_and_missing_amount_drawn_from_the_segment():
    rows = [
        {"segment": "a", "stage": "deal", "age_days": 1.0, "amount": 777.0},
        {"segment": "a", "stage": "deal", "age_days": 1.0},
    ]
    opp = simulate_replication(load_scenario(deal_scenario(rows)), 0).opportunities
    assert sorted(opp["amount"]) == [100.0, 777.0]


def test_open_pipeline_file_is_read_and_bad_rows_name_file_line_and_column(tmp_path):
    good = tmp_path / "pipe.csv"
    good.write_text(
        "segment,stage,age_days,amount,opportunity_id\r\na,deal,5,,X1\r\na,deal,0,250,X2\r\n"
    )
    sc = load_scenario(deal_scenario(str(good)))
    assert [d.age_days for d in sc.open_pipeline] == [5.0, 0.0]
    assert sc.open_pipeline[1].amount == 250.0
    bad = tmp_path / "bad.csv"
    bad.write_text("segment,stage,age_days\na,deal,5\na,deal,soon\n")
    with pytest.raises(ConfigError) as e:
        load_scenario(deal_scenario(str(bad)))
    msg = str(e.value)
    assert msg.count("\n") == 0 and "bad.csv, line 3, column age_days" in msg and "'soon'" in msg
    missing = tmp_path / "missing.csv"
    missing.write_text("segment,age_days\na,5\n")
    with pytest.raises(ConfigError, match=r"missing.csv: column\(s\) \['stage'\] missing"):
        load_scenario(deal_scenario(str(missing)))
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("segment,stage,age_days\na,negotiate,5\n")
    with pytest.raises(ConfigError, match=r"unknown.csv, line 2\): stage = 'negotiate'"):
        load_scenario(deal_scenario(str(unknown)))
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario(deal_scenario(str(tmp_path / "nope.csv")))


def test_inline_rows_are_checked_against_segments_and_stages():
    with pytest.raises(ConfigError, match=r"open_pipeline row 1: segment = 'zz': no such segment"):
        load_scenario(deal_scenario([{"segment": "zz", "stage": "deal", "age_days": 1}]))
    with pytest.raises(ConfigError, match=r"open_pipeline.0.age_days = -1"):
        load_scenario(deal_scenario([{"segment": "a", "stage": "deal", "age_days": -1}]))


# -- naive baselines ---------------------------------------------------------------------------------
def tiny_table() -> pd.DataFrame:
    """Eight deals around a cutoff of 2021-03-31 (see test_naive_baselines_on_a_hand_checked_table)."""
    rows = [
        ("1", "2020-12-01", "2021-02-10", "won", 100.0),  # 71 days
        ("2", "2021-01-05", "2021-02-01", "lost", np.nan),
        (
            "3",
            "2021-03-05",
            "2021-03-20",
            "won",
            200.0,
        ),  # 15 days, created and won in the last period
        ("4", "2021-03-10", None, "open", np.nan),  # open, age 21
        (
            "5",
            "2021-02-20",
            "2021-04-10",
            "won",
            300.0,
        ),  # open at the cutoff, age 39; wins in horizon
        ("6", "2020-10-01", None, "open", np.nan),  # open, age 181: stale
        ("7", "2021-04-05", "2021-04-20", "won", 50.0),  # created after the cutoff
        ("8", "2021-03-15", "2021-03-25", "lost", np.nan),
    ]
    df = pd.DataFrame(rows, columns=["opportunity_id", "created", "closed", "outcome", "amount"])
    df["created"] = pd.to_datetime(df["created"])
    df["closed"] = pd.to_datetime(df["closed"])
    df["segment"] = "A"
    return crm_table(df)


def test_naive_baselines_on_a_hand_checked_table():
    """Win rate 2 won / (2 won + 2 lost) = 0.5; stale after P90 of (71, 15) = 65.4 days, so deals 4
    and 5 are live and 6 is not: pipeline 0.5 x 2 = 1 deal, 0.5 x (150 + 150) = 150 (mean won value
    150; deal 5's close value is not known at the cutoff). Run-rate: deal 3, created and won in
    (03-01, 03-31]: 1 deal, 200. Last period: deal 3. Actual in (03-31, 04-30]: deals 5 and 7."""
    opp, c = tiny_table(), "2021-03-31"
    assert baselines.stage_weighted(opp, c, 30) == {"won_deals": 2.0, "won_value": 350.0}
    assert baselines.same_as_last_period(opp, c, 30) == {"won_deals": 1.0, "won_value": 200.0}
    assert baselines.actuals(opp, c, 30) == {"won_deals": 2.0, "won_value": 350.0}


def test_naive_pipeline_without_recorded_losses_uses_conversion_of_old_deals():
    """No losses in the file: win rate = won / created among deals at least P90 days old (65.4):
    deals 1, 2 and 6, of which 1 won, so 1/3. Live pipeline (open, at most 65.4 days old): 4, 5 and
    8 (deal 2 is open too here, but older). 3 x 1/3 plus the run-rate of 1."""
    opp = tiny_table()
    lost = opp["outcome"] == "lost"
    opp.loc[lost, "outcome"] = "open"
    opp.loc[lost, ["close_date", "closed_day"]] = [pd.NaT, np.nan]
    got = baselines.stage_weighted(opp, "2021-03-31", 30)
    assert got["won_deals"] == pytest.approx(3 * (1 / 3) + 1.0)


def test_naive_distributions_on_the_hand_checked_table():
    """Same table, cutoff 2021-03-31, 30 days. Last period: deal 3 (1 won, 200). The Poisson band:
    N ~ Poisson(1), each draw's value 200 N. The stage-weighted band: Binomial(2, 0.5) live deals
    (4 and 5, 150 each) plus a Poisson(1) run-rate of deal 3's 200; its mean is the point (2 deals,
    350). Seasonal naive: the file records closes only from 2021-02-01, so a year before is
    unavailable. Sample means are held to 4 standard errors of the analytic variance (4,000 draws)."""
    opp, c = tiny_table(), "2021-03-31"
    f = baselines.forecasts(opp, c, 30, seed=3)
    assert list(f) == ["last_period", "seasonal_naive", "poisson_band", "stage_weighted"]
    last = f["last_period"]
    assert last.kind == "point" and last.point == {"won_deals": 1.0, "won_value": 200.0}
    assert last.samples["won_deals"].tolist() == [1.0]
    assert not f["seasonal_naive"].available and "2021-02-01" in f["seasonal_naive"].why
    pb = f["poisson_band"]
    n = len(pb.samples["won_deals"])
    assert n == baselines.DRAWS and pb.point == last.point
    assert np.array_equal(pb.samples["won_value"], 200.0 * pb.samples["won_deals"])
    assert pb.samples["won_deals"].mean() == pytest.approx(1.0, abs=Z * math.sqrt(1.0 / n))
    sw = f["stage_weighted"]
    assert sw.point == {"won_deals": 2.0, "won_value": 350.0}
    d, v = sw.samples["won_deals"], sw.samples["won_value"]
    assert d.mean() == pytest.approx(2.0, abs=Z * math.sqrt(1.5 / n))  # var 2 x 0.25 + 1
    sd_v = math.sqrt(150**2 * 0.5 + 200**2 * 1.0)
    assert v.mean() == pytest.approx(350.0, abs=Z * sd_v / math.sqrt(n))
    p0 = 0.25 * math.exp(-1)  # no live deal wins and no run-rate deal
    assert (d == 0).mean() == pytest.approx(p0, abs=Z * math.sqrt(p0 * (1 - p0) / n))
    again = baselines.forecasts(opp, c, 30, seed=3)
    assert np.array_equal(again["stage_weighted"].samples["won_value"], v)  # seeded


def test_seasonal_naive_repeats_the_same_days_a_year_before():
    """A deal won on 2020-04-15 falls in (2020-03-31, 2020-04-30], the horizon a year before."""
    df = pd.DataFrame(
        [
            ("9", "2020-03-01", "2020-04-15", "won", 80.0),
            ("10", "2020-02-01", "2020-05-02", "won", 5.0),
        ],
        columns=["opportunity_id", "created", "closed", "outcome", "amount"],
    )
    df["created"] = pd.to_datetime(df["created"])
    df["closed"] = pd.to_datetime(df["closed"])
    df["segment"] = "A"
    opp = pd.concat([tiny_table(), crm_table(df)], ignore_index=True)
    got = baselines.seasonal_naive(opp, "2021-03-31", 30, recorded_from="2020-01-01")
    assert got.available and got.point == {"won_deals": 1.0, "won_value": 80.0}
    late = baselines.seasonal_naive(opp, "2021-03-31", 30, recorded_from="2020-04-01")
    assert not late.available


# -- the backtest's output -----------------------------------------------------------------------------
def test_covered_means_actual_inside_p10_p90():
    sims = np.arange(1.0, 101.0)  # P10 = 10.9, P90 = 90.1 (numpy's linear interpolation)
    assert backtest.metric_entry(50, sims)["covered"] is True
    assert backtest.metric_entry(10.9, sims)["covered"] is True
    assert backtest.metric_entry(10.8, sims)["covered"] is False
    assert backtest.metric_entry(95, sims)["covered"] is False
    assert backtest.metric_entry(95, sims)["covered_90"] is True  # P95 = 95.05
    e = backtest.metric_entry(50, sims)
    assert list(e) == ["actual", *ENTRY_SCORES]
    assert e["p10"] == pytest.approx(10.9) and e["p50"] == pytest.approx(50.5)
    assert e["crps"] == pytest.approx(brute_crps(sims, 50.0))


ENTRY_SCORES = ["p5", "p10", "p50", "p90", "p95", "covered", "covered_90", "pinball_p10",
                "pinball_p50", "pinball_p90", "crps", "abs_error"]  # fmt: skip


def brute_crps(x: np.ndarray, y: float) -> float:
    return float(np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))


def test_skill_is_against_the_naive_with_the_lowest_crps():
    got = backtest.skill_entry(
        2.0, {"last_period": 8.0, "seasonal_naive": None, "poisson_band": 4.0}
    )
    assert got == {"against": "poisson_band", "crps_best_naive": 4.0, "skill": 0.5}
    assert backtest.skill_entry(2.0, {"last_period": None})["against"] is None


def test_backtest_json_is_strict_json():
    """A MAPE over zero actuals or a skill with nothing to beat is nan: written as null."""
    text = backtest._json(
        {"mape": math.nan, "skill": {"against": None, "skill": np.float64("nan")}}
    )
    assert "NaN" not in text and json.loads(text) == {
        "mape": None,
        "skill": {"against": None, "skill": None},
    }


def test_rolling_summary_scores_every_forecast_and_skips_the_unavailable():
    """Two cutoffs, actual 10 then 20. Simulator samples 0..20 (P50 10) both times; last period
    says 12 then 14; seasonal naive is available only at the first cutoff, so it is not eligible
    as the best naive, however well it scores there."""
    sims = np.arange(0.0, 21.0)
    rows = []
    for c, y, last, seas in (("2021-01-31", 10.0, 12.0, 10.0), ("2021-02-28", 20.0, 14.0, None)):
        result = {
            "cutoff": c,
            "metrics": {"won_deals": backtest.metric_entry(y, sims)},
            "naive": {
                "last_period": {"kind": "point", "available": True,
                                "metrics": {"won_deals": {"point": last, **scoring.score([last], y)}}},
                "seasonal_naive": {"kind": "point", "available": seas is not None, "why": "-",
                                   "metrics": {"won_deals": {"point": seas, **scoring.score([seas or 0], y)}}},
            },
        }  # fmt: skip
        rows += backtest.score_rows(result)
    table = pd.DataFrame(rows)
    assert len(table) == 6 and set(table.columns) >= {"forecast", "available", "point", "crps"}
    s = backtest.rolling_summary(table, 30)["metrics"]["won_deals"]
    f = s["forecasts"]
    assert f["simulator"]["n"] == 2 and f["seasonal_naive"]["n"] == 1
    assert f["last_period"]["mae"] == pytest.approx((2 + 6) / 2)
    assert f["last_period"]["mape"] == pytest.approx((0.2 + 0.3) / 2)
    assert f["last_period"]["crps"] == pytest.approx(4.0)  # a point's CRPS is its absolute error
    assert f["last_period"]["pinball_p50"] == pytest.approx(2.0)
    sim_crps = (brute_crps(sims, 10.0) + brute_crps(sims, 20.0)) / 2
    assert f["simulator"]["crps"] == pytest.approx(sim_crps)
    assert f["simulator"]["covered"] == 1 and f["simulator"]["covered_90"] == 1  # 20 > P90 = 18
    assert s["skill"]["against"] == "last_period"
    assert s["skill"]["skill"] == pytest.approx(1 - sim_crps / 4.0)
    text = backtest.markdown(backtest.rolling_summary(table, 30), "t")
    assert "(1 of 2 cutoffs)" in text and "Skill of the simulator" in text


def test_backtest_settings_reject_bad_values():
    with pytest.raises(ConfigError, match=r"backtest.cutoff = 'june': not a date"):
        backtest.settings({"backtest": {"cutoff": "june"}})
    with pytest.raises(ConfigError, match=r"backtest.horizon_days = 0: must be >= 1"):
        backtest.settings({"backtest": {"cutoff": "2017-06-30", "horizon_days": 0}})
    with pytest.raises(ConfigError, match="both set"):
        backtest.settings({"backtest": {"cutoff": "2017-06-30", "cutoffs": ["2017-07-31"]}})
    s = backtest.settings(
        {"backtest": {"rolling": {"first": "2017-04-30", "step_days": 30, "count": 3}}}
    )
    assert [str(c.date()) for c in s.cutoffs] == ["2017-04-30", "2017-05-30", "2017-06-29"]
    assert backtest.settings({"backtest": {"cutoff": None}}) is None


def synthetic_crm(seed: int = 11):
    """A CRM table from known parameters: 5 deals a day, won with p 0.35 after gamma(40, cv 0.6)
    days or lost after gamma(15, cv 0.8), won values lognormal (mean 1000, cv 0.5)."""
    from sim.calibrate.importer import CrmData

    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2020-01-01"), pd.Timestamp("2021-03-31")
    days = (end - start).days + 1
    created = start + pd.to_timedelta(np.repeat(np.arange(days), rng.poisson(5, days)), unit="D")
    n = len(created)
    won = rng.random(n) < 0.35
    t = np.where(
        won, gamma(40, 0.6).rvs(n, random_state=rng), gamma(15, 0.8).rvs(n, random_state=rng)
    )
    closed = created + pd.to_timedelta(np.ceil(t), unit="D")
    s2 = math.log1p(0.25)
    amount = rng.lognormal(math.log(1000) - s2 / 2, math.sqrt(s2), n)
    later = closed > end
    opp = crm_table(
        pd.DataFrame(
            {
                "opportunity_id": [f"S{i}" for i in range(n)],
                "account": pd.NA,
                "segment": "widgets",
                "owner": pd.NA,
                "source": pd.NA,
                "created": created,
                "closed": closed.where(~later, pd.NaT),
                "outcome": np.where(later, "open", np.where(won, "won", "lost")),
                "amount": np.where(won & ~later, amount, np.nan),
            }
        )
    )
    return CrmData("synthetic", opp, None, {}, end, opp["close_date"].min().normalize())


FAST_FIT = ["fit.durations=[gamma]", "fit.classes=[1]", "fit.sizes=[lognormal]"]


def calibrate_config(overrides: list[str]):
    """The composed `salesim-calibrate` config, as the app sees it."""
    from hydra import compose, initialize_config_dir

    import sim.calibrate.importer  # noqa: F401  (registers the ${repo_root:} resolver)
    from sim.compose import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="test"):
        return compose(config_name="calibrate", overrides=overrides)


@pytest.mark.slow  # about 2 minutes: six fits and 240 simulated futures
def test_synthetic_crm_backtest_covers_the_actual_at_the_expected_rate(tmp_path):
    """Six cutoffs a month apart, 60-day horizons, on a table drawn from known parameters: the
    P10-P90 band should hold the actual about 80 % of the time. Requiring at least 2 of 6 per
    metric fails a correct pipeline with probability P(Binomial(6, 0.8) <= 1) = 0.0016 (the bands
    overlap in time, so somewhat more), and fails a band that is far too narrow or biased."""
    crm = synthetic_crm()
    cfg = calibrate_config(
        [
            "seed=5",
            *FAST_FIT,
            "backtest.rolling.first=2020-08-31",
            "backtest.rolling.step_days=30",
            "backtest.rolling.count=6",
            "backtest.horizon_days=60",
            "backtest.replications=40",
        ]
    )
    summary = backtest.run(crm, cfg, tmp_path)
    for m in ("won_deals", "won_value"):
        assert summary["metrics"][m]["n"] == 6
        assert summary["metrics"][m]["covered"] >= 2, summary["metrics"][m]
    table = pd.read_csv(tmp_path / "rolling_backtest.csv")
    assert set(table.columns) >= {"cutoff", "metric", "forecast", "actual", "p10", "p50", "p90",
                                  "covered", "crps"}  # fmt: skip
    assert set(table["forecast"]) == {"simulator", *baselines.NAIVE_LABELS}
    assert (tmp_path / "rolling_backtest.png").stat().st_size > 0
    assert json.loads((tmp_path / "rolling_backtest.json").read_text())["horizon_days"] == 60


@pytest.mark.skipif(not (DATA / "maven_crm").is_dir(), reason="../shared/data is not present")
def test_real_maven_backtest_writes_the_issue_json(tmp_path):
    """A real-data backtest (one maven_crm product, so the fit is quick): backtest.json has exactly
    the issue's shape, and its actuals are what the file records in (cutoff, cutoff + 60 days]."""
    from omegaconf import OmegaConf

    from sim.calibrate.importer import CrmData, load

    conf = OmegaConf.load(
        Path(__file__).resolve().parents[1] / "configs" / "data" / "maven_crm.yaml"
    )
    data = OmegaConf.to_container(conf, resolve=True)
    data["dir"] = str(DATA / "maven_crm")
    full = load(data)
    opp = full.opportunities[full.opportunities["segment"] == "GTX Basic"].reset_index(drop=True)
    crm = CrmData("maven_gtx_basic", opp, None, {}, full.as_of, full.closes_from)
    cfg = calibrate_config(
        ["seed=1", *FAST_FIT, "backtest.cutoff=2017-06-30", "backtest.horizon_days=60",
         "backtest.replications=20"]
    )  # fmt: skip
    backtest.run(crm, cfg, tmp_path)
    got = json.loads((tmp_path / "backtest.json").read_text())
    assert list(got) == ["cutoff", "horizon_days", "metrics", "naive", "skill"]
    assert got["cutoff"] == "2017-06-30" and got["horizon_days"] == 60
    assert list(got["metrics"]) == ["won_deals", "won_value"]
    won = opp[
        (opp["outcome"] == "won")
        & (opp["close_date"] > "2017-06-30")
        & (opp["close_date"] <= "2017-08-29")
    ]
    assert got["metrics"]["won_deals"]["actual"] == len(won)
    assert got["metrics"]["won_value"]["actual"] == pytest.approx(won["amount"].sum())
    for e in got["metrics"].values():
        assert list(e) == ["actual", *ENTRY_SCORES]
        assert e["p5"] <= e["p10"] <= e["p50"] <= e["p90"] <= e["p95"]
        assert e["covered"] == (e["p10"] <= e["actual"] <= e["p90"])
    monthly = pd.read_csv(tmp_path / "backtest_monthly.csv")
    assert list(monthly["month"].unique()) == ["2017-07", "2017-08"]
    assert (tmp_path / "backtest.png").stat().st_size > 0
    # report.html: the backtest's scores and band figure first, then the fit at the cutoff
    page = self_contained(tmp_path / "report.html", images=4)
    assert page.index("<h1>Backtest of maven_gtx_basic at 2017-06-30") < page.index(
        "<h2>Calibration at the cutoff"
    )


def test_rolling_backtest_on_the_example_export_scores_and_keeps_each_fit(tmp_path, capsys):
    """The shipped export (examples/crm_example), two cutoffs: every forecast is scored in the
    rolling files, and each cutoff's folder keeps the fit it used (fit.json, report.md)."""
    from omegaconf import OmegaConf

    from sim.calibrate.importer import load

    cfg = calibrate_config(
        ["data=crm_example", "seed=2", *FAST_FIT, "backtest.cutoffs=[2023-08-31,2023-09-30]",
         "backtest.horizon_days=60", "backtest.replications=20"]
    )  # fmt: skip
    crm = load(OmegaConf.to_container(cfg.data, resolve=True))
    summary = backtest.run(crm, cfg, tmp_path, published=Path("/published/here"))
    table = pd.read_csv(tmp_path / "rolling_backtest.csv")
    assert set(table.columns) >= {
        "cutoff",
        "metric",
        "forecast",
        "available",
        "point",
        *ENTRY_SCORES,
    }
    assert len(table) == 2 * 2 * 5  # cutoffs x metrics x (simulator + 4 naive)
    sim = table[table["forecast"] == "simulator"]
    assert (sim["p5"] <= sim["p10"]).all() and (sim["p90"] <= sim["p95"]).all()
    # the CSV's floats carry 4 decimals at most (the JSON keeps full precision)
    text = (tmp_path / "rolling_backtest.csv").read_text()
    assert not re.search(r"\.\d{5,}", text), re.search(r"\S*\.\d{5,}\S*", text)
    # the example export starts in 2023: no seasonal naive, the others are scored
    assert not table[table["forecast"] == "seasonal_naive"]["available"].any()
    assert table[table["forecast"] != "seasonal_naive"]["crps"].notna().all()
    m = summary["metrics"]["won_deals"]
    assert set(m["forecasts"]) == {"simulator", *baselines.NAIVE_LABELS}
    assert m["skill"]["against"] in ("last_period", "poisson_band", "stage_weighted")
    saved = json.loads((tmp_path / "rolling_backtest.json").read_text())
    assert saved["metrics"]["won_value"]["forecasts"]["poisson_band"]["n"] == 2
    md = (tmp_path / "rolling_backtest.md").read_text()
    assert "CRPS" in md and "P5-P95" in md and "Skill of the simulator" in md
    for c in ("2023-08-31", "2023-09-30"):
        d = tmp_path / "rolling" / c
        fit = json.loads((d / "fit.json").read_text())
        assert fit["cutoff"] == c and fit["segments"]  # the fit at this cutoff
        report = (d / "report.md").read_text()
        assert f"to {c} (the cutoff)" in report
        assert f"--config-dir /published/here/rolling/{c}" in report  # not the staging folder
        assert (d / "experiment" / "calibrated.yaml").is_file()
        one = json.loads((d / "backtest.json").read_text())
        assert set(one["naive"]) == set(baselines.NAIVE_LABELS)
    assert (tmp_path / "rolling_scores.png").stat().st_size > 0
    assert "CRPS" in capsys.readouterr().out
    # report.html: the rolling tables and both figures; each cutoff's page leads with its scores
    assert "Skill of the simulator" in self_contained(tmp_path / "report.html", images=2)
    for c in ("2023-08-31", "2023-09-30"):
        page = self_contained(tmp_path / "rolling" / c / "report.html", images=4)
        heads = re.findall(r"<h2>(.*?)</h2>", page)
        assert heads[0].startswith("Backtest: won deals (actual ")
        assert any(h.startswith("Calibration at the cutoff") for h in heads)


def test_backtest_horizon_past_the_files_end_is_refused():
    crm = synthetic_crm()
    s = backtest.settings({"backtest": {"cutoff": "2021-03-01", "horizon_days": 90}})
    with pytest.raises(ConfigError, match=r"ends on 2021-05-30, after 2021-03-31"):
        backtest.check(crm, s)
