"""A lead (or deal) on its way through a motion inside simpy: the facts its journey needs, in one
small record instead of a dozen loose arguments."""

from __future__ import annotations

from dataclasses import dataclass

from sim.motions import CMotion


@dataclass(slots=True)
class Lead:
    """One lead's journey state. `u`, `d`: its pre-drawn stage uniforms and unit durations (indexed by
    stage); `sdr_u`, `sdr_w`: its contact uniform and unit SDR work; `pu`: its adoption uniforms for
    per-lead plays (None without such plays). Times are days from the start of the run."""

    cm: CMotion
    source: str
    seg: int
    seats: float
    u: list[float]
    d: list[float]
    lead_t: float  # when the lead was born (nan for an open-pipeline deal: its created day)
    opp_t: float = float("nan")  # when it became an opportunity (nan: not yet)
    t: float = 0.0  # when it reached its current block (may lie before the moment it is seen)
    block: int = 0  # the block of its motion it is in
    first: int = 0  # the stage it starts at inside that block (an open-pipeline deal's stage)
    amount: float | None = (
        None  # the deal's value, fixed at birth (customers.DealSize) or from the CRM
    )
    sdr_u: float = 0.0
    sdr_w: float = 0.0
    pu: list[float] | None = None
    fit: float = 0.5  # its ICP-fit score (lead scoring)
    odds: float | None = None  # its fit's odds multiplier on every stage (sim.motions.fit_odds)
    size_odds: float = 1.0  # its size-and-price odds multiplier at AE stages (customers.DealSize)
    size_days: float = 1.0  # its size duration multiplier at AE stages
    owner: str = ""  # the AE who works it, once one does
    k: int = 0  # the stage its last walk ended at, when it went to a desk (for its record)
