"""Sweeps: the gathered table, failure-tolerant jobs, re-runs that skip complete jobs, the joblib
launcher, and the objective a preset may give its grid's jobs (the best job is named)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.config import ConfigError
from sim.sweep import Objective, SweepJob, gather, objective_spec
from tests.test_html_report import self_contained

ROOT = Path(__file__).resolve().parents[1]
# Tiny runs: the subprocess tests check sweep mechanics, not numbers.
TINY = [
    "replications=2",
    "horizon_days=60",
    "warmup_days=30",
    "executor=serial",
    "progress=false",
]
# A 2 x 2 grid whose team.ae.count = -1 row is bad input: both failure and success in one sweep.
GRID = ["team.ae.count=-1,6", "channels.paid_search.budget_month=75000,150000"]


# --- the table, from job directories written by hand --------------------------------------------


def _stats(v: float) -> dict:
    return {"n": 2, "mean": v, "p10": v - 1, "p50": v, "p90": v + 1}


def _job(sweep: Path, name: str, overrides: list[str], scenarios: dict | None, **extra) -> Path:
    d = sweep / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if scenarios is not None:
        summary = {
            "scenarios": {
                s: {"replications": 2, "metrics": {m: _stats(v) for m, v in ms.items()}}
                for s, ms in scenarios.items()
            },
            **extra,
        }
        (d / "summary.json").write_text(json.dumps(summary))
        (d / "job.json").write_text(json.dumps({"status": "ok", "overrides": overrides}))
    return d


def test_table_has_a_row_per_job_and_a_column_per_override_and_statistic(tmp_path):
    for i, (ae, budget) in enumerate([(6, 75000), (6, 150000), (9, 75000), (9, 150000)]):
        ov = [f"team.ae.count={ae}", f"channels.paid_search.budget_month={budget}", "seed=1"]
        _job(tmp_path, str(i), ov, {"baseline": {"win_rate": 0.2 + i / 100, "arr_end": 1e6}})
    table, params = gather(tmp_path)
    assert params == ["team.ae.count", "channels.paid_search.budget_month", "seed"]
    assert list(table["job"]) == ["0", "1", "2", "3"]
    assert list(table.columns[:7]) == ["job", "scenario", "status", "error", *params]
    assert list(table["team.ae.count"]) == [6, 6, 9, 9]
    assert table["channels.paid_search.budget_month"].dtype.kind == "i"
    assert list(table["win_rate.p50"]) == pytest.approx([0.20, 0.21, 0.22, 0.23])
    assert {"win_rate.mean", "win_rate.p10", "win_rate.p90", "arr_end.n"} <= set(table.columns)
    assert set(table["status"]) == {"ok"}
    assert "objective" not in table  # no objective in a plain sweep


def test_jobs_sort_naturally_and_may_sit_in_nested_subdirs(tmp_path):
    for i in (10, 2, 1):
        _job(tmp_path, f"ae/{i}", [f"team.ae.count={i}"], {"baseline": {"win_rate": 0.1}})
    table, _ = gather(tmp_path)
    assert list(table["job"]) == ["ae/1", "ae/2", "ae/10"]


def test_a_single_run_inside_the_sweep_directory_is_not_a_job(tmp_path):
    _job(tmp_path, "0", ["team.ae.count=6"], {"baseline": {"win_rate": 0.2}})
    d = _job(tmp_path, "single", ["team.ae.count=7"], {"baseline": {"win_rate": 0.2}})
    (d / ".hydra" / "hydra.yaml").write_text("hydra:\n  mode: RUN\n")
    table, _ = gather(tmp_path)
    assert list(table["job"]) == ["0"]


def test_a_multi_scenario_job_gives_a_row_per_scenario_with_its_comparison(tmp_path):
    comp = {"plg vs mix": {"win_rate": {"diff_mean": 0.05, "ci95_low": 0.01, "ci95_high": 0.09}}}
    _job(
        tmp_path,
        "0",
        ["experiment=compare_motions"],
        {"mix": {"win_rate": 0.2}, "plg": {"win_rate": 0.25}},
        baseline="mix",
        comparisons=comp,
    )
    table, _ = gather(tmp_path)
    assert list(table["scenario"]) == ["mix", "plg"]
    assert table["vs_baseline.win_rate.diff_mean"].isna().tolist() == [True, False]
    assert table["vs_baseline.win_rate.ci95_low"].iloc[1] == 0.01


def test_failed_and_unfinished_jobs_have_a_row_with_their_error(tmp_path):
    _job(tmp_path, "0", ["team.ae.count=6"], {"baseline": {"win_rate": 0.2}})
    d = _job(tmp_path, "1", ["team.ae.count=-1"], None)
    (d / "failure.json").write_text(json.dumps({"status": "failed", "error": "config error: x"}))
    d = _job(tmp_path, "2", ["team.ae.count=7"], {"baseline": {"win_rate": 0.2}})
    (d / "job.json").unlink()  # summary.json from an earlier run, but this run never finished
    table, _ = gather(tmp_path)
    assert list(table["status"]) == ["ok", "failed", "incomplete"]
    assert table["error"].iloc[1] == "config error: x"
    assert table["scenario"].isna().tolist() == [False, True, True]
    assert list(table["team.ae.count"]) == [6, -1, 7]


def test_an_override_value_that_is_not_a_number_turns_its_column_into_text(tmp_path):
    _job(tmp_path, "0", ["team.ae.count=6"], {"baseline": {"win_rate": 0.2}})
    d = _job(tmp_path, "1", ["team.ae.count=many"], None)
    (d / "failure.json").write_text(json.dumps({"status": "failed", "error": "e"}))
    table, _ = gather(tmp_path)
    assert list(table["team.ae.count"]) == ["6", "many"]
    table.to_parquet(tmp_path / "t.parquet")  # one type per column, so parquet accepts it


# --- skipping complete jobs ---------------------------------------------------------------------


def test_a_job_is_complete_only_with_the_same_overrides_and_config(tmp_path):
    d = _job(tmp_path, "0", ["team.ae.count=6"], {"baseline": {"win_rate": 0.2}})
    SweepJob(d, ["team.ae.count=6"], "abc").finish(None)
    assert SweepJob(d, ["team.ae.count=6"], "abc").complete
    assert (d / "job.json").exists()
    # another config under the same overrides (an edited preset): not complete, marker removed
    assert not SweepJob(d, ["team.ae.count=6"], "xyz").complete
    assert not (d / "job.json").exists()
    assert not SweepJob(d, ["team.ae.count=6"], "abc").complete


# --- the objective ------------------------------------------------------------------------------


PAYBACK = ({"metric": "cac_payback_months", "stat": "p50", "max": 18},)


def _summary(arr: float, payback: float | None) -> dict:
    m = {"arr_end": {"mean": arr}, "cac_payback_months": {"p50": payback}}
    return {"scenarios": {"s": {"metrics": m}}}


def test_a_feasible_job_returns_its_metric():
    assert Objective("arr_end", "mean", None, PAYBACK).score(_summary(2e7, 17.9)) == (2e7, True)


def test_a_job_breaking_the_constraint_returns_minus_its_relative_excess():
    value, feasible = Objective("arr_end", "mean", None, PAYBACK).score(_summary(9e7, 20.0))
    assert not feasible
    assert value == pytest.approx(-2 / 18)
    worse, _ = Objective("arr_end", "mean", None, PAYBACK).score(_summary(9e7, 27.0))
    assert worse < value < 0  # a near miss ranks above a far miss, both below any feasible job


def test_an_undefined_constraint_metric_counts_as_broken():
    assert Objective("arr_end", "mean", None, PAYBACK).score(_summary(1e7, None)) == (-1.0, False)


def test_an_objective_metric_the_run_does_not_have_is_an_error_naming_the_key():
    obj = Objective("arr_ned", "mean", None, PAYBACK, "optimise_budget.objective")
    with pytest.raises(ConfigError, match="optimise_budget.objective.metric = 'arr_ned'"):
        obj.score(_summary(1e7, 12.0))


def _cfg(objective) -> object:
    from omegaconf import OmegaConf

    return OmegaConf.create({"optimise_budget": {"objective": objective}})


def test_a_preset_objective_is_read_from_its_namespace():
    from sim.api import compose_config

    spec = {"metric": "arr_end", "constraints": [{"metric": "cac_payback_months", "max": 18}]}
    obj = objective_spec(_cfg(spec))
    assert obj == Objective("arr_end", "mean", None, PAYBACK, "optimise_budget.objective")
    assert objective_spec(compose_config([])) is None
    # the optimisation presets drive Optuna themselves (sim/optimise.py), with no sweep objective
    assert objective_spec(compose_config(["experiment=optimise_budget"])) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metric": "arr_end", "stat": "p42"}, "optimise_budget.objective.stat = 'p42'"),
        ({"metric": "arr_end", "direction": "minimize"}, "only 'maximize'"),
        ({"metric": "arr_end", "goal": 1}, "optimise_budget.objective.goal: unknown key"),
        (
            {"metric": "arr_end", "constraints": [{"metric": "cac"}]},
            "optimise_budget.objective.constraints[0]",
        ),
        (
            {"metric": "arr_end", "constraints": [{"metric": "cac", "max": "low"}]},
            "constraints[0].max = 'low': a number is required",
        ),
    ],
)
def test_a_bad_objective_is_one_line_naming_the_key(spec, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        objective_spec(_cfg(spec))
    assert "\n" not in str(e.value)


# --- real sweeps through the salesim command ----------------------------------------------------


def salesim(*args: str, sweep_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", "-m", *args, f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """One real 2 x 2 sweep whose team.ae.count = -1 row is rejected: 2 jobs fail, 2 complete."""
    out = tmp_path_factory.mktemp("sweep") / "basic"
    proc = salesim(*GRID, *TINY, sweep_dir=out)
    return out, proc


def test_a_2x2_sweep_writes_one_table_and_a_heat_map(grid_sweep):
    out, proc = grid_sweep
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert list(table["job"]) == ["0", "1", "2", "3"]
    pairs = zip(table["team.ae.count"], table["channels.paid_search.budget_month"], strict=True)
    assert list(pairs) == [(-1, 75000), (-1, 150000), (6, 75000), (6, 150000)]
    assert list(table["status"]) == ["failed", "failed", "ok", "ok"]
    assert table["win_rate.p50"].isna().tolist() == [True, True, False, False]
    assert table["win_rate.p50"].iloc[2:].between(0, 1).all()
    assert {"win_rate.mean", "win_rate.p10", "win_rate.p90", "arr_end.p50"} <= set(table.columns)
    csv = pd.read_csv(out / "sweep_summary.csv")
    assert list(csv.columns) == list(table.columns)
    # money in the CSV is in cents (the Parquet keeps full precision), like a run's CSVs
    money = csv["arr_end.p50"].dropna()
    assert len(money) and (money.round(2) == money).all()
    assert not (table["arr_end.mean"].dropna().round(2) == table["arr_end.mean"].dropna()).all()
    assert (out / "response.png").stat().st_size > 10_000
    assert "sweep: 4 jobs (2 failed, 2 ok)" in proc.stdout
    # report.md and report.html: a row per job, the failures with their error, the figure inside
    page = self_contained(out / "report.html", images=1)
    assert "team.ae.count = -1" in page and page.count("<td>ok</td>") == 2
    assert (out / "report.md").read_text().startswith("# Sweep: 4 jobs over")


def test_a_bad_value_fails_its_job_only_and_the_sweep_exits_2(grid_sweep):
    out, proc = grid_sweep
    assert proc.returncode == 2
    assert "team.ae.count = -1" in proc.stderr
    assert "Traceback" not in proc.stderr
    failure = json.loads((out / "0" / "failure.json").read_text())
    assert "team.ae.count = -1" in failure["error"]
    assert not (out / "0" / "summary.json").exists()
    assert (out / "2" / "summary.json").exists()
    table = pd.read_csv(out / "sweep_summary.csv")
    assert "team.ae.count = -1" in table["error"].iloc[0]
    assert table["error"].iloc[2:].isna().all()


def test_a_rerun_skips_the_complete_jobs_and_keeps_every_row(grid_sweep):
    out, _ = grid_sweep
    before = pd.read_parquet(out / "sweep_summary.parquet")
    proc = salesim(*GRID, *TINY, sweep_dir=out)
    assert proc.returncode == 2  # the rejected jobs are tried again and fail again
    assert proc.stdout.count("skipped (complete)") == 2
    after = pd.read_parquet(out / "sweep_summary.parquet")
    assert list(after["status"]) == ["failed", "failed", "skipped-complete", "skipped-complete"]
    pd.testing.assert_frame_equal(before.drop(columns="status"), after.drop(columns="status"))


@pytest.mark.slow
def test_the_joblib_launcher_gives_the_same_table(grid_sweep, tmp_path):
    out, _ = grid_sweep
    proc = salesim("hydra/launcher=joblib", *GRID, *TINY, sweep_dir=tmp_path / "j")
    assert proc.returncode == 2, proc.stderr
    basic = pd.read_parquet(out / "sweep_summary.parquet").drop(columns="status")
    joblib = pd.read_parquet(tmp_path / "j" / "sweep_summary.parquet").drop(columns="status")
    pd.testing.assert_frame_equal(basic, joblib)
