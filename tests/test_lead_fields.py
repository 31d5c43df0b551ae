"""The hot paths build leads with positional arguments (keywords cost twice the time per lead):
they rely on Lead's field order, which this test pins."""

from dataclasses import fields

from sim.model.lead import Lead

POSITIONAL = (
    "cm", "source", "seg", "seats", "u", "d", "lead_t", "opp_t", "t", "block", "first", "amount",
    "sdr_u", "sdr_w", "pu", "fit", "odds", "size_odds", "size_days",
)  # fmt: skip


def test_leads_fields_start_in_the_order_the_sources_and_outbound_pass_them() -> None:
    assert tuple(f.name for f in fields(Lead))[: len(POSITIONAL)] == POSITIONAL
