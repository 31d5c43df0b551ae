"""Quarter-end and month-end bunching of closes (`close_pull` on a motion's closing stage,
sim.close_pull): neutral at share 0, more closes in the last days of quarters as the share rises,
wins conserved, warm-started deals thinned by the pull they escaped."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.fit import fit_close_pull
from sim.close_pull import ClosePull, period_ends
from sim.config import ConfigError, load_scenario
from sim.model import simulate_replication

from .conftest import scenario

LAST = "motions.slg.stages.negotiation.close_pull"


def _pull(share: float, days: float = 14.0) -> str:
    return f"+{LAST}={{quarter_share: {share}, quarter_days: {days}}}"


def _opps(*overrides: str, reps: int = 1, days: int = 365):
    sc, _ = scenario("motion=slg", f"horizon_days={days}", "warmup_days=0", *overrides)
    return sc, [simulate_replication(sc, r).columns["opportunities"] for r in range(reps)]


def _won_days(o) -> np.ndarray:
    return o["closed_day"][o["outcome"] == 1]


def _in_last_days_of_quarters(sc, t: np.ndarray, days: float) -> int:
    ends, quarter = period_ends(sc.start_date, sc.total_days)
    q = np.array([b for b, isq in zip(ends, quarter, strict=True) if isq and b > 0])
    gap = q[np.searchsorted(q, t, side="left").clip(max=len(q) - 1)] - t
    return int(((gap > 0) & (gap <= days)).sum())


def test_share_zero_reproduces_todays_draws_exactly():
    _, (a,) = _opps()
    _, (b,) = _opps(_pull(0.0))
    _, (c,) = _opps(f"+{LAST}={{quarter_share: 0.0, month_share: 0.0, quarter_days: 30}}")
    for col in ("closed_day", "outcome", "amount", "created_day"):
        np.testing.assert_array_equal(a[col], b[col])
        np.testing.assert_array_equal(a[col], c[col])


def test_closes_bunch_in_the_last_days_of_quarters_as_the_share_rises():
    """Same seed (common random numbers): the count of wins in the last 14 days of quarters must
    rise with the share; with the default company those days hold ~15 % of a year's wins."""
    counts = []
    for share in (0.0, 0.5, 1.0):
        sc, opps = _opps(_pull(share), reps=3)
        counts.append(sum(_in_last_days_of_quarters(sc, _won_days(o), 14.0) for o in opps))
    assert counts[0] < counts[1] < counts[2], counts
    # share 1: every win due in the 14 days after a quarter end that was in negotiation at it moves
    assert counts[2] > 1.5 * counts[0], counts


def test_the_pull_moves_timing_only_wins_are_conserved():
    """Paired on the same seeds, total wins with share 1 over a 30-day window stay within the
    Poisson 95 % band of the neutral count (2 sqrt(n), n over 3 replications): deals are moved,
    not made (an earlier close frees an AE slot sooner, so other deals shift a little). The run
    ends mid-December, so no close is pulled in across its end."""
    counts = []
    for share in (0.0, 1.0):
        _, opps = _opps(_pull(share, 30.0), reps=3, days=350)
        counts.append(sum(int((o["outcome"] == 1).sum()) for o in opps))
    assert abs(counts[1] - counts[0]) <= 2 * math.sqrt(counts[0]), counts


def test_a_pulled_close_lands_in_the_period_and_not_before_its_stage_started():
    pull = ClosePull((30.0, 60.0), (10.0, 10.0), (1.0, 0.5))
    assert pull.at(5.0, 33.0, 0.5) == pytest.approx(25.0)  # v / share = 0.5 of [20, 30)
    assert pull.at(25.0, 33.0, 0.5) == pytest.approx(27.5)  # not before the stage began
    assert pull.at(31.0, 33.0, 0.5) == 33.0  # began after the end: nothing to push
    assert pull.at(5.0, 41.0, 0.1) == 41.0  # outside the window
    assert pull.at(35.0, 62.0, 0.6) == 62.0  # v >= share: not pulled
    t = np.array([5.0, 25.0, 31.0, 5.0, 35.0])
    end = np.array([33.0, 33.0, 33.0, 41.0, 62.0])
    v = np.array([0.5, 0.5, 0.5, 0.1, 0.6])
    got = pull.batch(t, end, np.ones(5, bool), v)
    np.testing.assert_allclose(got, [pull.at(*x) for x in zip(t, end, v, strict=True)])
    assert (pull.batch(t, end, np.zeros(5, bool), v) == end).all()


