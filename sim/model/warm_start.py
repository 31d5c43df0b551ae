"""Warm start: deals open at day 0 (scenario.open_pipeline) start in their stage, their outcome and
remaining time drawn given their age (sim.open_pipeline). Like new leads, a deal whose remaining
stages touch no queue is walked in numpy; the others become simpy journeys from their stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.customers import close_batch
from sim.model.journey import advance
from sim.model.lead import Lead
from sim.motions import CMotion, walk_batch
from sim.open_pipeline import SOURCE, assign_motions, prepare

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.world import World


def warm_start(w: World) -> None:
    """Put every open-pipeline deal into the run at day 0."""
    by_motion: dict[str, list] = {}
    names = assign_motions(w.sc, w.motions, w.streams, w.scale)
    for deal, name in zip(w.sc.open_pipeline, names, strict=True):
        by_motion.setdefault(name, []).append(deal)
    for cm in w.motions:
        deals = by_motion.get(cm.name)
        if not deals:
            continue
        wd = prepare(w.sc, cm, deals, w.streams, w.scale)
        last = cm.blocks[-1]
        in_numpy = (wd.stage >= last.start) & (last.kind == "free")
        for k in np.unique(wd.stage[in_numpy]).tolist():
            _warm_batch(w, cm, k, wd, np.flatnonzero(in_numpy & (wd.stage == k)))
        for i in np.flatnonzero(~in_numpy).tolist():
            k = int(wd.stage[i])
            block = next(j for j, b in enumerate(cm.blocks) if b.start <= k < b.stop)
            age = -float(wd.age[i])
            lead = Lead(
                cm,
                SOURCE,
                int(wd.seg[i]),
                float(wd.seats[i]),
                wd.u[i].tolist(),
                wd.d[i].tolist(),
                lead_t=age,
                opp_t=age,
                t=0.0,
                block=block,
                first=k,
                amount=float(wd.amount[i]),
            )
            advance(w, lead, 0.0)


def _warm_batch(w: World, cm: CMotion, k: int, wd, idx: np.ndarray) -> None:
    """Open deals in stage k of the motion's last block, with no queue in it: walked to the end in
    numpy, their opportunities recorded as a batch."""
    seg, stop = wd.seg[idx], cm.n_stages
    walk = walk_batch(
        cm,
        k,
        stop,
        seg,
        wd.seats[idx],
        np.zeros(len(idx)),
        wd.u[idx, k:stop],
        wd.d[idx, k:stop],
        w.scale,
        w.end,
        w.book,
    )
    w.rec.batch(cm.index, k, walk)
    created = -wd.age[idx]
    stage = np.minimum(walk.stage, stop - 1)
    close_batch(
        w, cm, SOURCE, seg, created, created, walk.status, walk.t_out, stage, wd.amount[idx]
    )
