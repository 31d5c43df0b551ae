"""Sales plays (sim.plays, docs/plays.md): each play moves what it should, in the expected direction.

Every comparison is paired: the same small scenario with and without the play, on the same seed and
replications (common random numbers), so the per-replication differences are small and the test
checks that a 95 % t-interval of their mean (scipy.stats.ttest_rel) lies on the expected side of 0.
Plays are switched on in full from day 0 (`start_day=0 ramp_days=0 adoption=1`) unless a test is
about the ramp. Checks read records (funnel, waits, leads, costs), not a single headline number.
"""

from __future__ import annotations

import functools
import textwrap

import numpy as np
import pytest
from scipy import stats

from sim.compose import compose_config, resolve
from sim.config import ConfigError
from sim.metrics import month_weights, scalar_metrics
from sim.model import simulate_replication
from sim.records import MONTH_DAYS
from tests.conftest import scenario

REPS = 8  # replications per arm: paired differences on CRN are tight; 8 (t, 7 df) resolve the
# few-point effects of plays on late stages now that AE time and fewer opportunities thin them
SMALL = ("horizon_days=120", "warmup_days=60")


def full(play: str) -> tuple[str, ...]:
    """Select a play and switch it on in full from day 0."""
    return (
        f"plays=[{play}]",
        f"plays.{play}.start_day=0",
        f"plays.{play}.ramp_days=0",
        f"plays.{play}.adoption=1",
    )


@functools.cache
def runs(*overrides: str):
    sc = scenario(*SMALL, *overrides)[0]
    return sc, [simulate_replication(sc, r) for r in range(REPS)]


def paired_ci(a: list[float], b: list[float]) -> tuple[float, float]:
    """95 % interval of the mean paired difference b - a."""
    ci = stats.ttest_rel(np.asarray(b), np.asarray(a)).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


def assert_up(a: list[float], b: list[float], what: str) -> None:
    lo, hi = paired_ci(a, b)
    assert lo > 0, (
        f"{what}: expected an increase; paired 95% CI of the difference [{lo:.4g}, {hi:.4g}]"
    )


def assert_down(a: list[float], b: list[float], what: str) -> None:
    lo, hi = paired_ci(a, b)
    assert hi < 0, (
        f"{what}: expected a decrease; paired 95% CI of the difference [{lo:.4g}, {hi:.4g}]"
    )


def conversion(rec, motion: str, stage: str) -> float:
    f = rec.funnel[(rec.funnel["motion"] == motion) & (rec.funnel["stage"] == stage)]
    adv, drop = f["advanced"].sum(), f["dropped"].sum()
    return float(adv / (adv + drop))


def mean_days(rec, motion: str, stage: str) -> float:
    f = rec.funnel[(rec.funnel["motion"] == motion) & (rec.funnel["stage"] == stage)]
    return float(f["stage_days"].sum() / (f["advanced"].sum() + f["dropped"].sum()))


def leads(rec, motion: str, segment: str | None = None, source: str | None = None) -> float:
    x = rec.leads[rec.leads["motion"] == motion]
    if segment is not None:
        x = x[x["segment"] == segment]
    if source is not None:
        x = x[x["source"] == source]
    return float(x["leads"].sum())


def per_rep(recs, fn) -> list[float]:
    return [fn(r) for r in recs]


# -- each required play ---------------------------------------------------------------------------


def test_speed_to_lead_sla_lowers_inbound_wait_and_raises_the_sla_met_share():
    _, base = runs()
    _, sla = runs(*full("speed_to_lead_sla"))

    def within_1h(r):
        return float((r.waits["sdr"] * 24 <= 1.0 + 1e-9).mean())

    assert_down(
        per_rep(base, lambda r: r.waits["sdr"].mean()),
        per_rep(sla, lambda r: r.waits["sdr"].mean()),
        "SDR wait",
    )
    assert_up(per_rep(base, within_1h), per_rep(sla, within_1h), "share answered within 1 h")
    m = scalar_metrics(sla[0], 0.78)
    assert 0.0 <= m["sla_met_share"] <= 1.0
    assert "sla_met_share" not in scalar_metrics(base[0], 0.78)  # reported only under an SLA


