"""Bad config input stops the run before any simulation (DESIGN.md "Bad input").

Each bad value must give one clear line naming the key, the value and what is allowed
(`config error: <key> = <value>: <rule>`), exit status 2, no Python traceback, and no results
directory. Hydra's own errors (unknown override key, unknown config-group option) exit 1.

Most cases run in-process through Hydra's compose API and `sim.compose.resolve`, the same path the CLI
takes; a handful run the real `python -m sim` to check exit status, stderr and the run directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from sim.compose import compose_config, resolve
from sim.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
RESULT_FILES = ("summary.json", "report.md", "report.html", "*.parquet", "*.csv", "*.png")


# --- helpers -------------------------------------------------------------------------------------


def reject(*overrides: str) -> str:
    """Compose and validate like the CLI does; return the ConfigError text (it must be raised)."""
    cfg = compose_config(list(overrides))
    with pytest.raises(ConfigError) as exc:
        resolve(cfg)
    text = str(exc.value)
    assert text.startswith("config error: "), text
    assert "\n" not in text, f"one problem should give one line:\n{text}"
    return text


def run_cli(
    tmp_path: Path, *overrides: str, full_error: bool = False, one_rep: bool = True
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `python -m sim` with the overrides into <tmp_path>/run; return the process, run dir."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    # A later override wins in Hydra, so a test of a bad `replications` must not append a good one.
    tail = ["replications=1"] if one_rep else []
    cmd = [sys.executable, "-m", "sim", *overrides, f"hydra.run.dir={run_dir}", *tail]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return proc, run_dir


def assert_stopped(
    proc: subprocess.CompletedProcess[str], run_dir: Path, status: int | None = 2
) -> None:
    """Non-zero exit (exactly `status` unless None), no traceback, nothing simulated or written."""
    detail = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    if status is None:
        assert proc.returncode != 0, detail
    else:
        assert proc.returncode == status, detail
    assert "Traceback" not in proc.stderr, detail
    assert "results:" not in proc.stdout, detail
    assert not run_dir.exists(), f"run dir left behind: {sorted(p.name for p in run_dir.iterdir())}"


def assert_no_results(run_dir: Path) -> None:
    for pattern in RESULT_FILES:
        assert not list(run_dir.glob(pattern)), f"{pattern} found in {run_dir}"


# --- sanity: the defaults are valid, so every rejection below is due to its override ------------


@pytest.mark.parametrize("motion", ["mix", "mlg", "plg", "slg", "csl"])
def test_default_config_of_each_motion_is_valid(motion: str) -> None:
    sc, rs = resolve(compose_config([f"motion={motion}", "replications=1"]))
    assert sc.replications == 1
    assert rs.tables == "parquet"


# --- probabilities -------------------------------------------------------------------------------


def test_probability_above_one_is_rejected() -> None:
    msg = reject("motions.mlg.stages.mql.p=1.5")
    assert msg == "config error: motions.mlg.stages.mql.p = 1.5: 1.5 is not a probability in [0, 1]"


def test_negative_probability_in_segment_map_is_rejected() -> None:
    msg = reject("motions.mlg.stages.demo.p.smb=-0.1")
    assert msg.startswith("config error: motions.mlg.stages.demo.p = {'smb': -0.1")
    assert "-0.1 is not a probability in [0, 1]" in msg


def test_non_numeric_probability_is_rejected_in_one_line() -> None:
    msg = reject("motions.mlg.stages.mql.p=abc")
    assert msg == (
        "config error: motions.mlg.stages.mql.p = 'abc': 'abc' is not a probability in [0, 1]"
    )


def test_boolean_probability_is_rejected() -> None:
    msg = reject("motions.mlg.stages.mql.p=true")
    assert "motions.mlg.stages.mql.p = True" in msg
    assert "not a probability in [0, 1]" in msg


def test_probability_map_missing_a_segment_is_rejected() -> None:
    msg = reject("~motions.mlg.stages.demo.p.ent")
    assert msg.startswith("config error: motions.mlg.stages.demo.p = {'smb': 0.8, 'mid': 0.7}")
    assert "no probability for segment(s) ['ent']" in msg


def test_ramp_fraction_above_one_is_rejected() -> None:
    msg = reject("team.ae.ramp=[0.5,1.5]")
    assert msg == "config error: team.ae.ramp.1 = 1.5: Input should be less than or equal to 1"


# --- counts and durations ------------------------------------------------------------------------


def test_negative_headcount_is_rejected() -> None:
    msg = reject("team.ae.count=-3")
    assert msg == "config error: team.ae.count = -3: Input should be greater than or equal to 0"


def test_boolean_headcount_is_rejected() -> None:
    reject("team.ae.count=true")


def test_zero_duration_is_rejected() -> None:
    msg = reject("motions.mlg.stages.demo.days.mean=0")
    assert msg == (
        "config error: motions.mlg.stages.demo.days.mean = 0: Input should be greater than 0"
    )


def test_negative_duration_is_rejected() -> None:
    msg = reject("motions.mlg.stages.demo.days.mean=-4")
    assert msg == (
        "config error: motions.mlg.stages.demo.days.mean = -4: Input should be greater than 0"
    )


def test_infinite_duration_is_rejected() -> None:
    msg = reject("motions.mlg.stages.demo.days.mean=inf")
    assert msg == (
        "config error: motions.mlg.stages.demo.days.mean = inf: Input should be a finite number"
    )


def test_exponential_duration_with_cv_other_than_one_is_rejected() -> None:
    msg = reject("motions.mlg.stages.demo.days.dist=exponential")
    assert msg.startswith("config error: motions.mlg.stages.demo.days = {'dist': 'exponential'")
    assert "cv = 0.8: an exponential distribution has cv 1" in msg


def test_empty_horizon_is_rejected() -> None:
    assert reject("horizon_days=0") == (
        "config error: horizon_days = 0: Input should be greater than 0"
    )


def test_negative_horizon_is_rejected() -> None:
    assert reject("horizon_days=-30") == (
        "config error: horizon_days = -30: Input should be greater than 0"
    )


def test_infinite_horizon_is_rejected() -> None:
    assert reject("horizon_days=inf") == (
        "config error: horizon_days = inf: Input should be a finite number"
    )


def test_nan_horizon_is_rejected() -> None:
    assert reject("horizon_days=nan") == (
        "config error: horizon_days = nan: Input should be a finite number"
    )


def test_negative_seed_is_rejected() -> None:
    assert reject("seed=-1") == (
        "config error: seed = -1: Input should be greater than or equal to 0"
    )


def test_zero_replications_is_rejected() -> None:
    assert reject("replications=0") == (
        "config error: replications = 0: Input should be greater than or equal to 1"
    )


# --- references: motions, stages, roles, segments ------------------------------------------------


def test_unknown_motion_group_option_fails_in_hydra() -> None:
    with pytest.raises(MissingConfigException, match="motion/nosuch"):
        compose_config(["motion=nosuch"])


def test_opportunity_from_unknown_stage_is_rejected() -> None:
    msg = reject("motions.mlg.opportunity_from=nosuch")
    assert msg.startswith("config error: motions.mlg.opportunity_from = 'nosuch': no such stage;")
    assert "stages are ['mql', 'sdr_qualify'" in msg


def test_stage_owned_by_unknown_role_is_rejected() -> None:
    msg = reject("motions.mlg.stages.mql.owner=wizard")
    assert msg.startswith("config error: motions.mlg.stages.mql.owner = 'wizard': Input should be")
    for role in ("'marketing'", "'sdr'", "'ae'", "'csm'", "'self_serve'"):
        assert role in msg


def test_stage_queueing_for_unknown_role_is_rejected() -> None:
    msg = reject("+motions.mlg.stages.mql.queue=wizard")
    assert msg == (
        "config error: motions.mlg.stages.mql.queue = 'wizard': Input should be 'sdr' or 'ae'"
    )


def test_stage_queueing_for_role_without_headcount_is_rejected() -> None:
    msg = reject("motion=mlg", "team.ae.count=0")
    assert msg.startswith("config error: motions.mlg.stages.discovery.queue = 'ae':")
    assert "team.ae has no headcount" in msg


def test_unknown_motion_entry_is_rejected() -> None:
    msg = reject("motions.mlg.entry=nowhere")
    assert msg.startswith("config error: motions.mlg.entry = 'nowhere': Input should be")
    assert "'outbound'" in msg


def test_expansion_naming_unknown_motion_is_rejected() -> None:
    msg = reject("expansion=nosuch")
    assert msg == (
        "config error: expansion = 'nosuch': no such motion; motions are "
        "['csl', 'mlg', 'plg', 'slg']"
    )


def test_missing_required_section_is_rejected() -> None:
    assert reject("~segments") == "config error: segments: required key is missing"


# --- mixes ---------------------------------------------------------------------------------------


def test_mix_weights_not_summing_to_one_are_rejected() -> None:
    msg = reject("mix.smb.plg=0.9")
    assert msg == "config error: mix.smb = {'plg': 0.9, 'mlg': 0.4}: weights sum to 1.3, not 1"


def test_mix_naming_unknown_segment_is_rejected() -> None:
    msg = reject("+mix.nowhere.mlg=1.0")
    assert msg == "config error: mix.nowhere: no such segment; segments are ['ent', 'mid', 'smb']"


def test_mix_naming_unknown_motion_is_rejected() -> None:
    msg = reject("+mix.smb.nosuch=0")
    assert msg == (
        "config error: mix.smb.nosuch: no such motion; motions are ['csl', 'mlg', 'plg', 'slg']"
    )


def test_mix_naming_expansion_motion_is_rejected() -> None:
    msg = reject("+mix.smb.csl=0")
    assert msg.startswith("config error: mix.smb.csl: motion 'csl' starts from customers;")


def test_channel_segment_mix_not_summing_to_one_is_rejected() -> None:
    msg = reject("channels.content.segment_mix.smb=0.9")
    assert msg.startswith("config error: channels.content.segment_mix = {'smb': 0.9,")
    assert "shares sum to 1.5, not 1" in msg


def test_a_trend_of_minus_100_percent_a_year_or_less_is_rejected() -> None:
    msg = reject("+channels.content.trend_year=-1")
    assert msg.startswith("config error: channels.content.trend_year = -1"), msg
    assert "greater than -1" in msg


def test_a_trend_damping_of_zero_days_is_rejected() -> None:
    msg = reject("+channels.content.trend_damping_days=0")
    assert msg.startswith("config error: channels.content.trend_damping_days = 0"), msg
    assert "greater than 0" in msg


def test_product_segment_mix_naming_unknown_segment_is_rejected() -> None:
    msg = reject("+product.segment_mix.nowhere=0")
    assert msg == (
        "config error: product.segment_mix.nowhere: no such segment; "
        "segments are ['ent', 'mid', 'smb']"
    )


# --- unknown keys and wrong types ----------------------------------------------------------------


def test_unknown_top_level_key_fails_in_hydra() -> None:
    with pytest.raises(ConfigCompositionException, match="Could not override 'foo'"):
        compose_config(["foo=1"])


def test_unknown_nested_key_is_rejected() -> None:
    assert reject("+team.ae.bogus=1") == (
        "config error: team.ae.bogus: unknown key (value 1); check its spelling"
    )


def test_unknown_motion_key_is_rejected() -> None:
    assert reject("+motions.mlg.bogus=1") == (
        "config error: motions.mlg.bogus: unknown key (value 1); check its spelling"
    )


def test_non_integer_replications_are_rejected() -> None:
    msg = reject("replications=abc")
    assert msg.startswith("config error: replications = 'abc': Input should be a valid integer")


def test_fractional_replications_are_rejected() -> None:
    msg = reject("replications=1.5")
    assert msg.startswith("config error: replications = 1.5: Input should be a valid integer")


def test_invalid_start_date_is_rejected() -> None:
    msg = reject("start_date=2026-13-45")
    assert msg.startswith("config error: start_date = '2026-13-45': Input should be a valid date")


def test_invalid_currency_is_rejected() -> None:
    msg = reject("currency=usd")
    assert msg.startswith("config error: currency = 'usd': not a currency code: three capital")


def test_invalid_table_format_is_rejected() -> None:
    assert reject("tables=xml") == (
        "config error: tables = 'xml': Input should be 'parquet', 'csv' or 'both'"
    )


def test_invalid_progress_flag_is_rejected() -> None:
    msg = reject("progress=maybe")
    assert msg.startswith("config error: progress = 'maybe': Input should be a valid boolean")


def test_zero_workers_are_rejected() -> None:
    assert reject("workers=0") == (
        "config error: workers = 0: Input should be greater than or equal to 1"
    )


def test_unknown_executor_kind_is_rejected() -> None:
    assert reject("executor.kind=cloud") == (
        "config error: executor.kind = 'cloud': Input should be 'serial', 'local' or 'ray'"
    )


def test_unknown_executor_group_option_fails_in_hydra() -> None:
    with pytest.raises(MissingConfigException, match="executor/nosuch"):
        compose_config(["executor=nosuch"])


def test_several_problems_give_one_line_each() -> None:
    cfg = compose_config(["horizon_days=0", "team.ae.count=-3"])
    with pytest.raises(ConfigError) as exc:
        resolve(cfg)
    assert str(exc.value).splitlines() == [
        "config error: horizon_days = 0: Input should be greater than 0",
        "config error: team.ae.count = -3: Input should be greater than or equal to 0",
    ]


# --- interpolation / resolution failures ---------------------------------------------------------


def test_missing_interpolation_key_is_rejected() -> None:
    assert reject("horizon_days=${nosuch}") == (
        "config error: horizon_days: Interpolation key 'nosuch' not found"
    )


def test_missing_environment_variable_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESIM_TEST_UNSET_VAR", raising=False)
    msg = reject("seed=${oc.env:SALESIM_TEST_UNSET_VAR}")
    assert msg.startswith("config error: seed: ")
    assert "SALESIM_TEST_UNSET_VAR" in msg


# --- the real command line -----------------------------------------------------------------------


def test_cli_probability_above_one_exits_2_without_results(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "motions.mlg.stages.mql.p=1.5")
    assert_stopped(proc, run_dir)
    assert proc.stderr.strip() == (
        "config error: motions.mlg.stages.mql.p = 1.5: 1.5 is not a probability in [0, 1]"
    )


def test_cli_unknown_nested_key_exits_2_naming_it(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "+team.ae.bogus=1")
    assert_stopped(proc, run_dir)
    assert "config error: team.ae.bogus: unknown key (value 1)" in proc.stderr


def test_cli_wrong_type_exits_2(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "replications=abc", "progress=false", one_rep=False)
    assert_stopped(proc, run_dir)
    assert "config error: replications = 'abc': Input should be a valid integer" in proc.stderr


def test_cli_interpolation_failure_exits_2(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "horizon_days=${nosuch}")
    assert_stopped(proc, run_dir)
    assert proc.stderr.strip() == "config error: horizon_days: Interpolation key 'nosuch' not found"


def test_cli_unknown_motion_is_a_hydra_error(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "motion=nosuch")
    assert_stopped(proc, run_dir, status=None)
    assert "Could not find 'motion/nosuch'" in proc.stderr
    assert "mlg" in proc.stderr  # the available options are listed


def test_cli_unknown_top_level_key_is_a_hydra_error(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "foo=1")
    assert_stopped(proc, run_dir, status=None)
    assert "Could not override 'foo'" in proc.stderr


def test_cli_bad_input_leaves_an_existing_run_dir_and_its_files_alone(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("keep me\n")
    proc, _ = run_cli(tmp_path, "horizon_days=0")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (run_dir / "notes.txt").read_text() == "keep me\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]
    assert_no_results(run_dir)


def test_cli_hydra_full_error_shows_the_traceback(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "horizon_days=0", full_error=True)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "ConfigError" in proc.stderr
    assert "config error: horizon_days = 0: Input should be greater than 0" in proc.stderr
    assert not run_dir.exists()


def test_expansion_motion_must_open_its_opportunity_at_the_first_stage() -> None:
    msg = reject("motions.csl.opportunity_from=expansion_proposal")
    assert msg.startswith("config error: motions.csl.opportunity_from = 'expansion_proposal'")


def test_seat_guards_are_rejected_in_expansion_motions() -> None:
    msg = reject("+motions.csl.stages.expansion_review.seats_at_least=5")
    assert "seat guards do not apply to expansion motions" in msg


def test_a_channel_needs_its_reference_budget() -> None:
    msg = reject("~channels.content.ref_budget_month")
    assert msg == "config error: channels.content.ref_budget_month: required key is missing"


@pytest.mark.parametrize("app", ["sim", "sim.calibrate.cli"])
def test_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path, app: str) -> None:
    """hydra.run.dir under a regular file: one line naming the key and value, exit 2, no traceback
    (Hydra itself would fail while making the folder, with a stack trace)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    bad = blocker / "run"
    cmd = [sys.executable, "-m", app, f"hydra.run.dir={bad}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"output error: hydra.run.dir = '{bad}': cannot create the folder (Not a directory); "
        "allowed: a folder you can write to"
    ], proc.stderr
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    "app,want", [("sim", "docs/configuration.md"), ("sim.calibrate.cli", "data=NAME")]
)
def test_help_says_what_a_new_user_can_set(app: str, want: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", app, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "powered by Hydra" not in proc.stdout and want in proc.stdout, proc.stdout


def test_a_window_shorter_than_a_month_runs_with_a_warning(tmp_path: Path) -> None:
    """horizon_days = 1 is valid but reads as noise: one warning line on stderr, the run goes on."""
    proc, run_dir = run_cli(tmp_path, "horizon_days=1", "warmup_days=10", "progress=false")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "warning: horizon_days = 1: the metrics window is shorter than a month, so few deals close "
        "in it and rates are mostly noise; 30+ days give readable figures"
    ], proc.stderr
    assert (run_dir / "summary.json").exists()


