"""The output reads right: lengths, signs and rounding as a reader expects them (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import plots, simulate
from sim.records import MONTH_DAYS
from sim.report import span


@pytest.mark.parametrize(
    ("days", "adjective", "text"),
    [
        (365.0, True, "365-day"),
        (180.0, True, "180-day"),
        (12 * MONTH_DAYS, True, "12-month"),  # 365.25, what a calibrated config sets
        (6 * MONTH_DAYS, True, "6-month"),  # 182.625
        (12 * MONTH_DAYS, False, "12 months"),
        (1 * MONTH_DAYS, False, "1 month"),
        (200.4, True, "200-day"),
        (365.0, False, "365 days"),
        (0.0, True, "0-day"),
    ],
)
def test_spans_print_as_whole_days_or_whole_months(days, adjective, text):
    assert span(days, adjective) == text


def _diff(mean: float, lo: float, hi: float) -> dict:
    return {"diff_mean": mean, "ci95_low": lo, "ci95_high": hi}


def test_a_difference_that_rounds_to_zero_has_no_sign():
    from sim.report import _diff_cell, _signed

    assert _signed("cycle_days", -0.001) == "0.00"
    assert _signed("bookings", -0.3) == "$0"
    assert _signed("win_rate", -0.0001) == "0.0 pp"
    assert _signed("cycle_days", -1.5) == "-1.50"
    # Noise whose ends round to zero: no '-0.00' anywhere.
    assert _diff_cell("cycle_days", _diff(-0.001, -0.004, 0.002)) == "0.00 (0.00..0.00)"


def test_a_clear_difference_too_small_for_the_usual_precision_shows_its_digits():
    from sim.report import _diff_cell, terminal_table

    # Interval excludes zero but prints as 0.00 at two decimals: two significant digits instead,
    # so a 'clear' verdict is never next to '0.00 (0.00..0.00)'.
    c = _diff(-0.003, -0.004, -0.002)
    assert _diff_cell("cycle_days", c) == "-0.003 (-0.004..-0.002)"
    assert _diff_cell("win_rate", _diff(2e-5, 1e-5, 3e-5)) == "+0.002 pp (+0.001 pp..+0.003 pp)"
    summary = {
        "baseline": "a",
        "scenarios": {
            "a": {"replications": 2, "horizon_days": 365, "warmup_days": 180, "metrics": {}}
        },
        "comparisons": {"b vs a": {"cycle_days": c}},
    }
    assert "-0.003*" in terminal_table(summary)
    # one end of a clear interval near zero: that end gets the digits, the rest as usual
    assert _diff_cell("ae_wait_days", _diff(-0.13, -0.25, -0.004)) == "-0.13 (-0.25..-0.004)"
    assert _diff_cell("customers_end", _diff(11, 0.3, 22)) == "+11 (+0.3..+22)"
    # noise keeps the usual precision: its zero is an honest 'cannot tell'
    assert _diff_cell("ae_wait_days", _diff(0.001, -0.05, 0.06)) == "0.00 (-0.05..+0.06)"
    assert "-0.00" not in terminal_table(summary).replace("-0.003", "")


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text and "e" not in text.lower() else 0


def test_csv_money_is_in_cents_and_parquet_keeps_full_precision(tmp_path):
    simulate(
        ["replications=1", "horizon_days=60", "warmup_days=30", "tables=both"], outdir=tmp_path
    )
    checks = {
        "opportunities_rep0.csv": ["amount"],
        "monthly.csv": ["bookings", "arr", "pipeline_value"],
        "replications.csv": ["bookings", "cac", "arr_end", "sm_cost"],
    }
    for name, cols in checks.items():
        raw = pd.read_csv(tmp_path / name, dtype=str)
        for c in cols:
            worst = raw[c].dropna().map(_decimals).max()
            assert worst <= 2, f"{name}:{c} has {worst} decimals"
    # Day offsets are fractions of a day: 4 decimals (about 9 seconds), not 16.
    opp = pd.read_csv(tmp_path / "opportunities_rep0.csv", dtype=str)
    days = [c for c in opp.columns if c.endswith("_day")]
    assert days and max(opp[c].dropna().map(_decimals).max() for c in days) <= 4
    # Rates are not money and keep their digits; the Parquet copy is not rounded.
    assert (
        pd.read_csv(tmp_path / "replications.csv", dtype=str)["win_rate"].map(_decimals).max() > 2
    )
    pq = pd.read_parquet(tmp_path / "monthly.parquet")
    csv = pd.read_csv(tmp_path / "monthly.csv")
    assert (pq["arr"] != pq["arr"].round(2)).any()
    assert (csv["arr"] - pq["arr"]).abs().max() <= 0.005 + 1e-9


def _monthly(scenarios: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"scenario": s, "replication": r, "month": m, "arr": 1e7 + 1e5 * m + rng.normal(0, 1e5),
         "bookings": 6e5 + rng.normal(0, 1e5)}
        for s in scenarios for r in range(5) for m in range(12)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _figure_of(monkeypatch, draw) -> object:
    kept = {}
    monkeypatch.setattr(plots, "save", lambda fig, path, **kw: kept.setdefault("fig", fig))
    draw()
    fig = kept["fig"]
    fig.canvas.draw()
    return fig


def test_the_fan_of_several_scenarios_keeps_one_band_and_its_legend_off_the_lines(
    monkeypatch, tmp_path
):
    from matplotlib.collections import PolyCollection

    names = ["today", "sdr_plus_2", "ae_plus_2", "csm_plus_4", "paid_search_plus_25pct"]
    monthly = _monthly(names)
    labels = [f"M{i}" for i in range(12)]
    fig = _figure_of(monkeypatch, lambda: plots.fan_chart(monthly, labels, tmp_path / "f.png"))
    axes = fig.axes
    for ax in axes:
        # only the baseline's band; every scenario's median; no legend drawn over the data
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1
        assert len(ax.get_lines()) == len(names)
        assert ax.get_legend() is None
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["today P10-P90"] + [
        f"{n} median" for n in names
    ]
    box = legend.get_window_extent()
    for ax in axes:
        assert not box.overlaps(ax.get_window_extent()), "the legend sits beside the panels"
    assert box.x1 <= fig.bbox.x1 + 1, "the legend fits in the figure"
    # one scenario: its band, median and legend inside the panels, as before
    one = _monthly(["baseline"]).drop(columns="scenario")
    fig = _figure_of(monkeypatch, lambda: plots.fan_chart(one, labels, tmp_path / "g.png"))
    assert not fig.legends and all(ax.get_legend() is not None for ax in fig.axes)


def test_the_funnel_shares_one_scale_and_labels_every_stage_with_its_counts(monkeypatch, tmp_path):
    rows = [
        ("plg", 0, "activation", "product", 4590.0, 6822.0),
        ("plg", 1, "assist_close", "ae", 36.0, 18.0),  # a small stage: 54 decide
        ("slg", 0, "meeting", "sdr", 574.0, 193.0),
        ("slg", 1, "negotiation", "ae", 20.0, 8.0),
    ]
    f = pd.DataFrame(
        rows, columns=["motion", "stage_index", "stage", "owner", "advanced", "dropped"]
    )
    f["conversion"] = f["advanced"] / (f["advanced"] + f["dropped"])
    f["mean_days"] = 3.0
    worst = {"motion": "plg", "stage": "activation", "owner": "product", "conversion": 0.4}
    fig = _figure_of(monkeypatch, lambda: plots.funnel(f, worst, tmp_path / "f.png"))
    assert len({ax.get_xlim() for ax in fig.axes}) == 1, "one x scale for every motion"
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("36 of 54 (67%)" in t for t in texts), texts
    assert any("20 of 28 (71%)" in t for t in texts), texts
    assert any("(lowest conversion)" in t for t in texts)
    assert not any("bottleneck" in t for t in texts)


def test_the_report_calls_the_worst_stage_lowest_converting(tmp_path):
    simulate(["replications=1", "horizon_days=60", "warmup_days=30"], outdir=tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "Lowest-converting stage: **" in report
    assert "bottleneck" not in report.lower()


ROOT = Path(__file__).resolve().parents[1]


def test_the_help_points_to_a_readme_section_that_exists_and_sets_validation_apart():
    out = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    pointers = re.findall(r'README\.md, "([^"]+)"', out.stdout)
    assert pointers, out.stdout
    headings = {
        ln.lstrip("#").strip()
        for ln in (ROOT / "README.md").read_text().splitlines()
        if ln[:1] == "#"
    }
    assert set(pointers) <= headings, (pointers, sorted(headings))
    assert "mmc, tandem and funnel_algebra are validation presets" in out.stdout


def test_sim_simulate_has_a_real_docstring():
    import inspect

    import sim

    doc = sim.simulate.__doc__ or ""
    assert len(doc.split()) > 40 and "See sim.api.simulate" not in doc
    for word in ("overrides", "outdir", "summary", "replications", "ConfigError"):
        assert word in doc
    # the wrapper takes the same arguments as the function it calls
    from sim import api

    assert list(inspect.signature(sim.simulate).parameters) == list(
        inspect.signature(api.simulate).parameters
    )