def test_sla_hours_is_a_knob_and_a_longer_sla_means_longer_waits():
    _, fast = runs(*full("speed_to_lead_sla"), "plays.speed_to_lead_sla.sla_hours=0.5")
    _, slow = runs(*full("speed_to_lead_sla"), "plays.speed_to_lead_sla.sla_hours=4")
    mean_wait = functools.partial(per_rep, fn=lambda r: r.waits["sdr"].mean())
    assert_up(mean_wait(fast), mean_wait(slow), "SDR wait, 4 h SLA vs 0.5 h")


def test_lead_scoring_serves_higher_fit_leads_first():
    # one SDR: leads queue, so the order of service matters. The SDR stays for the whole run: a
    # vacancy (attrition, then a hiring lag) would pile leads up whatever the order of service
    crowd = (
        "team.sdr.count=1",
        "team.sdr.attempt_days.mean=0.04",
        "team.sdr.tenure_months.dist=fixed",
        "team.sdr.tenure_months.mean=1000",
    )
    _, fifo = runs(*crowd)
    _, scored = runs(*crowd, *full("lead_scoring"))

    def rho(r):  # rank correlation of a served lead's fit score with its wait (records.waits)
        return float(stats.spearmanr(r.waits["sdr_fit"], r.waits["sdr"])[0])

    assert_down(per_rep(fifo, rho), per_rep(scored, rho), "fit-wait rank correlation")
    assert all(x < 0 for x in per_rep(scored, rho)), "higher-fit leads wait less"


def test_cadence_333_focuses_time_and_books_no_free_meetings():
    # 24 SDRs: enough outbound meetings (about 6 a month per SDR in enterprise) for the held
    # rate's paired interval to resolve a focus lift of a few points
    team = ("team.sdr.count=24",)
    _, base = runs(*team)
    untrained = (
        "plays.cadence_333.training.days=0",
        "plays.cadence_333.training.reinforcement_days_month=0",
    )
    _, cad = runs(*team, *full("cadence_333"), *untrained)
    # the same SDR time books the same outbound meetings: focus is no meetings multiplier (the
    # prospecting process reads only spare SDR seats, which the cadence does not change)
    for b, c in zip(base, cad, strict=True):
        assert leads(b, "slg", source="outbound") == leads(c, "slg", source="outbound")
    # key accounts hold their meeting more often (focus.p_scale 1.1), so the stage converts better
    assert_up(
        per_rep(base, lambda r: conversion(r, "slg", "meeting")),
        per_rep(cad, lambda r: conversion(r, "slg", "meeting")),
        "slg meeting held rate",
    )
    # training takes SDR time: with it, fewer outbound meetings are booked
    _, trained = runs(*team, *full("cadence_333"), "plays.cadence_333.training.days=5")
    assert_down(
        per_rep(cad, lambda r: leads(r, "slg", source="outbound")),
        per_rep(trained, lambda r: leads(r, "slg", source="outbound")),
        "outbound meetings with a week of SDR training",
    )


@pytest.mark.parametrize("stage", ["proposal", "negotiation"])
def test_objection_training_raises_late_stage_conversion(stage):
    _, base = runs()
    # a strong lift (1.2) so that the few deals that reach negotiation in 120 days show it
    _, tr = runs(*full("objection_training"), "plays.objection_training.knobs.lift=1.2")
    assert_up(
        per_rep(base, lambda r: conversion(r, "mlg", stage)),
        per_rep(tr, lambda r: conversion(r, "mlg", stage)),
        f"mlg {stage} conversion",
    )


