"""One lead's journey inside simpy: from the block it entered at to a terminal state or the horizon.
Free blocks (no contention) are walked at once and collapse into one timeout; SDR and AE blocks queue
at their desks (sim.model.sdr_desk, sim.model.ae_desk)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model.customers import close
from sim.motions import PASSED, walk_one

if TYPE_CHECKING:  # types only: the world composes this module
    from sim.model.lead import Lead
    from sim.model.world import World


def journey(w: World, lead: Lead):
    """The simpy process of one lead, from block `lead.block` (reached at `lead.t`)."""
    env, end, cm = w.env, w.end, lead.cm
    t = lead.t
    status, k = PASSED, cm.n_stages
    for b in cm.blocks[lead.block :]:
        if b.guarded and not any(
            cm.stages[j].applies_one(lead.seats) for j in range(b.start, b.stop)
        ):
            continue
        if b.kind == "free":
            status, k, t_end, ot = walk_one(
                cm,
                max(b.start, lead.first),
                b.stop,
                lead.seg,
                lead.seats,
                t,
                lead.u,
                lead.d,
                w.scale_l[lead.seg],
                end,
                1.0,
                w.rec,
                w.book,
                lead.pu,
            )
            if lead.opp_t != lead.opp_t:
                lead.opp_t = ot
            if status != PASSED:
                t = t_end
                break
            if t_end > env.now:
                yield env.timeout(t_end - env.now)
            t = t_end
            continue
        if b.kind == "sdr":
            if b.start == cm.opp_stage and lead.opp_t != lead.opp_t:
                lead.opp_t = t
            if b.guarded and not cm.stages[b.start].applies_one(lead.seats):
                continue
            out = yield from w.sdr.serve(lead, b, t)
        else:
            out = yield from w.ae.serve(lead, b, t)
        if out is None:  # the desk recorded the journey's end
            return
        s, k2, t = out
        if s != PASSED:
            status, k = s, k2
            break
        if b.kind == "ae":
            status, k = s, k2
    close(w, lead, status, k, t)