@pytest.mark.parametrize(
    "override,want",
    [
        (
            "costs.allocation=customers",
            "config error: costs.allocation = 'customers': only 'activity'",
        ),
        ("costs.overhead=tools", "config error: costs.overhead = 'tools'"),
        ("costs.clv_years=0", "config error: costs.clv_years = 0"),
        ("costs.discount_rate_year=1.5", "config error: costs.discount_rate_year = 1.5"),
    ],
)
def test_bad_unit_economics_keys_are_rejected(override: str, want: str) -> None:
    assert reject(override).startswith(want)


def test_ae_deal_hours_name_known_segments_and_are_not_negative() -> None:
    assert reject("++team.ae.deal_hours.big=2") == (
        "config error: team.ae.deal_hours.big: no such segment; segments are ['ent', 'mid', 'smb']"
    )
    msg = reject("team.ae.deal_hours.smb=-1")
    assert msg == (
        "config error: team.ae.deal_hours.smb = -1: Input should be greater than or equal to 0"
    )


def test_lead_scoring_threshold_above_one_is_rejected() -> None:
    text = reject("plays=[lead_scoring]", "plays.lead_scoring.drop_below=1.5")
    assert "plays.lead_scoring.drop_below" in text and "1.5" in text


def test_lead_fit_reference_outside_zero_one_is_rejected() -> None:
    text = reject("lead_fit.ref=1")
    assert "lead_fit.ref" in text


