"""Global sensitivity (sim.gsa): Sobol and Morris on common random numbers, their files, a known answer
and reproducibility."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.api import simulate
from sim.compose import compose_config, resolve
from sim.config import ConfigError
from sim.gsa import MORRIS_COLUMNS, SOBOL_COLUMNS, inputs_of, n_points
from sim.report import terminal_table
from tests.conftest import scenario
from tests.test_html_report import self_contained

BUDGET = "channels.paid_search.budget_month"
AE = "team.ae.count"
# Lead arrivals depend on the paid-search budget (leads ~ budget^0.7) and not at all on AE headcount:
# on common random numbers a point's leads are exactly those of any point with the same budget.
FACTORS = [
    f"+uncertainties={{{BUDGET}: null}}",
    f"+levers={{{AE}: {{low: 6, high: 10}}}}",
    "+gsa.metrics=[leads]",
]


# Short runs: leads need no warm-up, and two replications a point keep each test to seconds.
SHORT = ["replications=2", "horizon_days=60", "warmup_days=0"]


def sobol(tmp, *extra: str, n: int = 4):
    return simulate([*SHORT, *FACTORS, "+gsa.method=sobol", f"+gsa.n={n}", *extra], outdir=tmp)


@pytest.fixture(scope="module")
def sobol16(tmp_path_factory):
    """One Sobol run (N=16: 64 points x 2 replications) that several checks read."""
    out = tmp_path_factory.mktemp("sobol")
    return sobol(out, n=16), out


def test_sobol_ranks_the_driver_first_and_gives_an_input_that_cannot_matter_zero(sobol16):
    res, out = sobol16
    table = pd.read_csv(out / "sobol.csv")
    assert list(table.columns[: len(SOBOL_COLUMNS)]) == SOBOL_COLUMNS
    rows = table.set_index("parameter")
    # AE headcount leaves every point's leads unchanged (common random numbers), so Saltelli's
    # estimators give it exactly 0, with a zero-width bootstrap interval.
    assert rows.loc[AE, "ST"] == pytest.approx(0.0, abs=1e-12)
    assert rows.loc[AE, "S1"] == pytest.approx(0.0, abs=1e-12)
    assert rows.loc[AE, "ST_conf"] == pytest.approx(0.0, abs=1e-12)
    # The budget is the only driver, so its true S1 = ST = 1; at N=16 the bootstrap half-width is
    # about 0.5 (it is in the table), so the check is that 1 lies within the estimate's interval and
    # the interval excludes AE's 0.
    for col in ("S1", "ST"):
        est, conf = rows.loc[BUDGET, col], rows.loc[BUDGET, f"{col}_conf"]
        assert est - conf <= 1.0 <= est + conf, (col, est, conf)
        assert est - conf > 0, (col, est, conf)
    assert list(rows["kind"]) == ["uncertainty", "lever"]
    g = res.summary["gsa"]
    assert g["points"] == n_points(scenario(*FACTORS, "+gsa.method=sobol", "+gsa.n=16")[1].gsa, 2)
    assert g["points"] == 16 * (2 + 2) and g["runs"] == g["points"] * 2
    assert (out / "sobol.png").stat().st_size > 0
    assert "# Global sensitivity: Sobol indices" in (out / "report.md").read_text()
    # report.html: the metric's ranking first, the figure inside, nothing fetched
    page = self_contained(out / "report.html", images=1)
    assert re.findall(r"<h2>(.*?)</h2>", page)[0].startswith("Leads")


def test_every_sample_point_runs_the_same_replication_seeds(sobol16):
    res, out = sobol16
    points = pd.read_csv(out / "sobol_points.csv")
    reps = res.replications.pivot(index="point", columns="replication", values="leads")
    # Points with the same budget have identical leads in every replication (AE headcount cannot
    # move them): the replication seeds do not depend on the point.
    repeated = [list(ix) for ix in points.groupby(BUDGET).groups.values() if len(ix) > 1]
    assert repeated, "Saltelli's AB matrix for AE keeps each A-row budget"
    for ix in repeated:
        assert (reps.loc[ix].nunique() == 1).all()
    assert reps.nunique().min() > 1  # and different budgets do give different leads


def test_whole_number_inputs_are_rounded_and_stay_in_range(sobol16):
    _, out = sobol16
    ae = pd.read_csv(out / "sobol_points.csv")[AE]
    assert (ae == ae.round()).all()
    assert ae.between(6, 10).all()
    assert {6, 10} <= set(ae)  # the widened uniform reaches the ends, not only the middle


def test_an_input_with_fractional_bounds_is_not_rounded():
    cfg = compose_config(
        [
            "+levers={team.ae.count: {low: 6, high: 10}, segments.mid.size_elasticity.days: null}",
            "+uncertainties={segments.mid.contract_months: {low: 11.5, high: 13.5}}",
            "+gsa.method=morris",
        ]
    )
    _, rs = resolve(cfg)
    inputs = inputs_of(rs, OmegaConf.to_container(cfg, resolve=True))
    assert {i.key: i.whole for i in inputs} == {
        "segments.mid.contract_months": False,  # a whole baseline (12), fractional bounds
        "team.ae.count": True,
        "segments.mid.size_elasticity.days": False,  # 0.5
    }


def test_same_seed_gives_identical_files_whatever_the_workers(tmp_path):
    sobol(tmp_path / "a", "workers=1")
    sobol(tmp_path / "b", "workers=2", "executor.kind=local")
    for name in ("sobol.csv", "sobol_points.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    sobol(tmp_path / "c", "seed=7")
    assert (tmp_path / "a" / "sobol_points.csv").read_bytes() != (
        tmp_path / "c" / "sobol_points.csv"
    ).read_bytes()


def test_second_order_adds_the_pairs_at_the_documented_cost(tmp_path):
    res = sobol(tmp_path, "+gsa.second_order=true")
    g = res.summary["gsa"]
    assert g["points"] == 4 * (2 * 2 + 2)
    s2 = np.array(g["metrics"]["leads"]["S2"])
    assert s2.shape == (2, 2)
    conf = np.array(g["metrics"]["leads"]["S2_conf"])
    # the pair's true S2 is 0 (AE headcount is inert for leads); Saltelli's S2 estimator is not
    # exactly 0 at N=4, so the check is that 0 lies within its bootstrap interval
    assert abs(s2[0, 1]) <= conf[0, 1], (s2[0, 1], conf[0, 1])


def test_morris_screens_out_the_inert_input(tmp_path):
    res = simulate([*SHORT, *FACTORS, "+gsa.method=morris", "+gsa.trajectories=4"], outdir=tmp_path)
    table = pd.read_csv(tmp_path / "morris.csv")
    assert list(table.columns[: len(MORRIS_COLUMNS)]) == MORRIS_COLUMNS
    rows = table.set_index("parameter")
    assert rows.loc[AE, "mu_star"] == pytest.approx(0.0, abs=1e-9)
    assert rows.loc[AE, "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert rows.loc[BUDGET, "mu_star"] > 0
    # leads rise with the budget: every elementary effect is positive, so mu = mu*
    assert rows.loc[BUDGET, "mu"] == pytest.approx(rows.loc[BUDGET, "mu_star"])
    assert res.summary["gsa"]["points"] == 4 * (2 + 1)
    assert (tmp_path / "morris.png").stat().st_size > 0
    text = terminal_table(res.summary)  # what `salesim` prints at the end of the run
    assert "morris: 12 sample points x 2 replications" in text
    assert text.index(BUDGET) < text.index(AE)  # ranked by mu*


def test_a_metric_that_is_not_one_stops_before_the_sample_runs():
    with pytest.raises(ConfigError, match="gsa.metrics: 'lead'"):
        simulate([*SHORT, *FACTORS[:2], "+gsa.method=morris", "+gsa.metrics=[lead]"])


def test_a_sampled_value_the_schema_rejects_names_the_point():
    # a normal distribution reaches below 0, which a contact probability cannot be
    with pytest.raises(ConfigError, match="at the sample point"):
        simulate(
            [
                *SHORT,
                "+uncertainties={team.sdr.contact_prob: {dist: normal, mean: 0.3, sd: 1.0}}",
                "+gsa.method=sobol",
                "+gsa.n=4",
            ]
        )


def test_a_distribution_salib_cannot_sample_is_one_config_error_line():
    # SALib's triangular distribution needs a non-negative upper end
    with pytest.raises(ConfigError, match="gsa: SALib rejected the inputs") as exc:
        simulate(
            [
                *SHORT,
                "+uncertainties={segments.mid.size_elasticity.win: "
                "{dist: triang, low: -0.3, high: -0.1, peak: -0.2}}",
                "+gsa.method=morris",
            ]
        )
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("preset", "points", "runs"), [("sobol", 576, 4608), ("morris", 160, 1600)]
)
def test_the_presets_are_valid_and_cost_what_the_docs_say(preset, points, runs):
    # docs/experiments.md and experiments/README.md quote these sizes and their measured times
    sc, rs = scenario(f"experiment={preset}", fast=False)
    k = len(rs.uncertainties or {}) + len(rs.levers or {})
    assert (k, rs.gsa.method) == (7, preset)
    assert n_points(rs.gsa, k) == points and points * sc.replications == runs
