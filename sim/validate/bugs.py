"""Deliberate bugs: switch one on, and the validation checks must catch it.

    python -m sim.validate --size fast --bug sdr_serves_two --only check_erlang_c
    python -m sim.validate --size fast --bug stage_p_twice --only check_funnel_algebra

Each bug patches one seam of the engine for the duration of a `with inject(name):` block, so the
checks run the very code a user runs, with one thing wrong. A check that still passes with a bug on
would prove nothing; tests/test_validation_bugs.py holds each bug to the checks that must catch it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from sim import motions
from sim.model import sdr_desk
from sim.validate import queues


def _sdr_serves_two():
    init = sdr_desk.SdrDesk.__init__

    def buggy(self, w):
        init(self, w)
        self.schedule = [2 * n for n in self.schedule]
        self.seats = self.schedule[0]

    return mock.patch.object(sdr_desk.SdrDesk, "__init__", buggy)


def _stage_p_twice():
    probs = motions._probs

    def buggy(st, segments):
        return tuple(p * p for p in probs(st, segments))

    return mock.patch.object(motions, "_probs", buggy)


@dataclass(frozen=True)
class Bug:
    what: str
    catches: tuple[str, ...]  # the checks that must catch it (tests/test_validation_bugs.py)
    patch: Callable[[], Any]  # returns the patch (a context manager)


BUGS = {
    "sdr_serves_two": Bug(
        "an SDR works two leads at once (the SDR desk has twice its headcount's seats)",
        # not check_littles_law: L = lambda W holds for any number of servers, so it cannot tell
        ("check_erlang_c", "check_tandem", "check_peer_ciw"),
        _sdr_serves_two,
    ),
    "stage_p_twice": Bug(
        "every stage's probability is applied twice (a lead passes a stage with p^2, not p)",
        ("check_funnel_algebra", "check_ground_truth"),
        _stage_p_twice,
    ),
}


@contextmanager
def inject(name: str) -> Iterator[None]:
    """Run the block with bug `name` in the engine (cached engine runs are dropped on entry and
    exit, so no result of a correct run is reused, nor a buggy one kept)."""
    if name not in BUGS:
        raise ValueError(f"unknown bug {name!r}; allowed: {', '.join(sorted(BUGS))}")
    queues.mmc_records.cache_clear()
    try:
        with BUGS[name].patch():
            yield
    finally:
        queues.mmc_records.cache_clear()