def test_sdr_rate_by_segment_missing_a_segment_is_rejected() -> None:
    # the bare company has no map to merge into (the default company's map would fill the gap)
    text = reject(
        "company=bare", "motion=mlg", "+team.sdr.outbound_meetings_day={smb: 0.4, mid: 1}"
    )
    assert text.startswith("config error: team.sdr.outbound_meetings_day = ")
    assert "no value for segment(s) ['ent']" in text


def test_fractional_sdr_attempt_cap_is_rejected() -> None:
    text = reject("team.sdr.max_attempts={smb: 2.5, mid: 2, ent: 2}")
    assert "team.sdr.max_attempts" in text and "2.5 is not a whole number >= 1" in text


def test_sdr_contact_probability_by_segment_above_one_is_rejected() -> None:
    text = reject("team.sdr.contact_prob={smb: 0.3, mid: 1.5, ent: 0.3}")
    assert "team.sdr.contact_prob" in text and "1.5" in text


def test_a_discount_of_the_whole_price_is_rejected() -> None:
    text = reject("pricing.discount=1.0")
    assert "pricing.discount" in text and "1.0" in text


def test_a_non_positive_reference_acv_is_rejected() -> None:
    text = reject("segments.mid.acv_ref=0")
    assert "segments.mid.acv_ref" in text


