"""What the hot paths rely on: leads built with positional arguments (keywords cost twice the time
per lead) in the order of Lead's fields, and pools that hand out their draws in order."""

import gc
from dataclasses import fields

import numpy as np
import pytest

from sim.model import journey, simulate_replication
from sim.model.draws import Pool
from sim.model.lead import Lead
from sim.model.sdr_desk import SdrDesk

from .conftest import scenario

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


def _same_records(a, b) -> None:
    assert a.events == b.events
    for table, cols in a.columns.items():
        for name, col in cols.items():
            np.testing.assert_array_equal(col, b.columns[table][name], err_msg=f"{table}.{name}")
    for name, w in a.waits.items():
        np.testing.assert_array_equal(w, b.waits[name], err_msg=f"waits.{name}")


@pytest.mark.parametrize("overrides", [(), ("plays=[speed_to_lead_sla]",), ("company=sdr_bound",)])
def test_the_sdr_desks_one_call_entry_keeps_the_records_of_the_general_journey(
    monkeypatch, overrides
) -> None:
    """New inbound leads reach an SDR through `SdrDesk.enter`, which does in one call what
    `journey.advance` and the desk's `request` do: with `enter` replaced by that general path, every
    record, wait and the event count are the same (with prospecting SDRs, an SLA play, a queue)."""
    sc = scenario(*overrides)[0]
    fused = simulate_replication(sc, 0)
    monkeypatch.setattr(
        SdrDesk, "enter", lambda self, lead, at: journey.advance(self.w, lead, lead.t)
    )
    general = simulate_replication(sc, 0)
    assert len(fused.waits["sdr"]) > 100  # the path under test ran
    _same_records(fused, general)
