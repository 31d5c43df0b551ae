"""The funnel validation checks at size "fast", and lead conservation over random linear funnels."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model import simulate_replication
from sim.validate import funnel


def _assert_rows(rows):
    failed = [r for r in rows if not r.passed]
    for r in failed:
        print(
            f"FAILED {r.check}: expected {r.expected}; observed {r.observed:.6g} "
            f"not in [{r.low:.6g}, {r.high:.6g}] ({r.note})"
        )
    assert rows and not failed, f"{len(failed)} of {len(rows)} rows failed"


@pytest.mark.parametrize(
    "check", ["check_funnel_algebra", "check_ground_truth", "check_common_random_numbers"]
)
def test_funnel_check_passes_at_fast_size(check):
    """Every row within its interval at alpha funnel.ALPHA = 5e-6 (exact binomial/Poisson/chi-square
    regions, CLT for means); at most MAX_ROWS rows, so the check fails a correct engine less than
    1e-4 of the time (Bonferroni)."""
    rows = getattr(funnel, check)("fast")
    assert len(rows) <= funnel.MAX_ROWS, len(rows)
    _assert_rows(rows)


def test_stage_truth_with_fit_matches_a_monte_carlo_walk():
    """fit_stage_ps: each stage's conversion among the leads that reach it, when fit shifts every
    stage's log-odds. Checked against 400,000 simulated leads (tolerance: 5 binomial standard
    errors), and equal to p when fit is off."""
    ps, m, beta = [0.3, 0.6, 0.9], 0.45, 1.5
    assert funnel.fit_stage_ps(ps, m, 0.0) == pytest.approx(ps)
    rng = np.random.default_rng(1)
    f = rng.beta(4 * m, 4 * (1 - m), 400_000)
    o = np.exp(beta * (f - 0.5))
    alive = np.ones(len(f), dtype=bool)
    truth = funnel.fit_stage_ps(ps, m, beta)
    for k, p in enumerate(ps):
        q = p * o / (1 - p + p * o)
        ok = rng.random(len(f)) < q
        n = alive.sum()
        rate = (ok & alive).sum() / n
        assert abs(rate - truth[k]) < 5 * np.sqrt(truth[k] * (1 - truth[k]) / n), k
        alive &= ok
    q1 = ps[1] * o / (1 - ps[1] + ps[1] * o)
    assert truth[1] > q1.mean() + 0.01  # survivors of stage 0 have higher fit: selection


_dist = st.one_of(
    st.none(),
    st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.1, 40)),
    st.builds(
        lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv}, st.floats(0.1, 40), st.floats(0.2, 2)
    ),
    st.builds(lambda m: {"dist": "fixed", "mean": m, "cv": 0}, st.floats(0.1, 40)),
    st.builds(
        lambda m, cv: {"dist": "lognormal", "mean": m, "cv": cv},
        st.floats(0.1, 40),
        st.floats(0.1, 1.5),
    ),
)
_p = st.integers(0, 40).map(lambda i: i / 40)  # p = 0 and p = 1 among the values


@st.composite
def _funnels(draw):
    k = draw(st.integers(1, 5))
    stages = [(draw(_p), draw(_dist)) for _ in range(k)]
    return {
        "stages": stages,
        "opp_index": draw(st.integers(0, k - 1)),
        "arrival_rate": draw(st.floats(0.3, 40)),
        "horizon_days": draw(st.floats(15, 240)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_funnels())
def test_every_lead_ends_in_exactly_one_state(cfg):
    """Leads born = dropped at some stage + won + still open at the horizon, exactly.

    The records count leads at birth (records.leads), stage decisions (records.funnel), leads in
    progress at the end by stage (records.open_at_end) and one opportunity per lead from the
    opportunity stage on, open ones included.
    """
    sc = funnel.linear_funnel(**cfg)
    r = simulate_replication(sc, 0)
    K, o = len(cfg["stages"]), cfg["opp_index"]
    born = int(r.leads["leads"].sum())
    g = r.funnel.groupby("stage_index")[["advanced", "dropped"]].sum()
    adv = np.array([g["advanced"].get(k, 0.0) for k in range(K)], dtype=int)
    drop = np.array([g["dropped"].get(k, 0.0) for k in range(K)], dtype=int)
    opp = r.opportunities
    out = opp["outcome"].astype(str).to_numpy()
    stage = opp["stage"].map({f"s{k}": k for k in range(K)}).to_numpy()
    won, lost, is_open = out == "won", out == "lost", out == "open"

    # every opportunity has exactly one outcome and consistent dates
    assert (won | lost | is_open).all() and not (won & lost).any()
    assert opp.loc[is_open, "closed_day"].isna().all()
    assert opp.loc[~is_open, "closed_day"].notna().all()
    assert (opp["created_day"] >= opp["lead_day"]).all()
    assert (opp.loc[~is_open, "closed_day"] >= opp.loc[~is_open, "created_day"]).all()
    assert (stage >= o).all() and (stage[won] == K - 1).all()

    # opportunities by outcome agree with the stage counts
    assert won.sum() == adv[K - 1]
    for k in range(o, K):
        assert (lost & (stage == k)).sum() == drop[k], f"lost at stage {k}"
    entered = born if o == 0 else adv[o - 1]
    assert len(opp) == entered, "every lead reaching the opportunity stage is one opportunity"
    assert len(r.customers) == won.sum()

    # flow: leads entering stage k are decided there or still open there, at every stage
    open_k = r.open_at_end.set_index("stage_index")["open"].reindex(range(K), fill_value=0)
    for k in range(K):
        into = born if k == 0 else adv[k - 1]
        assert into == adv[k] + drop[k] + open_k[k], f"stage {k}"
        if k >= o:  # open leads from the opportunity stage on are the open opportunities
            assert open_k[k] == (is_open & (stage == k)).sum(), f"open at stage {k}"

    # conservation: every lead born ends in exactly one state
    assert born == drop.sum() + won.sum() + open_k.sum()
