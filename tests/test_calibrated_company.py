"""A calibrated company, not a calibrated toy: plays, team changes and costs act on calibrated.yaml.

The scenario is fitted from the synthetic export of tests/test_calibrate_fit.py (deals won with
probability 0.4 after gamma(40, 0.5) days, else lost after gamma(12, 0.8); five owners). Every
comparison is paired: the same scenario with and without the change, on the same seed and
replications (common random numbers), and a 95 % t-interval of the mean paired difference
(scipy.stats.ttest_rel) must lie on the expected side of 0.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf
from scipy import stats

from sim.calibrate.fit import COVERS, fit, fit_team
from sim.config import ConfigError, load_scenario
from sim.experiment import run_replication, run_scenario
from sim.play_targets import resolve
from sim.report import grouped_funnel, motion_rows, report_md
from tests.test_calibrate_fit import crm_of, synthetic

REPO = Path(__file__).resolve().parents[1]
REPS = 8  # paired replications on CRN: t with 7 df resolves the effects below many times over


@functools.cache
def calibrated() -> dict:
    """calibrated.yaml of the synthetic export: one class, six months after a three-month warm-up."""
    table, _, _ = synthetic(n=1500)
    return fit(crm_of(table), classes=(1,), warmup_months=3, horizon_months=6).scenario()


def with_(base: dict, **changes) -> dict:
    """A copy of the scenario dict with dotted keys set (`team__ae__count=2`)."""
    sc = yaml.safe_load(yaml.safe_dump(base, sort_keys=False))
    for key, value in changes.items():
        *path, last = key.split("__")
        node = sc
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return sc


def shipped_play(name: str, sc: dict) -> dict:
    """configs/plays/<name>.yaml resolved against the scenario (its ${warmup_days}, ${...knobs})."""
    play = yaml.safe_load((REPO / "configs" / "plays" / f"{name}.yaml").read_text())
    cfg = OmegaConf.create({"warmup_days": sc["warmup_days"], "plays": play})
    return OmegaConf.to_container(cfg, resolve=True)["plays"]


@functools.cache
def metrics(scenario_yaml: str) -> list[dict]:
    sc = load_scenario(yaml.safe_load(scenario_yaml))
    return [run_replication(sc, r).metrics for r in range(REPS)]


def run(sc: dict) -> list[dict]:
    return metrics(yaml.safe_dump(sc, sort_keys=False))


def paired(a: list[dict], b: list[dict], key: str) -> tuple[float, float]:
    """95 % interval of the mean paired difference b - a of metric `key`."""
    x, y = (np.array([m[key] for m in runs]) for runs in (a, b))
    ci = stats.ttest_rel(y, x).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


# -- the team ------------------------------------------------------------------------------------
def test_the_team_is_the_owners_active_in_the_recent_months():
    """Ten owners in the first half year, four in the last six months: the headcount is four."""
    rng = np.random.default_rng(3)
    day0 = pd.Timestamp("2024-01-01")
    created = day0 + pd.to_timedelta(np.sort(rng.uniform(0, 364, 2000)), unit="D")
    early = created < pd.Timestamp("2024-07-01")
    owner = np.where(early, [f"a{i % 10}" for i in range(2000)], [f"b{i % 4}" for i in range(2000)])
    opp = pd.DataFrame({"created_date": created, "close_date": pd.NaT, "owner": owner})
    opp["close_date"] = pd.to_datetime(opp["close_date"])
    team = fit_team(opp, day0, pd.Timestamp("2024-12-31"))
    assert team is not None and team.count == 4
    assert list(team.active.iloc[:6]) == [10] * 6
    assert fit_team(opp.assign(owner=pd.NA), day0, pd.Timestamp("2024-12-31")) is None


def test_calibrated_team_has_the_export_owners_and_room_for_the_fitted_flow():
    sc = load_scenario(calibrated())
    assert sc.team.ae.count == 5  # rep0..rep4 in the synthetic export
    assert sc.team.ae.hiring_lag_days == 0  # the active count is net of turnover
    deal = sc.motions["all"].stages["deal"]
    assert deal.queue == "ae" and deal.covers == COVERS


def test_fit_json_and_report_say_how_the_team_was_inferred():
    from sim.calibrate.report import fit_json, team_lines

    table, _, _ = synthetic(n=1500)
    crm = crm_of(table)
    cal = fit(crm, classes=(1,), warmup_months=3, horizon_months=6)
    team = fit_json(crm, cal, None)["team"]
    assert team["count"] == 5 and set(team["active_owners_by_month"].values()) == {5}
    assert "5 AEs: the median number of distinct owners" in " ".join(team_lines(cal, team))


def test_an_export_without_owners_gets_a_notional_team_sized_for_its_flow():
    table, _, _ = synthetic(n=1500)
    cal = fit(crm_of(table.assign(owner=pd.NA)), classes=(1,), warmup_months=3, horizon_months=6)
    assert cal.team is None
    ae = cal.ae_team()
    assert ae["max_open_opps"] == 20
    assert ae["count"] * 20 >= 1.2 * cal.open_deals_peak()


def test_at_the_fitted_headcount_nothing_waits_and_more_aes_change_nothing():
    """The fit is not capacity-bound: no deal waits for a slot, and ten times the AEs give exactly
    the same replications (common random numbers; owners are assigned without random draws)."""
    base = run(calibrated())
    more = run(with_(calibrated(), team__ae__count=50))
    assert all(m["ae_wait_days"] == 0 for m in base)
    for k in ("win_rate", "cycle_days", "new_customers", "bookings"):
        assert [m[k] for m in more] == [m[k] for m in base], k


def test_fewer_aes_make_deals_wait_and_lose():
    """Two AEs instead of five hold 40 % of the slots the fitted flow needs at its peak: deals wait
    for a slot, and the wait erodes their win chance (team.ae.wait_decay_days)."""
    base = run(calibrated())
    few = run(with_(calibrated(), team__ae__count=2))
    lo, hi = paired(base, few, "new_customers")
    assert hi < 0, f"new customers: paired 95% CI [{lo:.3g}, {hi:.3g}] should lie below 0"
    lo, hi = paired(base, few, "win_rate")
    assert hi < 0, f"win rate: paired 95% CI [{lo:.3g}, {hi:.3g}] should lie below 0"
    assert all(m["ae_wait_days"] > 1 for m in few)


# -- plays -----------------------------------------------------------------------------------------
def full(sc: dict, name: str) -> dict:
    """The shipped play on the scenario, switched on in full from day 0."""
    plays = shipped_play(name, sc)
    plays[name].update(start_day=0, ramp_days=0, adoption=1.0)
    plays[name].pop("backslide_after_days", None)
    return {**sc, "plays": plays}


def test_objection_training_raises_the_calibrated_win_rate():
    """Its proposal and negotiation lifts (x1.08 each) act on the deal stage that covers them."""
    base = run(calibrated())
    play = run(full(calibrated(), "objection_training"))
    lo, hi = paired(base, play, "win_rate")
    assert lo > 0, f"win rate: paired 95% CI [{lo:.3g}, {hi:.3g}] should lie above 0"


def test_pricing_clarity_shortens_the_calibrated_cycle():
    base = run(calibrated())
    play = run(full(calibrated(), "pricing_clarity"))
    lo, hi = paired(base, play, "cycle_days_mean")
    assert hi < 0, f"cycle: paired 95% CI [{lo:.3g}, {hi:.3g}] should lie below 0"


def test_a_covered_stage_takes_scales_in_proportion_to_its_share():
    """pricing_clarity scales proposal and negotiation days by 0.8: each covers 28 % of the deal
    stage's time, so the deal stage's days scale by 1 - 0.2 x 0.28 twice."""
    sc = load_scenario({**calibrated(), "plays": shipped_play("pricing_clarity", calibrated())})
    days = [r.value for r in resolve(sc) if r.kind == "days"]
    assert days == pytest.approx([1 - 0.2 * COVERS["proposal"], 1 - 0.2 * COVERS["negotiation"]])
    bad = {"x": {"changes": [{"target": "motions.*.stages.proposal.p", "set": 0.5}]}}
    with pytest.raises(ConfigError, match="a covered stage's p takes `scale`, not `set`"):
        load_scenario({**calibrated(), "plays": bad})


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (REPO / "configs" / "plays").glob("*.yaml"))
)
def test_every_shipped_play_acts_or_is_refused_in_one_line(name):
    """On calibrated.yaml a shipped play either binds to something it changes or is refused with
    one config line saying what it needs (an SDR queue, a stage before the opportunity, a segment)."""
    try:
        sc = load_scenario({**calibrated(), "plays": shipped_play(name, calibrated())})
    except ConfigError as exc:
        msg = str(exc)
        assert msg.count("\n") == 0 and msg.startswith("config error: plays."), msg
        return
    assert resolve(sc), f"{name} was accepted but changes nothing"


# -- costs ---------------------------------------------------------------------------------------
def test_costs_are_not_known_until_given():
    sc = load_scenario(calibrated())
    res = run_scenario(sc.model_copy(update={"replications": 2}))
    m = res.summary["scenarios"][sc.scenario.name]["metrics"]
    assert m["cac"]["mean"] is None
    assert m["clv"]["mean"] is None  # CLV rests on the gross margin, a cost input
    md = report_md(res, sc, figures=False)
    assert "| cac | not known |" in md and "Costs are not known" in md
    given = with_(
        calibrated(),
        costs__known=True,
        team__ae__cost_month=10000.0,
        channels__crm__budget_month=20000.0,
        channels__crm__ref_budget_month=20000.0,  # the spend that brought the fitted leads
    )
    sc2 = load_scenario(given)
    res2 = run_scenario(sc2.model_copy(update={"replications": 2}))
    m2 = res2.summary["scenarios"][sc2.scenario.name]["metrics"]
    assert m2["cac"]["mean"] is not None and m2["cac"]["mean"] > 0
    # the budget of the fitted leads, given as both spend and reference, leaves the leads alone
    assert m2["leads"]["mean"] == m["leads"]["mean"]


# -- figures and tables ----------------------------------------------------------------------------
@functools.cache
def two_class() -> dict:
    """An export whose deals come in two speeds, so the fit has _fast and _slow motions."""
    rng = np.random.default_rng(11)
    n = 3000
    day0 = pd.Timestamp("2024-01-01")
    created = rng.uniform(0, 365, n)
    fast = rng.random(n) < 0.5
    won = rng.random(n) < np.where(fast, 0.5, 0.3)
    k = 4.0  # gamma cv 0.5
    mean = np.where(fast, np.where(won, 8.0, 4.0), np.where(won, 90.0, 40.0))
    dur = rng.gamma(k, mean / k)
    seen = created + dur <= 365
    from sim.calibrate.importer import table as crm_table

    table = crm_table(
        pd.DataFrame(
            {
                "opportunity_id": [f"D{i}" for i in range(n)],
                "account": pd.NA,
                "segment": np.where(np.arange(n) % 2, "smb", "mid"),
                "owner": [f"rep{i % 4}" for i in range(n)],
                "source": "crm",
                "created": day0 + pd.to_timedelta(created, unit="D"),
                "closed": (day0 + pd.to_timedelta(created + dur, unit="D")).where(seen),
                "outcome": pd.Categorical(
                    np.where(seen, np.where(won, "won", "lost"), "open"), ["won", "lost", "open"]
                ),
                "amount": np.where(won & seen, rng.lognormal(8, 0.5, n), np.nan),
            }
        )
    )
    return fit(crm_of(table), classes=(2,), warmup_months=3, horizon_months=6).scenario()


@pytest.mark.slow  # two two-class fits and a run: about 15 s
def test_a_calibrated_run_shows_one_funnel_panel_and_one_row_per_segment(monkeypatch, tmp_path):
    raw = two_class()
    assert len(raw["motions"]) >= 4  # fit classes of two segments
    sc = load_scenario(raw)
    res = run_scenario(sc.model_copy(update={"replications": 2}))
    shown = grouped_funnel(res.funnel, sc)
    assert list(dict.fromkeys(shown["motion"])) == ["mid", "smb"]
    assert [label for label, _ in motion_rows(sc)] == ["mid", "smb"]
    # the grouped counts are the classes' sums
    deal = res.funnel[res.funnel["stage"] == "deal"]
    assert shown.loc[shown["stage"] == "deal", "advanced"].sum() == pytest.approx(
        deal["advanced"].sum()
    )
    md = report_md(res, sc, figures=False)
    assert "_fast" not in md.split("## Funnel")[1] and "| mid | " in md
    import sim.plots as plots

    panels = []
    monkeypatch.setattr(plots, "funnel", lambda f, b, path: panels.append(f["motion"].nunique()))
    from sim.report import write_outputs

    write_outputs(res, sc, tmp_path / "run", figures=True)
    assert panels == [2]


def test_a_motion_without_a_group_is_shown_on_its_own():
    raw = with_(calibrated())
    raw["motions"]["all"].pop("group")
    sc = load_scenario(raw)
    assert motion_rows(sc) == [("all", "all")]


def test_stalled_deals_free_their_pipeline_slots():
    """A calibrated deal stage holds an AE slot; a deal that stalls (`stall_days`) stays open in the
    CRM but frees its slot stall_days into the stage. Were the slots held for good, stalled deals
    would fill a small team's slots and starve the rest (about 40 % fewer wins here). With two AEs
    and a 60-day stall, the wins are those of the same runs without a stall that close within 60
    days: P(T <= 60) x base, less 4 Poisson standard deviations (the sums over REPS replications)."""
    base = with_(calibrated(), team__ae__count=2)
    stalled = yaml.safe_load(yaml.safe_dump(base, sort_keys=False))
    for name, m in stalled["motions"].items():
        if not name.endswith("_stuck"):
            m["stages"]["deal"]["stall_days"] = 60.0
    won = {k: sum(r["new_customers"] for r in run(sc)) for k, sc in (("b", base), ("s", stalled))}
    d = base["motions"]["all"]["stages"]["deal"]["days"]
    k = 1 / d["cv"] ** 2
    within = stats.gamma(k, scale=d["mean"] / k).cdf(60.0)
    expect = within * won["b"]
    assert won["s"] >= expect - 4 * np.sqrt(expect), (won, within)
