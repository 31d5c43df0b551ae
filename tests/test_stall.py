"""Stalled deals (`stall_days` on a stage): a deal whose stay in the stage would exceed it never
leaves it, new or warm-started; salesim-calibrate fits the stall age from the export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.fit import fit, fit_stall
from sim.calibrate.importer import CrmData
from sim.calibrate.importer import table as crm_table
from sim.config import ConfigError, load_scenario
from sim.model import simulate_replication
from sim.motions import OPEN, compile_motions, walk_batch
from sim.plays import compile_plays

from .conftest import scenario

NEG = "motions.slg.stages.negotiation"


def _walk(*overrides: str, n: int = 2000):
    sc, _ = scenario("motion=slg", *overrides)
    cm = next(c for c in compile_motions(sc) if c.name == "slg")
    book = compile_plays(sc, compile_motions(sc), 24)
    rng = np.random.default_rng(5)
    k = cm.n_stages
    u, d = rng.random((n, k)), rng.gamma(1.5, 12.0, (n, k))
    scale = np.array([s.cycle_scale for s in sc.segments.values()])
    seg = rng.integers(0, len(scale), n)
    walk = walk_batch(cm, 0, k, seg, np.ones(n), np.zeros(n), u, d, scale, 1e6, book)
    return walk, d[:, -1] * scale[seg]


def test_a_deal_whose_stay_would_exceed_the_stall_age_stays_open_the_rest_identical():
    base, days = _walk()
    stall, _ = _walk(f"+{NEG}.stall_days=20")
    reached = ~np.isnan(base.entry[:, -1])
    over = reached & (days > 20)
    assert over.sum() > 50
    assert (stall.status[over] == OPEN).all() and not (base.status[over] == OPEN).any()
    same = ~over  # same draws: every other deal ends exactly as before
    np.testing.assert_array_equal(stall.status[same], base.status[same])
    np.testing.assert_array_equal(stall.t_out[same], base.t_out[same])


def _warm_wins(stall: float | None, age: float):
    deals = [{"segment": "smb", "motion": "slg", "stage": "negotiation", "age_days": age}] * 200
    extra = [] if stall is None else [f"+{NEG}.stall_days={stall}"]
    sc, _ = scenario("motion=slg", "horizon_days=200", "warmup_days=0", *extra)
    data = sc.model_dump(mode="json")
    data["open_pipeline"] = deals
    o = simulate_replication(load_scenario(data), 0).columns["opportunities"]
    warm = np.asarray(o["source"]) == "open_pipeline"
    return o["closed_day"][warm & (o["outcome"] != 2)]


def test_warm_started_deals_past_the_stall_age_never_close_younger_ones_close_before_it():
    assert len(_warm_wins(None, 25.0)) > 100  # without a stall most of them close
    assert len(_warm_wins(20.0, 25.0)) == 0  # 25 days in the stage, stall at 20: open for good
    closed = _warm_wins(30.0, 10.0)  # 10 days in: they close within 20 more days, or never
    assert len(closed) > 20 and (closed <= 20.0 + 1e-9).all()


def test_stall_days_needs_a_stage_with_a_duration():
    sc, _ = scenario("motion=slg")
    data = sc.model_dump(mode="json")
    data["motions"]["slg"]["stages"]["negotiation"]["stall_days"] = -3
    with pytest.raises(ConfigError, match="stall_days"):
        load_scenario(data)
    data["motions"]["slg"]["stages"]["negotiation"]["stall_days"] = 30
    data["motions"]["slg"]["stages"]["negotiation"]["days"] = None
    with pytest.raises(ConfigError, match="stall_days"):
        load_scenario(data)


def _export(stall: float, seed: int = 11, n: int = 3000, year: int = 365):
    """Deals created over a year, won (40 %) after gamma(40, 0.5) days or lost after gamma(12,
    0.8); one whose close would come after `stall` days stays open for good."""
    rng = np.random.default_rng(seed)
    created = rng.uniform(0, year, n)
    won = rng.random(n) < 0.4
    k1, k2 = 1 / 0.5**2, 1 / 0.8**2
    dur = np.where(won, rng.gamma(k1, 40.0 / k1, n), rng.gamma(k2, 12.0 / k2, n))
    seen = (created + dur <= year) & (dur <= stall)
    day0 = pd.Timestamp("2024-01-01")
    closes = (day0 + pd.to_timedelta(np.floor(created + dur), unit="D")).where(seen)
    table = crm_table(
        pd.DataFrame(
            {
                "opportunity_id": [f"D{i}" for i in range(n)],
                "account": pd.NA,
                "segment": "all",
                "owner": "rep",
                "source": "crm",
                "created": day0 + pd.to_timedelta(np.floor(created), unit="D"),
                "closed": closes,
                "outcome": pd.Categorical(
                    np.where(seen, np.where(won, "won", "lost"), "open"), ["won", "lost", "open"]
                ),
                "amount": np.where(won & seen, 1000.0, np.nan),
            }
        )
    )
    as_of = day0 + pd.Timedelta(days=year - 1)
    return CrmData("synthetic", table, None, {}, as_of, None)


def test_the_fit_finds_a_known_stall_age_and_writes_it_into_the_deal_stage():
    cal = fit(_export(stall=70.0), classes=(1,))
    assert cal.stall_days is not None and 60.0 < cal.stall_days <= 71.0
    assert cal.stall_at_risk >= 20
    deal = next(iter(cal.scenario()["motions"].values()))["stages"]["deal"]
    assert deal["stall_days"] == cal.stall_days
    load_scenario(cal.scenario())


def test_no_stall_is_fitted_when_no_deal_stays_open_past_the_longest_close():
    t = np.array([5.0, 10.0, 40.0, 30.0, 12.0])
    kind = np.array([1, 2, 1, 0, 0])
    assert fit_stall(t, kind) == (None, 0)
    t2 = np.concatenate([t, np.full(25, 90.0)])
    assert fit_stall(t2, np.concatenate([kind, np.zeros(25, int)])) == (40.0, 25)
