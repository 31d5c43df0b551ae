"""sim.metric_registry is the one description of every metric the engine produces, and the report, the
figures and the comparisons take what they show from it."""

from __future__ import annotations

import dataclasses

import pytest

from sim import compare, metric_registry, plots, report
from sim.experiment import run_replication
from tests.conftest import scenario


@pytest.mark.parametrize("overrides", [(), ("plays=[speed_to_lead_sla]",)])
def test_every_metric_of_the_default_scenario_is_registered(overrides):
    sc, _ = scenario("replications=1", *overrides, fast=False)
    names = run_replication(sc, 0).metrics
    missing = sorted({k for k in names if metric_registry.metric(k) is None})
    assert missing == []


def test_a_breakdown_is_described_by_its_base_metric():
    assert metric_registry.metric("cac.plg") is metric_registry.METRICS["cac"]
    assert metric_registry.metric("bookings.segment.smb").fmt == "money"
    assert metric_registry.metric("no_such_metric") is None


def test_headline_metrics_are_the_four_of_the_distribution_figure():
    assert metric_registry.HEADLINE == ("win_rate", "cycle_days", "cac", "clv")


def test_figures_report_and_comparisons_read_the_registry(monkeypatch):
    entry = metric_registry.METRICS["leads"]
    changed = dataclasses.replace(entry, label="Leads (registry)", fmt="pct", direction=-1)
    monkeypatch.setitem(metric_registry.METRICS, "leads", changed)
    assert plots.title_and_format("leads") == ("Leads (registry)", "{:.1%}")
    assert report.format_metric("leads", 0.5) == "50.0%"
    assert compare.good_direction("leads") == -1


@pytest.mark.parametrize("name", sorted(metric_registry.METRICS))
def test_each_entry_is_complete(name):
    m = metric_registry.METRICS[name]
    assert m.name == name and m.label and m.unit
    assert m.direction in (1, -1, None) and m.fmt in ("pct", "money", "count", "num")
