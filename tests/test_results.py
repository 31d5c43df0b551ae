"""`salesim-results` (sim/results.py): every run under a results folder in one table, bad folders
skipped with a reason; and the DuckDB queries of docs/results.md, run as written on tiny runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import results
from sim.compare import run_planned
from sim.compose import compose_config, resolve, scenario_composer
from sim.experiment import run_scenario
from sim.report import write_compare_outputs, write_outputs
from tests.conftest import FAST, scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "results.md"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder as users leave it: two finished runs (seeds 1 and 2), a comparison, a
    calibration, and the debris of runs that did not finish."""
    root = tmp_path_factory.mktemp("query") / "results"
    # the run's own writers (sim.report), without the figures: a few seconds less each
    for seed, folder in ((1, "2026-01-01/10-00-00"), (2, "2026-01-01/10-00-01")):
        sc, _ = scenario(f"seed={seed}")
        write_outputs(run_scenario(sc), sc, root / folder, figures=False)
    # what Hydra records beside a run made by `salesim` (simulate() leaves none)
    hydra = root / "2026-01-01/10-00-00/.hydra"
    hydra.mkdir()
    (hydra / "config.yaml").write_text(
        "seed: 1\nteam:\n  ae:\n    count: 9\n  sdr:\n    count: 4\n"
        "channels:\n  a:\n    budget_month: 1000\n  b:\n    budget_month: 500\n"
    )
    (hydra / "overrides.yaml").write_text("- seed=1\n- replications=2\n")
    (hydra / "hydra.yaml").write_text(
        "hydra:\n  mode: RUN\n  runtime:\n    choices:\n      company: midmarket_saas\n"
    )
    overrides = [*FAST, "+compare.baseline=a", "+compare.scenarios={a: [], b: ['team.ae.count=9']}"]
    cfg = compose_config(overrides)
    cres = run_planned(
        resolve(cfg)[1], cfg, scenario_composer(overrides), lambda s, _: run_scenario(s)
    )
    write_compare_outputs(cres, root / "cmp", figures=False)
    (root / "cmp/.hydra").mkdir()
    (root / "cmp/.hydra/config.yaml").write_text(
        "compare:\n  baseline: a\n  scenarios:\n    a: []\n    b: [team.ae.count=9]\n"
    )
    cal = root / "calibrate/cal"
    cal.mkdir(parents=True)
    (cal / "fit.json").write_text(
        json.dumps(
            {
                "data": "crm_example",
                "cutoff": "2023-12-31",
                "segments": {
                    "smb": {"deals": 30, "won": 10, "lost": 15},
                    "mid": {"deals": 20, "won": 5, "lost": 10},
                },
            }
        )
    )
    # debris: a staging folder (with a table DuckDB must not count), a run that stopped before
    # writing its summary, a damaged summary, a sweep job whose config was rejected
    stage = root / "2026-01-01/.10-00-02.partial-123-abcd"
    stage.mkdir()
    shutil.copy(root / "2026-01-01/10-00-00/replications.parquet", stage)
    (root / "stopped/.hydra").mkdir(parents=True)
    (root / "damaged").mkdir()
    (root / "damaged/summary.json").write_text("{not json")
    (root / "multirun/sw/1/.hydra").mkdir(parents=True)  # a sweep job stopped before job.json
    (root / "multirun/sw/1/.hydra/hydra.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    shutil.copy(root / "2026-01-01/10-00-01/summary.json", root / "multirun/sw/1")
    (root / "multirun/sw/0/.hydra").mkdir(parents=True)
    (root / "multirun/sw/0/failure.json").write_text(
        json.dumps({"status": "failed", "error": "config error: seed = -1: not allowed"})
    )
    return root


def _summary(root: Path, folder: str) -> dict:
    return json.loads((root / folder / "summary.json").read_text())


def test_one_row_per_run_and_scenario_with_setup_and_figures(tree: Path) -> None:
    g = results.gather(tree)
    t = g.runs.set_index(["folder", "scenario"])
    assert list(t.index) == [
        ("2026-01-01/10-00-00", "baseline"),
        ("2026-01-01/10-00-01", "baseline"),
        ("calibrate/cal", "crm_example"),
        ("cmp", "a"),
        ("cmp", "b"),
    ]
    assert t["kind"].tolist() == ["run", "run", "calibration", "compare", "compare"]
    run = t.loc[("2026-01-01/10-00-00", "baseline")]
    assert (run["seed"], run["replications"]) == (1, 2)
    assert t.loc[("2026-01-01/10-00-01", "baseline"), "seed"] == 2
    # the setup comes from the run's own record
    assert (run["team.ae.count"], run["team.sdr.count"]) == (9, 4)
    assert run["channels.budget_month"] == 1500
    assert run["company"] == "midmarket_saas"
    assert run["overrides"] == "seed=1 replications=2"
    # every figure is the summary's own number
    for folder in ("2026-01-01/10-00-00", "2026-01-01/10-00-01"):
        metrics = _summary(tree, folder)["scenarios"]["baseline"]["metrics"]
        for m in results.FIGURES:
            for st in results.STATS:
                got = t.loc[(folder, "baseline"), f"{m}.{st}"]
                assert got == pytest.approx(metrics[m][st], nan_ok=True), (folder, m, st)
    cmp = _summary(tree, "cmp")
    assert t.loc[("cmp", "b"), "baseline"] == "a"
    assert t.loc[("cmp", "b"), "scenario_overrides"] == "team.ae.count=9"
    assert pd.isna(t.loc[("cmp", "a"), "scenario_overrides"])
    assert t.loc[("cmp", "b"), "vs_baseline.bookings.diff_mean"] == pytest.approx(
        cmp["comparisons"]["b vs a"]["bookings"]["diff_mean"]
    )
    assert t.loc[("calibrate/cal", "crm_example"), "fit.win_rate"] == pytest.approx(15 / 40)


def test_bad_folders_are_skipped_with_their_reasons(tree: Path) -> None:
    skipped = dict(results.gather(tree).skipped)
    assert set(skipped) == {
        "2026-01-01/.10-00-02.partial-123-abcd",
        "stopped",
        "damaged",
        "multirun/sw/0",
        "multirun/sw/1",
    }
    assert "staging" in skipped["2026-01-01/.10-00-02.partial-123-abcd"]
    assert skipped["stopped"].startswith("unfinished")
    assert skipped["damaged"].startswith("summary.json unreadable")
    assert skipped["multirun/sw/0"] == "failed: config error: seed = -1: not allowed"
    assert skipped["multirun/sw/1"].startswith("unfinished sweep job")


def test_metrics_option_chooses_the_figure_columns(tree: Path) -> None:
    every = results.gather(tree, None).runs
    assert "sdr_wait_days.p50" in every and "sdr_wait_days.p50" not in results.gather(tree).runs
    only = results.gather(tree, ("leads",)).runs
    assert [c for c in only if c.endswith(".p50")] == ["leads.p50"]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_command_writes_the_table(
    tree: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / f"runs.{suffix}"
    assert results.main([str(tree), "--out", str(out)]) == 0
    t = pd.read_parquet(out) if suffix == "parquet" else pd.read_csv(out)
    assert len(t) == 5 and t["folder"].nunique() == 4
    full = results.gather(tree).runs
    for c in ("bookings.p50", "cac.mean", "vs_baseline.bookings.diff_mean"):
        # the CSV rounds money to cents, as every salesim CSV; Parquet keeps every digit
        want = full[c].round(2) if suffix == "csv" else full[c]
        np.testing.assert_array_equal(t[c].to_numpy(float), want.to_numpy(float))
    assert t["win_rate.p50"].to_numpy() == pytest.approx(
        full["win_rate.p50"].to_numpy(), rel=1e-12, nan_ok=True
    )
    err = capsys.readouterr().err
    assert "skipped damaged: summary.json unreadable" in err
    assert "5 row(s) from 4 run(s)" in err and "5 folder(s) skipped" in err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["/no/such/folder"], "no such folder"),
        (["{tree}", "--out", "runs.txt"], ".parquet or .csv"),
    ],
)
def test_bad_arguments_exit_2(
    tree: Path, argv: list[str], says: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        results.main([a.format(tree=tree) for a in argv])
    assert exc.value.code == 2
    assert says in capsys.readouterr().err


def _sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def test_documented_duckdb_queries_run_on_tiny_runs(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ```sql block of docs/results.md runs as written from the folder above results/, and
    the first (median bookings per run and scenario from the replications) agrees with the
    summaries: count = replications, median = P50."""
    duckdb = pytest.importorskip(
        "duckdb", reason="duckdb not installed (pip install -e '.[query]')"
    )
    monkeypatch.chdir(tree.parent)
    assert results.main(["results", "--out", "runs.parquet"]) == 0
    blocks = _sql_blocks()
    assert len(blocks) >= 3, "docs/results.md lost its DuckDB examples"
    con = duckdb.connect()
    frames = [con.sql(q).df() for q in blocks]
    assert all(len(f) for f in frames)
    first = frames[0].set_index(["run", "scenario"])
    assert len(first) == 4  # two runs, two compared scenarios; no staging folder
    for folder in ("2026-01-01/10-00-00", "2026-01-01/10-00-01", "cmp"):
        for scen, s in _summary(tree, folder)["scenarios"].items():
            row = first.loc[(f"results/{folder}", scen)]
            assert row["replications"] == s["replications"]
            assert row["bookings_p50"] == pytest.approx(s["metrics"]["bookings"]["p50"])