def test_period_ends_follow_the_calendar_and_quarters():
    ends, quarter = period_ends(dt.date(2017, 7, 1), 90.0)
    # Jul 1 (the quarter that ended at the start), Aug 1, Sep 1, Oct 1 are days 0, 31, 62, 92:
    # the run's own months end a little earlier
    assert ends[:4] == [0.0, 30.4375, 60.875, 91.3125]
    assert quarter[:4] == [True, False, False, True]
    ends, quarter = period_ends(dt.date(2017, 7, 15), 60.0)
    assert ends[:3] == [-14.0, 17.0, 48.0] and quarter[0] and not quarter[1]


def test_close_pull_only_on_a_motions_closing_stage():
    sc, _ = scenario("motion=slg")
    data = sc.model_dump(mode="json")
    data["motions"]["slg"]["stages"]["demo"]["close_pull"] = {"quarter_share": 0.5}
    with pytest.raises(ConfigError, match="close_pull"):
        load_scenario(data)


def _warm(share: float, n: int = 300):
    """The wins of n deals open in negotiation for 20 days on 2026-04-01 (a quarter's first day)."""
    deals = [{"segment": "smb", "motion": "slg", "stage": "negotiation", "age_days": 20.0}] * n
    sc, _ = scenario(
        "motion=slg",
        "horizon_days=60",
        "warmup_days=0",
        "start_date=2026-04-01",
        _pull(share, 14.0),
    )
    data = sc.model_dump(mode="json")
    data["open_pipeline"] = deals
    sc = load_scenario(data)
    o = simulate_replication(sc, 0).columns["opportunities"]
    warm = np.asarray(o["source"]) == "open_pipeline"
    return o["closed_day"][warm & (o["outcome"] == 1)]


def test_warm_started_deals_missed_the_pull_they_escaped():
    """Deals still open on a quarter's first day were not pulled into the quarter before: with
    share 1 and a 14-day window none of them wins in the first 14 days (their wins due then were
    all pulled into March, before the run), and fewer win at all; with share 0 some do."""
    base, pulled = _warm(0.0), _warm(1.0)
    assert (base < 14).sum() > 20
    assert (pulled < 14).sum() == 0
    assert len(pulled) < len(base)
    # given that it escaped the pull and is still open, a deal is more likely one due later: the
    # wins after the window do not fall (fixed seed; expected ratio P(open) / P(open, thinned) > 1)
    assert (pulled >= 14).sum() >= (base >= 14).sum()


def _synthetic_closes(quarter_share: float, month_share: float, seed: int = 3):
    """Two years of wins at 12 a day, pulled by the engine's own rule (14 days at quarter ends,
    3 at month ends; every deal long in its closing stage), as close dates."""
    start = dt.date(2023, 12, 15)  # not a 1st: the period ends are the calendar's own
    n_days = 760
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, n_days, rng.poisson(12 * n_days))
    ends, quarter = period_ends(start, n_days)
    pull = ClosePull(
        tuple(ends),
        tuple(14.0 if q else 3.0 for q in quarter),
        tuple(quarter_share if q else month_share for q in quarter),
    )
    moved = pull.batch(np.full(len(t), -1e9), t, np.ones(len(t), bool), rng.random(len(t)))
    day0 = pd.Timestamp(start)
    close = pd.Series(day0 + pd.to_timedelta(np.floor(moved), unit="D"))
    return close, day0, day0 + pd.Timedelta(days=n_days - 1)


def _fits(quarter_share: float, month_share: float, seeds=range(10)):
    for seed in seeds:
        close, start, end = _synthetic_closes(quarter_share, month_share, seed)
        yield fit_close_pull(close, start, end, lambda x: np.ones_like(x, dtype=float))


