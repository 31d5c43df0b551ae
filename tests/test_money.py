"""Amounts print in one currency (sim.money): USD exactly as before, other codes with their symbol or
their code, in a run's report.md and terminal table and in a calibration's report and scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from sim import money, simulate
from sim.config import ConfigError, load_scenario
from sim.plots import money_text
from sim.report import format_metric, terminal_table

REPO = Path(__file__).resolve().parents[1]


def test_usd_prints_as_it_always_did():
    assert money.current() == "USD"
    assert format_metric("bookings", 1_250_000) == "$1.25M"
    assert format_metric("cac", -4_500) == "-$4,500"
    assert money_text(-4_500_000) == "-$4.5M" and money_text(950) == "$950"
    assert money_text(-0.2) == "$0"  # a tick that rounds to zero carries no sign
    assert money.amount(1234.5, 2) == "$1,234.50"


def test_symbols_before_or_after_and_unknown_codes_after_the_number():
    with money.using("EUR"):
        assert format_metric("bookings", -1_250_000) == "-€1.25M"
    with money.using("RUB"):
        assert money.amount(1234) == "1,234 ₽" and money_text(-2e6) == "-2.0M ₽"
    with money.using("XYZ"):
        assert money.amount(1234) == "1,234 XYZ" and money.unit() == "XYZ"
    assert money.current() == "USD"  # the block restored it


def test_using_none_keeps_the_currency_in_force():
    with money.using("GBP"), money.using(None):
        assert money.amount(5) == "£5"


@pytest.mark.parametrize("bad", ["usd", "EURO", "€", "", 978, None])
def test_a_currency_code_is_three_capital_letters(bad):
    with pytest.raises(ValueError, match="three capital letters"):
        money.check(bad)


def test_a_run_in_another_currency_prints_no_dollar(tmp_path):
    """report.md and the terminal table of a run with `currency: XYZ` carry the code, never '$'
    (the same summary in USD does carry '$': the golden reports are unchanged)."""
    run = ["replications=2", "horizon_days=60", "warmup_days=30", "executor=serial"]
    res = simulate([*run, "currency=XYZ"], outdir=tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert " XYZ" in text and "$" not in text
    table = terminal_table(res.summary, "XYZ")
    assert " XYZ" in table and "$" not in table
    assert "$" in terminal_table(res.summary)


def test_a_calibration_prints_amounts_in_data_currency_and_its_scenario_carries_it(tmp_path):
    """data.currency=EUR: the calibration's report heads the deal size in euros, says what the
    amounts are in, and calibrated.yaml carries `currency: EUR`, which salesim accepts."""
    from sim.calibrate.cli import calibrate
    from sim.calibrate.importer import load

    data = OmegaConf.to_container(
        OmegaConf.load(REPO / "configs" / "data" / "crm_example.yaml"), resolve=True
    )
    crm = load({**data, "currency": "EUR"})
    path = calibrate(crm, None, {"classes": [1]}, 0, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "amounts in EUR (data.currency)" in report and "| mean (€) |" in report
    assert "$" not in report
    scenario = yaml.safe_load(path.read_text())
    assert scenario["currency"] == "EUR" and load_scenario(scenario).currency == "EUR"


def test_a_bad_data_currency_is_one_line():
    from sim.calibrate.importer import settings_from

    data = OmegaConf.to_container(
        OmegaConf.load(REPO / "configs" / "data" / "crm_example.yaml"), resolve=True
    )
    with pytest.raises(ConfigError) as exc:
        settings_from({**data, "currency": "euro"})
    text = str(exc.value)
    assert text.startswith("config error: data.currency = 'euro': not a currency code")
    assert "\n" not in text