def test_segment_costs_name_known_segments_and_are_positive() -> None:
    assert reject("++channels.events.segment_cost.big=2") == (
        "config error: channels.events.segment_cost.big: no such segment; "
        "segments are ['ent', 'mid', 'smb']"
    )
    assert "greater than 0" in reject("channels.events.segment_cost.ent=0")
    assert reject("++team.ae.hour_cost.big=2") == (
        "config error: team.ae.hour_cost.big: no such segment; segments are ['ent', 'mid', 'smb']"
    )
    assert "greater than 0" in reject("team.ae.hour_cost.ent=-1")


def test_covered_shares_above_one_are_rejected() -> None:
    msg = reject("+motions.mlg.stages.demo.covers={proposal: 0.7, negotiation: 0.6}")
    assert "motions.mlg.stages.demo.covers" in msg
    assert "sum to 1.3, more than 1" in msg


def test_a_queue_play_without_an_sdr_stage_is_rejected_in_one_line() -> None:
    msg = reject("motion=slg", "plays=lead_scoring")  # slg has no stage with queue: sdr
    assert "plays.lead_scoring: works on the SDR queue" in msg


def test_close_pull_share_above_one_is_rejected() -> None:
    msg = reject("+motions.mlg.stages.negotiation.close_pull={quarter_share: 1.5}")
    assert "close_pull.quarter_share" in msg and "1.5" in msg


