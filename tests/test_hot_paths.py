"""What the hot paths rely on: leads built with positional arguments (keywords cost twice the time
per lead) in the order of Lead's fields, and pools that hand out their draws in order."""

from dataclasses import fields

import numpy as np

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