def test_the_fit_recovers_a_known_pull_within_its_interval():
    """The window is found in every seed; the 90 % intervals hold the true shares in at least 7 of
    10 seeds (binomial(10, 0.9): 6 or fewer has probability 1.3 %)."""
    fits = list(_fits(0.5, 0.2))
    assert all(f.quarter_days == 14.0 and f.month_days == 3.0 for f in fits)
    assert all(f.quarter_ends >= 6 and f.month_ends >= 14 for f in fits)
    assert sum(f.quarter_ci[0] <= 0.5 <= f.quarter_ci[1] for f in fits) >= 7
    assert sum(f.month_ci[0] <= 0.2 <= f.month_ci[1] for f in fits) >= 7


def test_the_fit_finds_no_pull_where_there_is_none():
    """Without a pull the shares stay near 0 (the best of five windows picks up a little noise) and
    the intervals reach 0 in at least 7 of 10 seeds."""
    fits = list(_fits(0.0, 0.0))
    assert max(max(f.quarter_share, f.month_share) for f in fits) < 0.1
    assert sum(f.quarter_ci[0] == 0.0 for f in fits) >= 7
    assert sum(f.month_ci[0] == 0.0 for f in fits) >= 7


def _pulled_deciles(g, pf, stall=None, n=100_000, seed=5):
    """Deciles of the closes of durations g pulled by the engine's ClosePull on a calendar of month
    and quarter ends, deals created at random over four years (an independent check: random, not
    the stratified draws the search uses); with `stall`, among closes due by then."""
    from sim.calibrate.fit import PULL_DECILES
    from sim.close_pull import ClosePull

    rng = np.random.default_rng(seed)
    ends = np.arange(1, 200) * 365.25 / 12
    q = np.arange(1, 200) % 3 == 0
    days = np.where(q, pf.quarter_days, pf.month_days)
    pull = ClosePull(tuple(ends), tuple(days), tuple(np.where(q, pf.quarter_share, pf.month_share)))
    c = rng.random(n) * 4 * 365.25
    t = g.frozen().ppf(rng.random(n))
    keep = t <= stall if stall else np.ones(n, bool)
    close = pull.batch(c, c + t, np.ones(n, bool), rng.random(n)) - c
    return np.quantile(close[keep], PULL_DECILES)


@pytest.mark.parametrize(
    ("dist", "mean", "cv", "stall"),
    [("gamma", 80.0, 0.25, None), ("gamma", 80.0, 0.25, 120.0), ("lognormal", 30.0, 1.0, None)],
)
def test_the_scenario_duration_pulled_again_gives_the_fitted_deciles(dist, mean, cv, stall):
    """The fitted time to win is of the closes as they happened (pulled); the engine pulls again,
    so the scenario's duration is the one whose pulled closes have the fitted deciles (by the stall
    age, when there is one). Checked on 100,000 independent draws (a decile's sampling error is
    under 0.5 %): every decile within 6 % (a gamma cannot take the pull's bump exactly: the
    matching's own residual is 1-5 %, largest at the first decile), and the sum of squared log
    errors at most half the mean-only correction's (measured: a third). No pull, no change."""
    from sim.calibrate.fit import PULL_DECILES, DistFit, PullFit

    won = DistFit(dist, mean, cv)
    none = PullFit(31.0, 0.0, (0.0, 0.0), 3, 3.0, 0.0, (0.0, 0.0), 6)
    assert none.unpulled(won) == won
    pf = PullFit(31.0, 0.4, (0.3, 0.5), 3, 3.0, 0.0, (0.0, 0.0), 6)
    f = won.frozen()
    target = f.ppf(PULL_DECILES * (f.cdf(stall) if stall else 1.0))
    got = _pulled_deciles(pf.unpulled(won, stall), pf, stall)
    assert np.max(np.abs(got / target - 1)) < 0.06, got / target - 1
    e = float(np.mean(f.sf(np.arange(31) + 0.5)))  # the mean-only correction, as it was
    shift = 0.4 * 31 / (365.25 / 4) * e * 31
    old = _pulled_deciles(DistFit(dist, mean + shift, cv * mean / (mean + shift)), pf, stall)
    assert np.sum(np.log(got / target) ** 2) < 0.5 * np.sum(np.log(old / target) ** 2)