def test_close_pull_window_longer_than_a_month_is_rejected() -> None:
    msg = reject("+motions.mlg.stages.negotiation.close_pull={month_days: 40, month_share: 0.2}")
    assert "close_pull.month_days" in msg and "40" in msg


def test_close_pull_on_a_stage_before_the_close_is_rejected() -> None:
    msg = reject("+motions.mlg.stages.demo.close_pull={quarter_share: 0.3}")
    assert "motions.mlg.stages.demo.close_pull" in msg and "last stage" in msg


def test_stall_days_not_positive_is_rejected() -> None:
    msg = reject("+motions.mlg.stages.negotiation.stall_days=0")
    assert "stall_days" in msg and "0" in msg


# --- global sensitivity: uncertainties, levers, gsa (sim.gsa) ------------------------------------


def test_an_uncertainty_naming_no_config_key_is_rejected() -> None:
    msg = reject("experiment=sobol", "+uncertainties.team.ae.cuont=null")
    assert "uncertainties.team.ae.cuont: no such key in the config" in msg


def test_a_lever_on_a_key_that_is_not_a_number_is_rejected() -> None:
    msg = reject("experiment=sobol", "+levers.segments.mid.acv.dist=null")
    assert "levers.segments.mid.acv.dist" in msg and "'lognormal', not a number" in msg


