"""One lead's journey inside simpy, as scheduled calls rather than a process: from the block it reached
to the next desk (SDR or AE) or to its end. Free blocks (no contention) are walked at once, so the lead
costs one event per desk visit, not one per stage, and nothing while it waits in line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model.customers import ae_odds, close
from sim.model.desk import Call
from sim.motions import OPEN, PASSED, Block, walk_one

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


def walk_block(
    w: World, lead: Lead, b: Block, t: float, mult: float = 1.0
) -> tuple[int, int, float]:
    """Walk the lead through the stages of block `b` from time t (`sim.motions.walk_one`; `mult`
    scales the first stage's probability), noting when it became an opportunity. At AE stages the
    deal's size and price move its odds and durations (`customers.ae_odds`). Returns (status, stage,
    time)."""
    ae = b.kind == "ae"
    status, k, t, ot, _ = walk_one(
        lead.cm,
        lead.first if lead.first > b.start else b.start,
        b.stop,
        lead.seg,
        lead.seats,
        t,
        lead.u,
        lead.d,
        w.scale_l[lead.seg],
        w.end,
        mult,
        w.rec,
        w.book,
        lead.pu,
        ae_odds(lead.odds, lead.size_odds) if ae else lead.odds,
        lead.size_days if ae else 1.0,
    )
    if lead.opp_t != lead.opp_t:
        lead.opp_t = ot
    return status, k, t


def advance(w: World, lead: Lead, t: float, k: int | None = None) -> None:
    """Move `lead` on from block `lead.block`, which it reached at time t (now or later): walk the
    free blocks in one go, then queue at the next desk when the lead gets there, or record its end.
    `k`: the stage the lead's last walk ended at (recorded if the journey ends with nothing left)."""
    cm = lead.cm
    blocks = cm.blocks
    if k is None:
        k = len(cm.stages)
    for i in range(lead.block, len(blocks)):
        b = blocks[i]
        if b.guarded and not any(
            cm.stages[j].applies_one(lead.seats) for j in range(b.start, b.stop)
        ):
            continue
        if b.kind == "free":
            status, k, t = walk_block(w, lead, b, t)
            if status != PASSED:
                close(w, lead, status, k, t)
                return
            continue
        lead.block, lead.t, lead.k = i, t, k
        if b.kind == "sdr":
            if b.start == cm.opp_stage and lead.opp_t != lead.opp_t:
                lead.opp_t = t
            if b.guarded and not cm.stages[b.start].applies_one(lead.seats):
                continue
            sdr = w.sdr
            at = sdr.seen_at(lead, t) if sdr.check else t
            if at >= w.end:  # nobody looks at it before the end
                close(w, lead, OPEN, b.start, w.end)
                return
            arrive = sdr.arrive if w.book.has_fit else sdr.request  # (arrive: lead scoring)
        else:
            if b.start <= cm.opp_stage < b.stop and lead.opp_t != lead.opp_t:
                lead.opp_t = t
            at, arrive = t, w.ae.request  # what AeDesk.arrive does, a call less
        env = w.env
        now = env._now
        if at > now:
            Call(env, at - now, arrive, lead)
        else:
            arrive(lead)
        return
    close(w, lead, PASSED, k, t)
