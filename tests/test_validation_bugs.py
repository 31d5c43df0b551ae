"""Deliberate bugs (sim.validate.bugs) must be caught: with a bug in the engine, at least one row of a
check that must catch it fails, and with the bug switched off again the engine is back to normal.

Each test runs one cheap check at size "fast" (fixed seeds) with the bug on. The margins are wide:
an SDR working two leads at once halves the load per server, so P(wait > 0) and the mean wait drop
far below their Erlang C intervals; a stage probability applied twice cuts the wins of a four-stage
funnel by the product of the p's (0.168 to 0.0282 of leads), far outside the alpha 5e-6 regions.
"""

from __future__ import annotations

import pytest

from sim.validate import bugs, funnel, queues
from sim.validate.theory import erlang_c


def _failed(rows):
    return [r for r in rows if not r.passed]


def test_an_sdr_serving_two_leads_at_once_fails_erlang_c():
    with bugs.inject("sdr_serves_two"):
        rows = queues.check_erlang_c("fast")
    # every P(wait > 0) row fails, its whole interval below half the Erlang C value: not a near miss
    p_rows = [r for r in rows if "P(wait > 0)" in r.check]
    theory = [erlang_c(c, rho * c) for c, rho in queues.MMC_PAIRS]
    assert len(p_rows) == len(theory)
    for r, pc in zip(p_rows, theory, strict=True):
        assert not r.passed and r.high < pc / 2, (r.check, r.observed, r.high, pc)


def test_a_stage_probability_applied_twice_fails_funnel_algebra():
    with bugs.inject("stage_p_twice"):
        rows = funnel.check_funnel_algebra("fast")
    bad = _failed(rows)
    assert any("win rate" in r.check for r in bad), [r.check for r in bad]


def test_the_bug_is_gone_after_the_block():
    from sim import motions
    from sim.model.sdr_desk import SdrDesk

    init, probs = SdrDesk.__init__, motions._probs
    with bugs.inject("sdr_serves_two"), bugs.inject("stage_p_twice"):
        assert SdrDesk.__init__ is not init and motions._probs is not probs
    assert SdrDesk.__init__ is init and motions._probs is probs


def test_unknown_bug_is_refused():
    with pytest.raises(
        ValueError, match="unknown bug 'nope'; allowed: sdr_serves_two, stage_p_twice"
    ):
        with bugs.inject("nope"):
            pass


def test_the_cli_exits_0_when_the_bug_is_caught(capsys):
    from sim.validate.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--size", "fast", "--bug", "stage_p_twice", "--only", "check_funnel_algebra"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("bug stage_p_twice (every stage's probability is applied twice")
    assert "caught:" in out


def _other_pairs():
    """Every (bug, check) pair the bug claims besides the two fast tests above (slow: make validate
    runs them all for docs/validation.md's Deliberate bugs section)."""
    tested = {("sdr_serves_two", "check_erlang_c"), ("stage_p_twice", "check_funnel_algebra")}
    for name, bug in bugs.BUGS.items():
        for check in bug.catches:
            if (name, check) not in tested:
                yield pytest.param(name, check, id=f"{name}-{check}", marks=pytest.mark.slow)


@pytest.mark.parametrize("name,check", list(_other_pairs()))
def test_every_check_a_bug_names_catches_it(name, check):
    mod = queues if hasattr(queues, check) else funnel
    with bugs.inject(name):
        rows = getattr(mod, check)("fast")
    assert _failed(rows), f"{name}: every row of {check} passed"
