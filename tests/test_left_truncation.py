"""Left truncation: an extract that starts mid-stream holds, of the deals created before it starts,
only those still open then. Such a deal enters the outcome fit from its age on the first day
(delayed entry): its likelihood term is divided by P(open at that age). Ignoring the entry age keeps
the survivors as if they were a whole cohort, which over-weights slow outcomes (length bias).

Synthetic deals with known parameters: won with probability P_WIN after gamma(mean 90, cv 0.3),
else lost after gamma(mean 15, cv 0.8), created uniformly over 300 days before the extract's start
and 200 days after it; the file is cut 200 days after the start. Fixed seeds; the tolerance is the
90 % interval the fit reports (delta method), against the oracle share of the sample's deals won.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.calibrate.fit import _loglik_obs, fit, fit_outcomes
from sim.calibrate.importer import CrmData
from sim.calibrate.options import fit_options
from sim.config import ConfigError
from tests.synthetic_crm import crm_from_days

REPO = Path(__file__).resolve().parents[1]
P_WIN, BEFORE, AFTER = 0.5, 300.0, 200.0
DAY0 = pd.Timestamp("2024-01-01")  # the extract's first day


def gamma(rng, mean, cv, n):
    k = 1 / cv**2
    return rng.gamma(k, mean / k, n)


def deals(seed: int = 11, n: int = 6000):
    """(created, won, whole-day time to close) of every deal, before the extract drops any."""
    rng = np.random.default_rng(seed)
    created = np.floor(rng.uniform(-BEFORE, AFTER, n))
    won = rng.random(n) < P_WIN
    dur = np.where(won, gamma(rng, 90.0, 0.3, n), gamma(rng, 15.0, 0.8, n))
    return created, won, np.maximum(np.ceil(dur), 1.0)


@pytest.fixture(scope="module")
def extract():
    """The deals the extract holds: (t, kind, entry, oracle P(won) among the deals it covers)."""
    created, won, dur = deals()
    close = created + dur
    kept = close > 0  # closed before the extract starts: absent from it
    created, won, dur, close = created[kept], won[kept], dur[kept], close[kept]
    seen = close <= AFTER
    kind = np.where(seen, np.where(won, 1, 2), 0)
    t = np.where(seen, dur, AFTER - created)
    entry = np.maximum(-created - 1.0, 0.0)  # open on day 0: a close that day lies in (d-1, d]
    return t, kind, entry, float(won[created >= 0].mean())


def test_zero_entry_is_the_plain_likelihood(extract):
    t, kind, _, _ = extract
    x = fit_outcomes(t[:500], kind[:500], 1, "gamma", True, 1.0, interval=False).params
    plain = _loglik_obs(np.array(x), t, kind, 1, "gamma", True, 1.0)
    zero = _loglik_obs(np.array(x), t, kind, 1, "gamma", True, 1.0, np.zeros(len(t)))
    assert np.array_equal(plain, zero)


def test_delayed_entry_removes_the_length_bias(extract):
    t, kind, entry, oracle = extract
    assert (entry > 0).sum() > 500  # many survivors of the earlier cohorts
    fitted = fit_outcomes(t, kind, 1, "gamma", True, 1.0, entry=entry)
    lo, hi = fitted.p_win_ci
    assert lo <= oracle <= hi, (fitted.p_win, fitted.p_win_ci, oracle)
    assert fitted.classes[0].won.mean == pytest.approx(90.0, rel=0.05)
    # the same deals read as whole cohorts: mostly slow wins survive to day 0, so P(won) is far
    # above its interval (this is what the delayed entry corrects)
    naive = fit_outcomes(t, kind, 1, "gamma", True, 1.0)
    assert naive.p_win > hi + 0.03, (naive.p_win, fitted.p_win_ci)


def _crm(extract_deals) -> CrmData:
    created, won, dur = extract_deals
    close = created + dur
    kept = close > 0
    created, won, close = created[kept], won[kept], close[kept]
    seen = close <= AFTER
    return crm_from_days("truncated", DAY0, created, close, won, seen, AFTER - 1, DAY0)


def test_fit_uses_the_truncated_deals_only_for_outcomes():
    crm = _crm(deals(seed=12, n=3000))
    on = fit(crm, classes=(1,), seasonality=False)
    off = fit(crm, classes=(1,), seasonality=False, left_truncation=False)
    seg_on, seg_off = on.segments["all"], off.segments["all"]
    # counts, the Aalen-Johansen check and the arrivals are the window's own deals either way
    assert seg_on.n == seg_off.n and on.arrivals.level == off.arrivals.level
    assert len(on.deals.t) > len(off.deals.t) and (on.deals.entry > 0).any()
    # the window alone (200 days) sees the 90-day wins only partly; the earlier cohorts' survivors
    # pin the time to win down: the truncation-aware fit is nearer the true 90 days
    assert abs(seg_on.outcome.classes[0].won.mean - 90) < abs(
        seg_off.outcome.classes[0].won.mean - 90
    )
    assert any("delayed entry" in n for n in on.notes)


def test_left_truncation_key_is_validated():
    base = OmegaConf.load(REPO / "configs" / "calibrate.yaml")
    assert fit_options(base)["left_truncation"] is True  # the default
    off = OmegaConf.merge(base, {"fit": {"left_truncation": False}})
    assert fit_options(off)["left_truncation"] is False
    with pytest.raises(ConfigError, match=r"fit.left_truncation = 'yes': true or false"):
        fit_options(OmegaConf.merge(base, {"fit": {"left_truncation": "yes"}}))