def test_an_input_listed_as_uncertainty_and_lever_is_rejected() -> None:
    msg = reject("experiment=sobol", "+uncertainties.team.ae.count={low: 6, high: 10}")
    assert "levers.team.ae.count: also listed under uncertainties" in msg


def test_a_sobol_size_not_a_power_of_two_is_rejected() -> None:
    msg = reject("experiment=sobol", "gsa.n=48")
    assert "gsa.n = 48" in msg and "power of 2" in msg


def test_an_odd_number_of_morris_levels_is_rejected() -> None:
    msg = reject("experiment=morris", "gsa.levels=5")
    assert "gsa.levels = 5" in msg and "even" in msg


def test_an_input_range_with_low_not_below_high_is_rejected() -> None:
    msg = reject("experiment=sobol", "levers.team.ae.count={low: 10, high: 6}")
    assert "levers.team.ae.count" in msg and "low = 10 must be below high = 6" in msg


def test_a_distribution_missing_its_parameters_is_rejected() -> None:
    msg = reject("experiment=sobol", "levers.team.ae.count={dist: triang, low: 6, high: 10}")
    assert "levers.team.ae.count" in msg and "dist triang takes low, high, peak" in msg


def test_an_unknown_distribution_is_rejected() -> None:
    msg = reject("experiment=sobol", "levers.team.ae.count={dist: beta, low: 6, high: 10}")
    assert "levers.team.ae.count.dist = 'beta'" in msg


