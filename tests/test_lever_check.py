"""experiments/lever_check.py: the levers it changes, and the finding docs/model.md states."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sim.compose import compose_config

_PATH = Path(__file__).resolve().parents[1] / "experiments" / "lever_check.py"
_spec = importlib.util.spec_from_file_location("lever_check", _PATH)
lever_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lever_check)


def test_levers_are_a_quarter_more_and_at_least_one():
    cfg = compose_config(["company=pm_freemium"])  # 2 SDRs, 4 AEs, 10 CSMs
    sc = lever_check.lever_scenarios(cfg)
    assert sc["company"] == []
    assert sc["sdr"] == ["team.sdr.count=3"]  # 2 * 1.25 = 2.5 -> 3
    assert sc["ae"] == ["team.ae.count=5"]
    assert sc["csm"] == ["team.csm.count=13"]  # 12.5 -> 13
    spend = {o.split("=")[0]: float(o.split("=")[1]) for o in sc["marketing"]}
    for name, ch in cfg.channels.items():
        if ch.budget_month > 0:
            assert spend[f"channels.{name}.budget_month"] == pytest.approx(1.25 * ch.budget_month)


def test_a_company_without_a_role_has_no_lever_for_it():
    sc = lever_check.lever_scenarios(compose_config(["company=bare"]))
    assert not {"ae", "sdr", "csm"} & set(sc)


@pytest.mark.slow
def test_more_leads_lose_bookings_where_sdrs_bind():
    """docs/model.md's finding: in sdr_bound, 25 % more marketing spend lowers new bookings and more
    SDRs raise them. 20 paired replications, seed 42; the claim is the sign of the 95 % t-interval
    of the mean paired difference (the table's figures), so it fails if the interval reaches zero."""
    rows = {r["lever"]: r for r in lever_check.check("sdr_bound", 20, 42)}
    assert rows["marketing"]["high"] < 0
    assert rows["sdr"]["low"] > 0
