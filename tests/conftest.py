"""Shared helpers: compose a scenario exactly as the CLI would, small and fast by default."""

from __future__ import annotations

import pytest

from sim.compose import compose_config, resolve
from sim.config import RunSettings, Scenario

# A short, cheap version of the default scenario for tests that check behaviour, not numbers.
FAST = ["replications=2", "horizon_days=120", "warmup_days=60"]


def scenario(*overrides: str, fast: bool = True) -> tuple[Scenario, RunSettings]:
    return resolve(compose_config([*(FAST if fast else []), *overrides]))


@pytest.fixture
def fast_scenario() -> Scenario:
    return scenario()[0]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: starts a real local Ray cluster (tests/test_ray.py)")