def test_global_sensitivity_with_nothing_to_vary_is_rejected() -> None:
    msg = reject("experiment=sobol", "levers=null", "gsa.over=levers")
    assert "gsa.over = 'levers': nothing to vary" in msg


def test_a_bad_gsa_method_is_rejected_in_the_cli(tmp_path: Path) -> None:
    proc, run_dir = run_cli(tmp_path, "experiment=sobol", "gsa.method=fast")
    assert_stopped(proc, run_dir)
    assert "gsa.method = 'fast'" in proc.stderr


# --- optimisation studies (experiment=optimise_*, sim/optimise.py) --------------------------------


def test_a_search_range_upside_down_is_rejected() -> None:
    msg = reject("experiment=optimise_budget", "optimise.space={team.ae.count: {low: 14, high: 4}}")
    assert msg.startswith("config error: optimise.space.team.ae.count = ")
    assert "low = 14 must be below high = 4" in msg


def test_a_search_step_that_does_not_divide_the_range_is_rejected() -> None:
    msg = reject("experiment=optimise_budget", "+optimise.space={team.ae.count: {step: 3}}")
    assert "step = 3 must divide high - low = 10" in msg


def test_pruning_a_two_objective_study_is_rejected() -> None:
    msg = reject("experiment=optimise_target", "optimise.pruning=true")
    assert "pruning = true needs one objective" in msg


def test_an_unknown_sampler_and_statistic_are_rejected() -> None:
    assert "optimise.sampler = 'cmaes'" in reject(
        "experiment=optimise_budget", "optimise.sampler=cmaes"
    )
    msg = reject("experiment=optimise_budget", "optimise.objectives=[{metric: arr_end, stat: p42}]")
    assert "optimise.objectives.0.stat = 'p42'" in msg


def test_cli_a_searched_key_that_does_not_exist_exits_2_without_results(tmp_path: Path) -> None:
    proc, run_dir = run_cli(
        tmp_path, "experiment=optimise_budget", "+optimise.space={team.ae.cuont: {low: 1, high: 2}}"
    )
    assert_stopped(proc, run_dir)
    assert proc.stderr.strip() == (
        "config error: optimise.space.team.ae.cuont: no such key in the config (a scenario key "
        "such as team.ae.count or channels.<name>.budget_month)"
    )


def test_cli_an_unknown_objective_metric_exits_2_without_results(tmp_path: Path) -> None:
    proc, run_dir = run_cli(
        tmp_path, "experiment=optimise_budget", "optimise.objectives=[{metric: arr_ned}]"
    )
    assert_stopped(proc, run_dir)
    assert "config error: optimise.objectives[0].metric = 'arr_ned': not a metric" in proc.stderr


@pytest.mark.parametrize(
    "overrides, what",
    [
        (
            [
                "experiment=optimise_budget",
                "+gsa={method: morris}",
                "+levers={team.ae.count: null}",
            ],
            "gsa",
        ),
        (
            [
                "experiment=capacity_plan",
                "+optimise={space: {team.ae.count: {low: 1, high: 3}}, objectives: [{metric: arr_end}]}",
            ],
            "plan",
        ),
    ],
)
def test_two_searches_in_one_run_are_refused_before_any_work(overrides, what) -> None:
    """Global sensitivity, a capacity plan and an optimisation each run alone: asking for two is one
    config error naming the one that would run, never the other silently ignored."""
    from sim.api import run

    with pytest.raises(ConfigError) as exc:
        run(compose_config(overrides))
    assert str(exc.value).startswith(f"config error: {what}: ") and "optimise" in str(exc.value)