def test_pricing_clarity_shortens_late_stages_and_closes_more():
    _, base = runs()
    _, pc = runs(*full("pricing_clarity"), "plays.pricing_clarity.knobs.close_lift=1.2")
    for stage in ("proposal", "negotiation"):
        assert_down(
            per_rep(base, lambda r, s=stage: mean_days(r, "mlg", s)),
            per_rep(pc, lambda r, s=stage: mean_days(r, "mlg", s)),
            f"mlg {stage} days",
        )
    assert_up(
        per_rep(base, lambda r: conversion(r, "mlg", "negotiation")),
        per_rep(pc, lambda r: conversion(r, "mlg", "negotiation")),
        "mlg negotiation conversion",
    )


def test_abm_lifts_the_target_segment_only():
    _, base = runs()
    _, abm = runs(*full("abm"), "plays.abm.knobs.engage_lift=1.6")

    def opps(seg):
        def f(r):
            o = r.opportunities
            return float(((o["segment"] == seg) & (o["type"] == "new")).sum())

        return f

    assert_up(per_rep(base, opps("ent")), per_rep(abm, opps("ent")), "enterprise opportunities")
    # common random numbers: leads outside the target list draw and walk exactly as before up to
    # the first queue, so their first-stage (MQL) outcomes are identical
    for b, a in zip(base, abm, strict=True):
        for seg in ("smb", "mid"):
            assert leads(b, "mlg", seg) == leads(a, "mlg", seg)


def test_sales_marketing_alignment_passes_fewer_better_leads_and_hands_off_faster():
    _, base = runs()
    sc, al = runs(*full("sales_marketing_alignment"))
    # the shared MQL definition: low-fit leads stop at the MQL stage ...
    assert_down(
        per_rep(base, lambda r: conversion(r, "mlg", "mql")),
        per_rep(al, lambda r: conversion(r, "mlg", "mql")),
        "mlg MQL conversion",
    )
    # ... so the leads SDRs work are fewer and of better fit, none below the bar
    assert_down(
        per_rep(base, lambda r: float(len(r.waits["sdr_fit"]))),
        per_rep(al, lambda r: float(len(r.waits["sdr_fit"]))),
        "leads worked by SDRs",
    )
    assert_up(
        per_rep(base, lambda r: float(np.mean(r.waits["sdr_fit"]))),
        per_rep(al, lambda r: float(np.mean(r.waits["sdr_fit"]))),
        "mean fit of leads worked by SDRs",
    )
    bar = sc.plays["sales_marketing_alignment"].mql_fit_min
    assert all(float(np.min(r.waits["sdr_fit"])) >= bar for r in al)
    # the handoff SLA: handoffs take less time
    assert_down(
        per_rep(base, lambda r: mean_days(r, "mlg", "handoff")),
        per_rep(al, lambda r: mean_days(r, "mlg", "handoff")),
        "mlg handoff days",
    )


# -- adoption, costs, stacking, common random numbers ---------------------------------------------


