"""Plays that cost time and meet resistance (sim.plays, docs/plays.md): training takes selling time
in exactly the months it happens, adoption follows an S-curve with a learning dip and backsliding,
focus conserves selling time, and a play's net effect can be negative.

Statistical checks are paired: the same small scenario with and without the play on the same seed
and replications (common random numbers); a 95 % t-interval of the mean paired difference
(scipy.stats.ttest_rel) must lie on the expected side of 0.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats

from sim.compose import compose_config, resolve
from sim.config import ConfigError
from sim.model import simulate_replication
from sim.motions import compile_motions
from sim.plays import (
    WORKING_DAYS_MONTH,
    Ramp,
    capacity_factor,
    compile_plays,
    ramp_of,
    rest_days_scale,
)
from sim.records import MONTH_DAYS
from tests.conftest import scenario

SMALL = ("horizon_days=120", "warmup_days=60")
REPS = 8


def book_of(*overrides: str):
    sc = scenario(*SMALL, *overrides)[0]
    months = int(np.ceil(sc.total_days / MONTH_DAYS))
    return sc, compile_plays(sc, compile_motions(sc), months), months


# -- training takes selling time ------------------------------------------------------------------


def test_training_days_reduce_capacity_in_exactly_the_months_they_happen():
    start = 2.5 * MONTH_DAYS  # mid-way through month 2
    sc, book, months = book_of(
        "plays=[objection_training]",
        f"plays.objection_training.start_day={start}",
        "plays.objection_training.training.days=3",
        "plays.objection_training.training.reinforcement_days_month=1",
        "plays.objection_training.dip=0",
    )
    f = book.capacity["ae"]
    assert "sdr" not in book.capacity  # only the trained role loses time
    expect = np.ones(months)
    expect[2] -= (3 + 0.5 * 1) / WORKING_DAYS_MONTH  # the workshop + half a month of reinforcement
    expect[3:] -= 1 / WORKING_DAYS_MONTH
    expect[-1] = 1 - (sc.total_days / MONTH_DAYS - (months - 1)) / WORKING_DAYS_MONTH  # run ends
    assert np.allclose(f, expect)
    # the world applies it to the AE plan: FTE (selling time) falls by the factor, headcount and pay
    # do not, so the recorded staff table shows the lost time month by month
    base = simulate_replication(scenario(*SMALL)[0], 0).staff
    played = simulate_replication(sc, 0).staff
    for role, factor in (("ae", f), ("sdr", np.ones(months))):
        b, p = base[base["role"] == role], played[played["role"] == role]
        assert np.allclose(p["fte"].to_numpy(), b["fte"].to_numpy() * factor)
        assert (p["headcount"].to_numpy() == b["headcount"].to_numpy()).all()


def test_training_capacity_is_neutral_without_training_days():
    _, book, _ = book_of(
        "plays=[objection_training]",
        "plays.objection_training.training.days=0",
        "plays.objection_training.training.reinforcement_days_month=0",
        "plays.objection_training.dip=0",
    )
    assert np.array_equal(book.capacity["ae"], np.ones_like(book.capacity["ae"]))


def test_learning_dip_takes_time_while_reps_adopt_only():
    sc, _, months = book_of("plays=[objection_training]")
    p = sc.plays["objection_training"].model_copy(
        update={"start_day": 0.0, "ramp_days": 60.0, "dip": 0.2, "dip_days": 30.0}
    )
    p = p.model_copy(update={"training": p.training.model_copy(update={"days": 0.0})})
    p = p.model_copy(
        update={"training": p.training.model_copy(update={"reinforcement_days_month": 0.0})}
    )
    f = capacity_factor(p, ramp_of(p), months, sc.total_days)
    assert (f[:2] < 1.0).all()  # adopting (over 60 days): new adopters learn
    assert np.allclose(f[3:], 1.0)  # adoption done a month before: nobody is in the dip
    assert f.min() >= 1.0 - 0.2  # the dip never exceeds its share


# -- adoption: S-curve, backsliding ---------------------------------------------------------------


def test_adoption_is_an_s_curve_from_start_to_full():
    r = Ramp(start=100.0, days=50.0, top=0.8, steepness=4.4)
    assert r.at(99.9) == 0.0 and r.at(100.0) == pytest.approx(0.0, abs=1e-12)
    assert r.at(125.0) == pytest.approx(0.4)  # symmetric: half way at the midpoint
    assert r.at(150.0) == pytest.approx(0.8) and r.at(400.0) == 0.8
    assert r.at(105.0) < 0.8 * 0.1  # slow start (early adopters) ...
    assert r.at(145.0) > 0.8 * 0.9  # ... and slow finish (laggards), unlike a line
    t = np.linspace(90, 200, 221)
    a = r.at_array(t)
    assert np.all(np.diff(a) >= -1e-12)
    assert np.allclose(a, [r.at(x) for x in t])


def test_adoption_backslides_without_reinforcement_only():
    sc, _, _ = book_of("plays=[objection_training]")
    p = sc.plays["objection_training"].model_copy(
        update={
            "start_day": 0.0,
            "ramp_days": 30.0,
            "adoption": 1.0,
            "backslide_after_days": 90.0,
            "backslide_half_life_days": 60.0,
            "backslide_floor": 0.4,
        }
    )
    reinforced = p.model_copy(
        update={"training": p.training.model_copy(update={"reinforcement_days_month": 1.0})}
    )
    bare = p.model_copy(
        update={"training": p.training.model_copy(update={"reinforcement_days_month": 0.0})}
    )
    assert ramp_of(reinforced).at(400.0) == 1.0
    r = ramp_of(bare)
    assert r.at(90.0) == 1.0
    assert r.at(150.0) == pytest.approx(0.4 + 0.6 * 0.5)  # one half-life
    assert r.at(5000.0) == pytest.approx(0.4)


# -- focus: time conserved ------------------------------------------------------------------------


@pytest.mark.parametrize(("share", "scale"), [(0.3, 0.7), (0.2, 0.5), (0.5, 0.9)])
def test_focus_conserves_expected_selling_time(share, scale):
    sc, book, _ = book_of(
        "plays=[cadence_333]",
        f"plays.cadence_333.focus.share={share}",
        f"plays.cadence_333.focus.days_scale={scale}",
    )
    f = sc.plays["cadence_333"].focus
    motions = compile_motions(sc)
    mi = next(i for i, cm in enumerate(motions) if cm.name == "slg")
    k = [st.name for st in motions[mi].stages].index("meeting")
    D = book.dscale[mi][:, k]  # code 1: key accounts, code 2: the rest
    assert D[1] == pytest.approx(scale) and D[2] > 1.0
    assert share * D[1] + (1 - share) * D[2] == pytest.approx(1.0)
    assert D[2] == pytest.approx(rest_days_scale(f.share, f.days_scale))
    # the bands split the adopters by the play's own uniform: shares are share and 1 - share
    u = np.random.default_rng(1).random((200_000, 1))
    c = book.codes(u, np.zeros(len(u), dtype=int), np.full(len(u), 1e6))
    a = sc.plays["cadence_333"].adoption
    assert np.mean(c == 1) == pytest.approx(a * share, abs=0.005)
    assert np.mean(c == 2) == pytest.approx(a * (1 - share), abs=0.005)
    assert not np.any(c == 3)


# -- net effect can be negative -------------------------------------------------------------------


@functools.cache
def _runs(*overrides: str):
    sc = scenario(*SMALL, *overrides)[0]
    return [simulate_replication(sc, r) for r in range(REPS)]


def test_heavy_training_in_an_ae_bound_team_loses_bookings():
    # 3 AEs at 25 open deals each cannot take every opportunity: every day of training is a day
    # fewer deals are worked. A week of training at launch and 4 days a month after it, with no
    # conversion lift to earn it back, must lose new-business bookings in the window.
    bound = ("team.ae.count=3",)
    play = (
        "plays=[objection_training]",
        "plays.objection_training.start_day=0",
        "plays.objection_training.training.days=5",
        "plays.objection_training.training.reinforcement_days_month=4",
        "plays.objection_training.knobs.lift=1.0",
    )

    def booked(r):
        o = r.opportunities
        lo, hi = r.window
        won = (o["outcome"] == "won") & (o["closed_day"] >= lo) & (o["closed_day"] < hi)
        return float(o.loc[won & (o["type"] == "new"), "amount"].sum())

    a = [booked(r) for r in _runs(*bound)]
    b = [booked(r) for r in _runs(*bound, *play)]
    hi = stats.ttest_rel(np.asarray(b), np.asarray(a)).confidence_interval(0.95).high
    assert hi < 0, f"bookings should fall; paired 95% CI upper bound {hi:.4g}"


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (
            ("plays=[objection_training]", "plays.objection_training.training.role=csm"),
            ("plays.objection_training.training.role", "csm", "'sdr' or 'ae'"),
        ),
        (
            ("plays=[objection_training]", "plays.objection_training.training.days=-1"),
            ("plays.objection_training.training.days", "-1", "greater than or equal to 0"),
        ),
        (
            ("plays=[abm]", "+plays.abm.dip=0.2"),
            ("plays.abm", "dip", "training.role"),
        ),
        (
            ("plays=[cadence_333]", "plays.cadence_333.focus.share=1"),
            ("plays.cadence_333.focus.share", "less than 1"),
        ),
        (
            ("plays=[cadence_333]", "plays.cadence_333.focus.days_scale=1.5"),
            ("plays.cadence_333.focus.days_scale", "1.5", "less than or equal to 1"),
        ),
        (
            ("plays=[cadence_333]", "plays.cadence_333.focus.stages=nosuch"),
            ("plays.cadence_333.focus.stages", "nosuch", "stages are"),
        ),
        (
            ("plays=[cadence_333]", "plays.cadence_333.focus.motions=nosuch"),
            ("plays.cadence_333.focus.motions", "nosuch", "motions are"),
        ),
        (
            ("plays=[sales_marketing_alignment]", "plays.sales_marketing_alignment.mql_fit_min=2"),
            ("plays.sales_marketing_alignment.mql_fit_min", "less than or equal to 1"),
        ),
    ],
)
def test_bad_play_cost_input_gives_one_clear_line(overrides, needles):
    with pytest.raises(ConfigError) as exc:
        resolve(compose_config(list(overrides)))
    text = str(exc.value)
    assert text.startswith("config error: ") and "\n" not in text, text
    for n in needles:
        assert n in text, text


def test_backsliding_returns_deals_to_the_old_way_at_later_stage_entries():
    # adoption decays to nothing from day 30 (half-life 10 days) unless coaching reinforces it; each
    # stage entry decides anew, so late-stage conversion falls back towards the no-play level
    play = (
        "plays=[objection_training]",
        "plays.objection_training.start_day=0",
        "plays.objection_training.ramp_days=0",
        "plays.objection_training.adoption=1",
        "plays.objection_training.knobs.lift=1.2",
        "plays.objection_training.dip=0",
        "plays.objection_training.backslide_after_days=30",
        "plays.objection_training.backslide_half_life_days=10",
        "plays.objection_training.backslide_floor=0",
    )

    def proposal(r):
        f = r.funnel[(r.funnel["motion"] == "mlg") & (r.funnel["stage"] == "proposal")]
        return float(f["advanced"].sum() / (f["advanced"].sum() + f["dropped"].sum()))

    kept = [proposal(r) for r in _runs(*play)]
    faded = [
        proposal(r)
        for r in _runs(*play, "plays.objection_training.training.reinforcement_days_month=0")
    ]
    hi = stats.ttest_rel(np.asarray(faded), np.asarray(kept)).confidence_interval(0.95).high
    assert hi < 0, f"proposal conversion should fall without reinforcement; CI upper {hi:.4g}"


def test_the_shared_mql_bar_leaves_product_sign_ups_alone():
    """Alignment's MQL definition is marketing's: product-led sign-ups (which carry a fit score
    since fit acts on every stage) convert at activation exactly as without the play."""
    base = _runs()
    aligned = _runs(
        "plays=[sales_marketing_alignment]", "plays.sales_marketing_alignment.start_day=0"
    )
    for a, b in zip(base, aligned, strict=True):
        fa, fb = a.funnel, b.funnel
        pick = (fa["motion"] == "plg") & (fa["stage"] == "activation")
        assert (
            fa.loc[pick, "advanced"].sum()
            == fb.loc[(fb["motion"] == "plg") & (fb["stage"] == "activation"), "advanced"].sum()
        )
