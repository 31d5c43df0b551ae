"""Optimisation with Optuna's Python API (sim/optimise.py): the files a study writes, its best trial
and Pareto front, constraints and the hard budget, pruning, reproducibility and resumption.

Tiny studies (2-3 replications of 60 days after a 30-day warm-up, 3-6 trials): they check the
mechanics on fixed seeds, not the numbers of the shipped presets."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.test_html_report import self_contained

pytest.importorskip("optuna", minversion="4")

from sim import optimise  # noqa: E402
from sim.api import simulate  # noqa: E402
from sim.config import ConfigError  # noqa: E402
from tests.test_sweep import TINY  # noqa: E402  (the same tiny run as the sweep tests)

# A 60-day window pays back CAC in 55-75 months: a 65-month limit splits these trials both ways
BUDGET = [
    "experiment=optimise_budget",
    *TINY,
    "optimise.n_startup_trials=2",
    "optimise.budget_limit_month=400000",
    "optimise.constraints=[{metric:cac_payback_months,stat:p50,max:65}]",
]
SPACE = (
    "channels.paid_search.budget_month",
    "channels.content.budget_month",
    "channels.events.budget_month",
    "team.ae.count",
)
TARGET = ["experiment=optimise_target", *TINY, "optimise.n_startup_trials=2"]


def study(overrides: list[str], out: Path) -> pd.DataFrame:
    simulate(overrides, outdir=out)
    return pd.read_parquet(out / "trials.parquet")


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """A 5-trial study of the budget preset, run once and never interrupted."""
    out = tmp_path_factory.mktemp("whole") / "run"
    return study([*BUDGET, "optimise.n_trials=5"], out), out


def test_a_single_objective_study_writes_its_files_and_names_the_best_feasible_trial(whole):
    t, out = whole
    for f in ("trials.csv", "best.yaml", "optimisation.png", "report.md", "summary.json"):
        assert (out / f).is_file(), f
    assert (out / optimise.STUDY_FILE).is_file()  # the SQLite study, kept for resumption
    assert list(t["trial"]) == list(range(len(t)))
    assert (t["state"] != "over_budget").sum() == 5  # n_trials counts the trials that ran
    # each trial's sampler is seeded with (seed, trial): the random start-up trials differ
    assert not t[list(SPACE)].head(2).duplicated().any()
    best = yaml.safe_load((out / "best.yaml").read_text())["best"]
    ok = t[t["feasible"]]
    assert len(ok), "the seed should give a feasible trial"
    # the best is the feasible trial with the largest mean ARR
    assert best["trial"] == int(ok.loc[ok["arr_end.mean"].idxmax(), "trial"])
    assert best["values"]["arr_end.mean"] == pytest.approx(ok["arr_end.mean"].max())
    assert t["best"].sum() == 1
    # feasibility is exactly the payback limit among the trials that ran
    done = t[t["state"] == "complete"]
    assert (done["feasible"] == (done["cac_payback_months.p50"] <= 65)).all()
    assert done["feasible"].any() and not done["feasible"].all()
    assert "# Optimisation" in (out / "report.md").read_text()
    # report.html: the best trial first, its figure inside, nothing fetched
    page = self_contained(out / "report.html", images=1)
    assert re.findall(r"<h2>(.*?)</h2>", page)[0] == "Best trial"


def test_trials_over_the_hard_budget_are_not_run_and_never_best(tmp_path):
    # limit $220K: the seed gives trials on both sides of it (three budgets of up to $490K in all)
    t = study([*BUDGET, "optimise.n_trials=6", "optimise.budget_limit_month=220000"], tmp_path)
    over = t["total_budget_month"] > 220000
    assert over.any() and (~over).any(), "the seed should give trials on both sides of the limit"
    assert (t.loc[over, "state"] == "over_budget").all()
    assert (t.loc[over, "replications"] == 0).all()
    assert not t.loc[over, "feasible"].any() and not t.loc[over, "best"].any()
    assert (t.loc[~over, "state"] != "over_budget").all()


def test_the_same_seed_gives_the_same_trials_and_another_seed_does_not(whole, tmp_path):
    # trial i is proposed by a sampler seeded with (seed, i): a 3-trial study is the first three
    # trials of the 5-trial one, value for value
    a = study([*BUDGET, "optimise.n_trials=3"], tmp_path / "a")
    first = whole[0].head(len(a)).drop(columns="best")
    pd.testing.assert_frame_equal(a.drop(columns="best"), first)
    c = study([*BUDGET, "optimise.n_trials=3", "optimise.seed=8"], tmp_path / "c")
    assert not a["channels.paid_search.budget_month"].equals(c["channels.paid_search.budget_month"])


def test_an_interrupted_study_resumes_to_the_same_trials_and_files_as_one_never_stopped(
    whole, tmp_path, monkeypatch
):
    args = [*BUDGET, "optimise.n_trials=5"]
    out = tmp_path / "resumed"
    real = optimise.Study.evaluate
    calls = []

    def stop_at_second(self, params, report):
        calls.append(params)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second (a random) trial
        return real(self, params, report)

    monkeypatch.setattr(optimise.Study, "evaluate", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        simulate(args, outdir=out)
    monkeypatch.setattr(optimise.Study, "evaluate", real)
    assert (out / optimise.STUDY_FILE).is_file() and not (out / "summary.json").exists()
    resumed = study(args, out)  # the same command again: 1 trial loaded, 4 run
    pd.testing.assert_frame_equal(whole[0], resumed)
    for f in ("best.yaml", "trials.csv", "report.md"):
        assert (out / f).read_text().replace(str(out), "X") == (whole[1] / f).read_text().replace(
            str(whole[1]), "X"
        ), f


def test_more_trials_extend_a_finished_study_and_another_question_is_refused(whole, tmp_path):
    out = tmp_path / "run"
    assert len(study([*BUDGET, "optimise.n_trials=2"], out)) == 2
    pd.testing.assert_frame_equal(study([*BUDGET, "optimise.n_trials=5"], out), whole[0])
    with pytest.raises(ConfigError, match="optimise.storage = .*another config"):
        simulate([*BUDGET, "optimise.n_trials=5", "optimise.seed=9"], outdir=out)


def test_a_user_given_storage_file_holds_the_study(tmp_path):
    db = tmp_path / "studies" / "mine.db"
    study([*BUDGET, "optimise.n_trials=2", f"optimise.storage={db}"], tmp_path / "run")
    assert db.is_file() and not (tmp_path / "run" / optimise.STUDY_FILE).exists()


def test_pruning_stops_trials_below_the_median_after_partial_replications(tmp_path):
    t = study(
        [
            *BUDGET,
            "replications=3",
            "optimise.n_trials=6",
            "optimise.prune_every=1",
            "optimise.prune_startup_trials=1",
            "optimise.constraints=[]",
            "optimise.budget_limit_month=null",
        ],
        tmp_path,
    )
    pruned = t[t["state"] == "pruned"]
    # fixed seeds: with one startup trial and a check after every replication, some trial of six
    # falls below the median of the earlier ones; a pruned trial ran fewer replications
    assert len(pruned), t[["trial", "state", "arr_end.mean"]]
    assert (pruned["replications"] < 3).all() and pruned["arr_end.mean"].isna().all()
    assert (t.loc[t["state"] == "complete", "replications"] == 3).all()
    assert int(t.loc[t["best"], "trial"].iloc[0]) not in set(pruned["trial"])


def test_a_two_objective_study_writes_its_pareto_front(tmp_path):
    t = study([*TARGET, "optimise.n_trials=5", "optimise.objectives.0.at_least=2000000"], tmp_path)
    front = pd.read_csv(tmp_path / "pareto.csv")
    assert (tmp_path / "pareto.png").is_file()
    assert list(front["trial"]) == list(t.loc[t["pareto"], "trial"])
    assert len(front) >= 1
    share = t["bookings.share_at_least"].dropna()
    assert ((share >= 0) & (share <= 1)).all()
    recs = yaml.safe_load((tmp_path / "best.yaml").read_text())["pareto"]
    assert [r["trial"] for r in recs] == list(t.loc[t["pareto"], "trial"])


def test_the_pareto_mask_keeps_exactly_the_undominated_feasible_trials():
    df = pd.DataFrame(
        {
            "p": [0.5, 0.6, 0.6, 0.9, 0.9, 0.95],
            "cost": [1.0, 1.0, 2.0, 3.0, 3.5, 1.0],
            "feasible": [True, True, True, True, True, False],
        }
    )
    mask = optimise.pareto_mask(df, ["p", "cost"], ["maximize", "minimize"])
    # 0 is beaten by 1 (same cost, higher p); 2 by 1; 4 by 3; 5 beats all but is infeasible
    assert list(mask) == [False, True, False, True, False, False]


def test_objective_values_and_constraint_violations():
    from sim.config import StudyConstraint, StudyObjective

    x = np.array([1.0, 2.0, np.nan, 4.0])
    assert optimise.objective_value(StudyObjective(metric="m", at_least=2.0), x) == 0.5
    assert optimise.objective_value(StudyObjective(metric="m", stat="mean"), x) == pytest.approx(
        7 / 3
    )
    c = StudyConstraint(metric="m", max=18)
    assert optimise.violation(c, 20.0) == pytest.approx(2 / 18)
    assert optimise.violation(c, 9.0) == pytest.approx(-0.5)
    assert optimise.violation(c, math.nan) == 1.0


def test_an_unknown_searched_key_is_one_config_error():
    with pytest.raises(ConfigError, match=r"optimise.space.team.xx.count: no such key"):
        simulate([*BUDGET, "+optimise.space={team.xx.count: {low: 1, high: 2, int: true}}"])
