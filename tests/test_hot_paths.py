"""What the hot paths rely on: leads built with positional arguments (keywords cost twice the time
per lead) in the order of Lead's fields, and pools that hand out their draws in order."""

import gc
from dataclasses import fields

import numpy as np

from sim.model import simulate_replication
from sim.model.draws import Pool
from sim.model.lead import Lead

POSITIONAL = (
    "cm", "source", "seg", "seats", "u", "d", "lead_t", "opp_t", "t", "block", "first", "amount",
    "sdr_u", "sdr_w", "pu", "fit", "odds", "size_odds", "size_days",
)  # fmt: skip


def test_leads_fields_start_in_the_order_the_sources_and_outbound_pass_them() -> None:
    assert tuple(f.name for f in fields(Lead))[: len(POSITIONAL)] == POSITIONAL


def test_a_pool_hands_out_its_chunks_in_order_one_value_or_many_at_a_time() -> None:
    """`next` and `take` read one stream of chunks: n calls of next give what take(n) gives, across
    chunk boundaries, and the values are the draws in the order drawn."""

    def pool() -> Pool:
        rng = np.random.default_rng(3)
        return Pool(rng.random, chunk=5)

    a, b = pool(), pool()
    one_by_one = [a.next() for _ in range(13)]
    assert b.take(4) + b.take(9) == one_by_one
    assert one_by_one == np.random.default_rng(3).random(15).tolist()[:13]


def test_a_replication_leaves_its_leads_to_reference_counting_not_the_cyclic_collector(
    fast_scenario,
) -> None:
    """World.dispose breaks the world's cycles, and prospecting's closures name no cycle, so the
    thousands of leads, lists and draws of a replication are freed as it returns; the cyclic
    collector, which would walk them all, finds only simpy's environment (a handful of objects;
    without dispose it finds thousands)."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        simulate_replication(fast_scenario, 0)
        found = gc.collect()
    finally:
        if was:
            gc.enable()
    assert found < 50
