"""The single-lead walk with AE selling time (`spend`, sim.model.ae_hours) is the plain walk plus the
wait for an AE: when every stage's work is done the moment it starts, it decides every stage as the
plain walk does; when the work waits, the wait erodes the chance and lengthens the stage."""

from __future__ import annotations

import math

import numpy as np

from sim.motions import compile_motions, walk_one
from sim.plays import compile_plays

from .conftest import scenario
from .test_stage_rule import Funnel


def _walks(spend=None, decay=math.inf):
    sc, _ = scenario()
    motions = compile_motions(sc)
    book = compile_plays(sc, motions, 24)
    rng = np.random.default_rng(11)
    out = []
    for cm in motions:
        k = cm.n_stages
        for _ in range(200):
            f = Funnel()
            u, d = rng.random(k).tolist(), rng.gamma(2.0, 10.0, k).tolist()
            res = walk_one(
                cm, 0, k, int(rng.integers(0, 3)), 5.0, float(rng.uniform(0, 200)), u, d, 1.0,
                300.0, 1.0, f, book, None, None, 1.0, spend, decay,
            )  # fmt: skip
            out.append((res, f.rows))
    return out


def test_work_done_at_once_walks_as_the_plain_walk():
    plain = _walks()
    at_once = _walks(spend=lambda t: (t, t), decay=30.0)
    for (a, fa), (b, fb) in zip(plain, at_once, strict=True):
        assert a[:4] == b[:4] or (a[:3] == b[:3] and a[3] != a[3] and b[3] != b[3])
        assert b[4] == 0.0  # nobody waited
        assert [(j, t, ok) for j, t, ok, _ in fa] == [(j, t, ok) for j, t, ok, _ in fb]
        # days recorded: the stage's duration, as end - start with AE time
        assert np.allclose([x[3] for x in fa], [x[3] for x in fb], rtol=1e-12)


def test_waiting_for_an_ae_erodes_the_chance_and_counts_as_waited():
    """The same waits (5 days before each stage's work) with and without decay: the stages last
    as long, only the chance differs."""
    kept = _walks(spend=lambda t: (t + 5.0, t + 5.0), decay=math.inf)
    eroded = _walks(spend=lambda t: (t + 5.0, t + 5.0), decay=10.0)
    assert max(r[4] for r, _ in eroded) >= 5.0
    won = lambda walks: sum(r[0] == 1 for r, _ in walks)  # noqa: E731 (1: PASSED)
    assert won(eroded) < won(kept)
