"""Several scenarios in one run: common random numbers, paired differences, files, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.api import simulate
from sim.compare import paired, verdict
from sim.config import ConfigError
from tests.conftest import FAST, scenario
from tests.test_html_report import self_contained

REPO = Path(__file__).resolve().parents[1]
FIELDS = {"n", "diff_mean", "ci95_low", "ci95_high", "p_better", "p_worse"}


def test_paired_difference_matches_scipy_and_counts_wins_in_the_good_direction():
    a = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    b = np.array([1.5, 1.0, 4.0, 6.0, 9.0])
    c = paired(a, b, direction=-1)  # lower is better: B beats A only where b < a
    d = (b - a)[:4]
    lo, hi = stats.t.interval(0.95, 3, loc=d.mean(), scale=d.std(ddof=1) / 2)
    assert c["n"] == 4  # the NaN replication is left out of the pairs
    assert c["diff_mean"] == pytest.approx(d.mean())
    assert (c["ci95_low"], c["ci95_high"]) == pytest.approx((lo, hi))
    assert c["p_better"] == pytest.approx(0.25) and c["p_worse"] == pytest.approx(0.75)
    assert paired(a, b, None)["p_better"] is None and paired(a, b, None)["p_worse"] is None
    assert paired(a, a, 1) | {} == {
        "n": 4,
        "diff_mean": 0.0,
        "ci95_low": 0.0,
        "ci95_high": 0.0,
        "p_better": 0.0,  # ties are neither wins
        "p_worse": 0.0,  # nor losses
    }
    assert verdict(c) == "noise" and verdict({"ci95_low": 0.1, "ci95_high": 0.3}) == "clear"


def test_identical_scenarios_differ_by_exactly_zero():
    """Common random numbers: a scenario compared with an identical copy of itself has the same
    value in every replication, so every paired difference is 0 with a zero-width interval."""
    res = simulate(
        [*FAST, "replications=3", "+compare.baseline=a", "+compare.scenarios={a: [], b: []}"]
    )
    comp = res.summary["comparisons"]["b vs a"]
    for metric, c in comp.items():
        if c["n"]:
            assert c["diff_mean"] == 0.0 and c["ci95_low"] == c["ci95_high"] == 0.0, metric


def test_a_budget_increase_is_a_clear_gain_in_leads_with_a_paired_interval():
    """Doubling paid search must add leads in every replication (CRN keeps the other channels'
    draws identical), and the comparison carries the interval and P(better) = 1."""
    res = simulate(
        [
            *FAST,
            "replications=5",
            "+compare.baseline=base",
            "+compare.scenarios={base: [], paid_x2: ['channels.paid_search.budget_month=300000']}",
        ]
    )
    c = res.summary["comparisons"]["paid_x2 vs base"]["leads"]
    assert set(c) == FIELDS
    assert c["ci95_low"] > 0 and c["p_better"] == 1.0
    reps = res.replications.pivot(index="replication", columns="scenario", values="leads")
    assert (reps["paid_x2"] > reps["base"]).all()


def test_compare_motions_writes_every_scenario_and_comparison(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "experiment=compare_motions",
            *FAST,
            "replications=3",
            f"hydra.run.dir={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] == "mix"
    assert list(summary["scenarios"]) == ["mix", "plg", "mlg", "slg"]
    assert list(summary["comparisons"]) == ["plg vs mix", "mlg vs mix", "slg vs mix"]
    for comp in summary["comparisons"].values():
        assert set(comp["win_rate"]) == FIELDS
    reps = pd.read_parquet(out / "replications.parquet")
    assert reps.groupby("scenario").size().to_dict() == {"mix": 3, "mlg": 3, "plg": 3, "slg": 3}
    crm = pd.read_csv(out / "opportunities_rep0.csv")
    assert set(crm["scenario"]) == {"mix", "plg", "mlg", "slg"}
    for f in ("comparison.png", "forecast_fan.png", "funnel_mix.png", "report.md"):
        assert (out / f).stat().st_size > 0, f
    report = (out / "report.md").read_text()
    assert "## plg vs mix" in report and "Clear differences" in report
    # report.html: the verdicts before the medians, every figure embedded
    page = self_contained(out / "report.html", images=3)
    heads = re.findall(r"<h2>(.*?)</h2>", page)
    assert heads[:5] == ["What each change buys", "plg vs mix", "mlg vs mix", "slg vs mix",
                         "Median of each scenario"]  # fmt: skip
    assert "paired difference from mix" in proc.stdout


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["+compare.baseline=zz", "+compare.scenarios={a: [], b: []}"], "compare.baseline"),
        (["+compare.baseline=a", "+compare.scenarios={a: []}"], "at least two scenarios"),
        (
            ["+compare.baseline=a", "+compare.scenarios={a: [], b: ['replications=4']}"],
            "compare.scenarios.b: replications",
        ),
        (
            ["+compare.baseline=a", "+compare.scenarios={a: [], b: ['motion=nosuch']}"],
            "compare.scenarios.b",
        ),
        (
            ["+compare.baseline=a", "+compare.scenarios={a: [], b: ['team.ae.count=-1']}"],
            "team.ae.count",
        ),
    ],
)
def test_bad_comparisons_are_one_clear_line(overrides, needle):
    with pytest.raises(ConfigError) as exc:
        simulate([*FAST, "replications=1", *overrides])
    text = str(exc.value)
    assert text.startswith("config error: ") and needle in text, text
    assert "\n" not in text


# --- sensitivity (tornado) ------------------------------------------------------------------------


def test_swing_values_move_whole_numbers_by_at_least_one():
    from sim.sensitivity import swing_values

    assert swing_values("k", 100.0, 0.2) == pytest.approx((80.0, 120.0))
    assert swing_values("k", 3, 0.1) == (2, 4)  # 2.7 and 3.3 would round back to 3
    assert swing_values("k", 10, 0.2) == (8, 12)
    for bad in (0, "x", True):
        with pytest.raises(ConfigError, match="sensitivity.inputs.k"):
            swing_values("k", bad, 0.2)


def test_tornado_ranks_inputs_by_paired_swing(tmp_path):
    res = simulate(
        [
            *FAST,
            "replications=3",
            "+sensitivity.metrics=[leads]",
            "+sensitivity.inputs={channels.paid_search.budget_month: null, team.ae.count: [9, 11]}",
        ],
        outdir=tmp_path,
    )
    t = res.summary["sensitivity"]["leads"]
    names = [r["input"] for r in t["inputs"]]
    # AE headcount does not create leads; the paid-search budget does (leads ~ budget^0.7).
    assert names == ["channels.paid_search.budget_month", "team.ae.count"]
    top = t["inputs"][0]
    budget = scenario()[0].channels["paid_search"].budget_month  # swung by +-20 % (the default)
    assert (top["low"], top["high"]) == pytest.approx((0.8 * budget, 1.2 * budget))
    assert top["low_diff"] < 0 < top["high_diff"]
    assert top["high_ci95"][0] > 0  # the paired interval excludes zero
    ae = t["inputs"][1]
    assert ae["low_diff"] == ae["high_diff"] == 0.0  # CRN: lead arrivals do not depend on AEs
    assert set(res.replications["scenario"]) == {
        "baseline",
        f"channels.paid_search.budget_month={round(0.8 * budget)}",
        f"channels.paid_search.budget_month={round(1.2 * budget)}",
        "team.ae.count=9",
        "team.ae.count=11",
    }
    assert (tmp_path / "tornado.png").stat().st_size > 0
    assert "## Sensitivity of leads" in (tmp_path / "report.md").read_text()
    # report.html leads with the ranking and embeds the tornado with the other figures
    page = self_contained(tmp_path / "report.html", images=4)
    assert re.findall(r"<h2>(.*?)</h2>", page)[0] == "Sensitivity of leads"
    # the bar's whole length carries its interval too: high against low, paired by replication
    wide = res.replications.pivot(index="replication", columns="scenario", values="leads")
    d = (
        wide[f"channels.paid_search.budget_month={round(1.2 * budget)}"]
        - wide[f"channels.paid_search.budget_month={round(0.8 * budget)}"]
    ).to_numpy()
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=d.std(ddof=1) / len(d) ** 0.5)
    assert top["range"] == pytest.approx(d.mean())
    assert top["range_ci95"] == pytest.approx([lo, hi])
    assert ae["range_ci95"] == [0.0, 0.0]
    table = pd.read_csv(tmp_path / "tornado.csv")
    assert list(table["input"]) == names
    assert table.loc[0, ["range_ci95_low", "range_ci95_high"]].tolist() == pytest.approx([lo, hi])
    assert table.loc[0, "high_ci95_low"] == pytest.approx(top["high_ci95"][0])


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["+sensitivity.inputs={team.ae.nosuch: null}"], "sensitivity.inputs.team.ae.nosuch"),
        (["+sensitivity.inputs={scenario.name: null}"], "not a number"),
        (["+sensitivity.inputs={team.ae.count: [12, 8]}"], "low < high"),
        (["+sensitivity.inputs={team.ae.count: null}", "+sensitivity.metrics=[nosuch]"], "nosuch"),
    ],
)
def test_bad_sensitivity_is_one_clear_line(overrides, needle):
    with pytest.raises(ConfigError) as exc:
        simulate([*FAST, "replications=1", *overrides])
    text = str(exc.value)
    assert text.startswith("config error: ") and needle in text, text


@pytest.mark.parametrize(
    ("gain", "cost", "want"),
    [
        ((2.0, 1.5, 2.5), (1.0, 0.9, 1.1), "$2.00"),
        ((2.0, 1.5, 2.5), (-1.0, -1.1, -0.9), "more bookings for less cost"),
        ((2.0, 1.5, 2.5), (0.1, -0.1, 0.3), "more bookings at no added cost"),
        ((-2.0, -2.5, -1.5), (1.0, 0.9, 1.1), "fewer bookings for more cost"),
        ((0.1, -0.2, 0.4), (1.0, 0.9, 1.1), "n/a (bookings within noise)"),
        # equal costs whose difference is floating-point noise, 'clear' by its interval: once read
        # as $2,777,477,251,650,530 of bookings per $1 (segment_fit's ent_mlg)
        ((6.9e5, 3.6e5, 1.0e6), (2.5e-10, 7.9e-12, 4.9e-10), "more bookings at no added cost"),
    ],
)
def test_what_a_change_buys_names_every_case(gain, cost, want):
    """segment_fit's mid_plg raised bookings and cut cost, and read as a bare n/a like a loser."""
    from sim.report import _buys

    def c(m, lo, hi):
        return {"diff_mean": m, "ci95_low": lo, "ci95_high": hi}

    assert _buys(c(*gain), c(*cost)) == want


def test_a_money_difference_below_a_cent_reads_zero():
    """Rounding noise of equal amounts (2.5e-10 dollars) is $0 in a table, not '+$2.5e-10'."""
    from sim.report import _diff_cell

    cell = _diff_cell("sm_cost", {"diff_mean": 2.5e-10, "ci95_low": 7.9e-12, "ci95_high": 4.9e-10})
    assert cell == "$0 ($0..$0)"