def test_a_play_starting_at_day_x_has_no_effect_before_x():
    x = 90.0
    _, base = runs()
    _, late = runs(
        "plays=[objection_training,pricing_clarity]",
        f"plays.objection_training.start_day={x}",
        "plays.objection_training.ramp_days=30",
        "plays.objection_training.knobs.lift=1.25",
        # its training time is taken month by month (sim.plays: capacity by month), so the month
        # holding day x loses AE time before x too; this test is about per-lead changes only
        "plays.objection_training.training=null",
        "plays.objection_training.dip=0",
        f"plays.pricing_clarity.start_day={x}",
    )
    before = int(x // MONTH_DAYS)  # whole months that end before day x

    def early(r):  # acquisition facts decided before day x. Not compared: customer success (drawn
        # month by month over every customer of the run, so it depends on later wins) and deal
        # sizes (handed out from a pool in event order; docs/model.md, randomness)
        f = r.funnel[(r.funnel["month"] < before) & (r.funnel["motion"] != "csl")]
        o = r.opportunities
        o = o[(o["closed_day"] < x) & (o["type"] == "new")]
        return f.reset_index(drop=True), o[["created_day", "closed_day", "outcome", "stage"]]

    for b, p in zip(base, late, strict=True):
        (fb, ob), (fp, op) = early(b), early(p)
        assert fb.equals(fp)
        assert ob.reset_index(drop=True).equals(op.reset_index(drop=True))
    after = per_rep(late, lambda r: conversion(r, "mlg", "proposal"))
    assert_up(per_rep(base, lambda r: conversion(r, "mlg", "proposal")), after, "after day x")


def test_adoption_ramp_with_steepness_0_is_linear_from_start_to_full():
    from sim.plays import Ramp

    r = Ramp(start=100.0, days=50.0, top=0.8)
    assert r.at(99.9) == 0.0 and r.at(100.0) == 0.0
    assert r.at(125.0) == pytest.approx(0.4) and r.at(150.0) == r.at(400.0) == 0.8
    t = np.array([0.0, 100.0, 125.0, 150.0, 200.0])
    assert np.allclose(r.at_array(t), [0.0, 0.0, 0.4, 0.8, 0.8])


def test_play_costs_enter_the_ledger_and_cac():
    cost = ("+plays.budget_only={cost_once: 50000, cost_month: 10000}",)
    sc, base = runs()
    _, paid = runs(*cost)
    window_months = sc.horizon_days / MONTH_DAYS
    w = month_weights(int(base[0].staff["month"].max()) + 1, *base[0].window)
    for b, p in zip(base, paid, strict=True):
        mb, mp = scalar_metrics(b, 0.78), scalar_metrics(p, 0.78)
        assert mp["new_customers"] == mb["new_customers"]  # a play with no changes changes nothing
        ledger = p.costs[p.costs["category"] == "plays"]
        # one-off in month 0, then 10,000 a month pro rata to the end of the run
        assert ledger["amount"].sum() == pytest.approx(50000 + 10000 * sc.total_days / MONTH_DAYS)
        in_window = float((ledger["amount"] * w[ledger["month"]]).sum())
        assert in_window == pytest.approx(10000 * window_months, rel=0.05)
        assert mp["sm_cost"] - mb["sm_cost"] == pytest.approx(in_window, rel=1e-9)
        assert mp["cac"] == pytest.approx(mp["sm_cost"] / mp["new_customers"])
        assert mp["cac"] > mb["cac"]


def test_stacked_plays_each_keep_their_effect():
    _, base = runs()
    _, both = runs(
        "plays=[objection_training,pricing_clarity]",
        *full("objection_training")[1:],
        *full("pricing_clarity")[1:],
    )
    assert_up(
        per_rep(base, lambda r: conversion(r, "mlg", "proposal")),
        per_rep(both, lambda r: conversion(r, "mlg", "proposal")),
        "proposal conversion (objection training)",
    )
    assert_down(
        per_rep(base, lambda r: mean_days(r, "mlg", "proposal")),
        per_rep(both, lambda r: mean_days(r, "mlg", "proposal")),
        "proposal days (pricing clarity)",
    )


def test_single_play_name_selects_like_a_list():
    sc = scenario("plays=speed_to_lead_sla")[0]
    assert list(sc.plays) == ["speed_to_lead_sla"]
    assert sc.plays["speed_to_lead_sla"].start_day == sc.warmup_days  # launched at window start


def test_a_play_leaves_draws_it_does_not_change_alone():
    # a play that changes only AE stages leaves arrivals and the pre-queue MQL outcomes untouched
    _, base = runs()
    _, tr = runs(*full("objection_training"))
    for b, t in zip(base, tr, strict=True):
        assert b.leads.equals(t.leads)
        fb = b.funnel[b.funnel["stage"] == "mql"].reset_index(drop=True)
        ft = t.funnel[t.funnel["stage"] == "mql"].reset_index(drop=True)
        assert fb.equals(ft)


# -- a user's own play from YAML ------------------------------------------------------------------

USER_PLAY = textwrap.dedent(
    """\
    my_play:
      start_day: 0
      cost_month: 1000
      changes:
        - {target: channels.paid_search.budget_month, scale: 2.0}
        - {target: mix.smb, set: {plg: 1.0}}
        - {target: team.sdr.contact_prob, scale: 0.5}
        - {target: "motions.mlg.stages.demo.days", scale: 0.5}
    """
)


def test_a_user_play_from_yaml_applies_generic_changes(tmp_path):
    (tmp_path / "plays").mkdir()
    (tmp_path / "plays" / "my_play.yaml").write_text(USER_PLAY)
    search = f"hydra.searchpath=[file://{tmp_path}]"
    sc, base = runs()
    _, mine = runs(search, "plays=[my_play]")
    assert "my_play" in scenario(*SMALL, search, "plays=[my_play]")[0].plays
    for b, m in zip(base, mine, strict=True):
        assert leads(m, "mlg", "smb") == 0 < leads(b, "mlg", "smb")  # smb is all product-led now
        assert leads(m, "plg", "smb") > leads(b, "plg", "smb")
    assert_up(
        per_rep(base, lambda r: leads(r, "mlg", "mid", source="paid_search")),
        per_rep(mine, lambda r: leads(r, "mlg", "mid", source="paid_search")),
        "mid-market paid search leads at twice the budget",
    )
    assert_down(
        per_rep(base, lambda r: conversion(r, "mlg", "sdr_qualify")),
        per_rep(mine, lambda r: conversion(r, "mlg", "sdr_qualify")),
        "SDR contact at half the contact probability",
    )
    assert_down(
        per_rep(base, lambda r: mean_days(r, "mlg", "demo")),
        per_rep(mine, lambda r: mean_days(r, "mlg", "demo")),
        "demo days",
    )


def test_budget_change_charges_the_new_budget():
    _, base = runs()
    _, dbl = runs("+plays.spend={changes: [{target: 'channels.*.budget_month', scale: 2.0}]}")
    for b, d in zip(base, dbl, strict=True):
        mb = b.costs[b.costs["category"] == "marketing"]["amount"].sum()
        md = d.costs[d.costs["category"] == "marketing"]["amount"].sum()
        assert md == pytest.approx(2 * mb, rel=1e-9)


# -- bad input ------------------------------------------------------------------------------------


def reject(*overrides: str) -> str:
    with pytest.raises(ConfigError) as exc:
        resolve(compose_config(list(overrides)))
    text = str(exc.value)
    assert text.startswith("config error: ") and "\n" not in text, text
    return text


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (("plays=[abm]", "+plays.abm.bogus=1"), ("plays.abm.bogus", "unknown key")),
        (
            ("+plays.x={changes: [{target: motions.mlg.stages.nosuch.p, scale: 1.1}]}",),
            ("plays.x.changes.0.target", "nosuch", "stages"),
        ),
        (
            ("+plays.x={changes: [{target: team.sdr.count, scale: 2}]}",),
            ("plays.x.changes.0.target", "team.sdr.count", "allowed targets"),
        ),
        (
            ("plays=[abm]", "plays.abm.ramp_days=-5"),
            ("plays.abm.ramp_days", "-5", "greater than or equal to 0"),
        ),
        (
            ("plays=[abm]", "plays.abm.adoption=1.5"),
            ("plays.abm.adoption", "1.5", "less than or equal to 1"),
        ),
        (
            ("+plays.x={changes: [{target: mix.smb, set: {plg: 0.5}}]}",),
            ("plays.x.changes.0.target", "mix.smb", "sum to 0.5"),
        ),
        (
            ("+plays.x={changes: [{target: team.sdr.contact_prob, set: 2}]}",),
            ("plays.x.changes.0.set", "probability"),
        ),
        (("plays=[abm]", "plays.abm.segments=[nosuch]"), ("plays.abm.segments", "nosuch")),
    ],
)
def test_bad_play_input_gives_one_clear_line(overrides, needles):
    text = reject(*overrides)
    for n in needles:
        assert n in text, text
