"""Validation: the engine checked against known answers (issue: prove the engine right).

Each check is a function `check_*(size) -> list[CheckRow]` in a module of this package (queues.py,
funnel.py, ...). Tests call them at size "fast" and assert `row.passed`; `make validate` calls them at
size "full" and writes docs/validation.md from the rows (python -m sim.validate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckRow:
    """One line of docs/validation.md: what was checked, the known answer, what the engine gave."""

    check: str  # what is checked, e.g. "M/M/5 at rho 0.9: mean wait in queue"
    expected: str  # formula and value, e.g. "Erlang C: Wq = 1.5374"
    observed: float
    low: float  # the interval the observation must fall in (or that must cover the expected value)
    high: float
    passed: bool
    note: str = ""  # how the interval was derived (tolerance and its source)
