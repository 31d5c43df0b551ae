"""The engine's queues against known answers (sim.validate.queues) at size "fast".

Tolerances: mean-wait rows use a log-scale (Cox) batch-means interval at nominal two-sided alpha
WAIT_ALPHA = 1e-7; P(wait > 0) rows t intervals at P_WAIT_ALPHA = 1e-6; the ciw rows Welch intervals
at PEER_ALPHA = 1e-6; the other rows t intervals at ALPHA = 1e-5. Each rule's real false-alarm rate
at this size, and each whole check's (one test fails when any row does), was measured on exact
queues (python -m sim.validate.false_alarms; sim/validate/false_alarms.csv, checked below 1e-4 by
tests/test_validation_false_alarms.py). The seeds are fixed (sim.validate.queues.SEED), so these
tests are deterministic.
"""

from __future__ import annotations

import pytest

from sim.validate import CheckRow
from sim.validate.queues import check_erlang_c, check_littles_law, check_peer_ciw, check_tandem


def _assert_all_pass(rows: list[CheckRow]) -> None:
    assert rows, "the check returned no rows"
    failed = [r for r in rows if not r.passed]
    msg = "\n".join(
        f"FAILED {r.check}: observed {r.observed:.6g} not consistent with {r.expected} "
        f"(interval [{r.low:.6g}, {r.high:.6g}]; {r.note})"
        for r in failed
    )
    assert not failed, msg


def test_erlang_c():
    rows = check_erlang_c("fast")
    assert len(rows) == 10  # 5 (servers, utilisation) pairs x (mean wait, P(wait > 0))
    _assert_all_pass(rows)


def test_littles_law():
    _assert_all_pass(check_littles_law("fast"))


def test_tandem():
    _assert_all_pass(check_tandem("fast"))


def test_peer_ciw():
    pytest.importorskip("ciw", reason="ciw is a dev dependency: pip install -e '.[dev]'")
    _assert_all_pass(check_peer_ciw("fast"))
