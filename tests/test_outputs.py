"""What a run writes, and the Python API that returns the same things."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import simulate
from tests.test_html_report import self_contained

ROOT = Path(__file__).resolve().parents[1]
STATS = {"mean", "std", "p5", "p10", "p50", "p90", "p95", "ci95_low", "ci95_high"}
REQUIRED = (
    "win_rate",
    "cycle_days",
    "cac",
    "cac_payback_months",
    "clv",
    "ltv_to_cac",
    "bookings",
    "arr_end",
    "new_customers",
    "leads",
    "sdr_wait_days",
    "ae_utilization",
    "win_rate.plg",
    "win_rate.mlg",
    "win_rate.slg",
    "win_rate.csl",
)


def _reject_constant(name):
    raise ValueError(f"non-strict JSON constant {name}")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "replications=3",
            "horizon_days=120",
            "warmup_days=60",
            f"hydra.run.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_the_cli_writes_every_output_file(cli_run):
    out, _ = cli_run
    for f in (
        "summary.json",
        "replications.parquet",
        "monthly.parquet",
        "funnel.parquet",
        "opportunities_rep0.csv",
        "metrics_distributions.png",
        "forecast_fan.png",
        "funnel.png",
        "report.md",
        "report.html",
    ):
        assert (out / f).is_file(), f
    assert not list(out.parent.glob(f".{out.name}.partial-*"))


def test_report_html_is_report_md_with_its_figures_inside(cli_run):
    """report.html beside report.md: the same headings, its three figures embedded, the full
    setup folded at the end (tests/test_html_report.py checks the page itself)."""
    out, _ = cli_run
    page = self_contained(out / "report.html", images=3)
    md = (out / "report.md").read_text()
    heads = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert heads and re.findall(r"<h2>(.*?)</h2>", page) == heads
    assert "<details><summary>Full setup" in page and "replications: 3" in page


def test_summary_json_is_strict_and_has_the_documented_shape(cli_run):
    out, _ = cli_run
    s = json.loads((out / "summary.json").read_text(), parse_constant=_reject_constant)
    assert s["seed"] == 42 and "numpy" in s["versions"]
    scen = s["scenarios"]["baseline"]
    assert scen["replications"] == 3
    for k in REQUIRED:
        assert STATS <= set(scen["metrics"][k]), k
    # a metric that does not apply is null: CS-led expansion creates no new customers, so no CAC
    assert scen["metrics"]["cac.csl"]["mean"] is None


def test_the_terminal_shows_a_summary_table(cli_run):
    _, proc = cli_run
    assert "win_rate" in proc.stdout and "results:" in proc.stdout


def test_tables_have_a_row_per_replication_and_month(cli_run):
    out, _ = cli_run
    reps = pd.read_parquet(out / "replications.parquet")
    assert list(reps["replication"]) == [0, 1, 2]
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert {"bookings", "arr", "pipeline_open", "customers"} <= set(monthly.columns)
    assert len(monthly) == 3 * monthly["month"].nunique()
    crm = pd.read_csv(out / "opportunities_rep0.csv")
    assert {
        "created_date",
        "close_date",
        "stage",
        "outcome",
        "amount",
        "owner",
        "segment",
        "source",
    } <= set(crm.columns)


def test_csv_tables_on_request(tmp_path):
    simulate(["replications=1", "horizon_days=60", "warmup_days=30", "tables=csv"], outdir=tmp_path)
    assert (tmp_path / "replications.csv").is_file()
    assert not (tmp_path / "replications.parquet").exists()


def test_python_api_returns_the_summary_json_dict_and_data_frames(tmp_path):
    res = simulate(
        ["motion=plg", "replications=2", "horizon_days=90", "warmup_days=30"], outdir=tmp_path
    )
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert res.summary == on_disk
    assert isinstance(res.replications, pd.DataFrame) and len(res.replications) == 2
    assert isinstance(res.monthly, pd.DataFrame) and isinstance(res.opportunities, pd.DataFrame)


@pytest.mark.parametrize("motion", ["mix", "plg", "slg", "mlg", "csl"])
def test_every_motion_preset_runs(motion):
    res = simulate([f"motion={motion}", "replications=2", "horizon_days=120", "warmup_days=60"])
    m = res.summary["scenarios"]["baseline"]["metrics"]
    assert m["arr_end"]["p50"] > 0
    if motion != "csl":
        assert m["new_customers"]["p50"] > 0
    else:  # CS-led: no acquisition, expansion of the installed base only
        assert m["new_customers"]["p50"] == 0 and m["bookings_expansion"]["p50"] > 0


def test_the_report_says_which_presets_and_overrides_made_the_run(cli_run):
    out, _ = cli_run
    lines = (out / "report.md").read_text().splitlines()
    assert lines[2] == (
        "Setup: company `midmarket_saas`, motion `mix`; overrides "
        "`replications=3 horizon_days=120 warmup_days=60`."
    ), lines[:4]


def test_python_and_the_command_write_the_same_report(cli_run, tmp_path):
    """simulate(..., outdir) writes the very report.md the command wrote for the same overrides,
    setup line included; how the run executed (executor, workers, progress) is left out of it."""
    from sim.api import simulate

    out, _ = cli_run
    run = ["replications=3", "horizon_days=120", "warmup_days=60"]
    simulate([*run, "executor=serial", "progress=false"], outdir=tmp_path / "py")
    assert (tmp_path / "py" / "report.md").read_text() == (out / "report.md").read_text()
