"""Named random streams: one root seed, one independent generator per (replication, name).

A stream's seed depends only on the root seed, the replication index and the stream's name, so adding a
stream or a scenario never shifts another stream's draws (common random numbers across scenarios).
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class Streams:
    """Generators keyed by name for one replication, created on first use."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._cache: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        rng = self._cache.get(name)
        if rng is None:
            ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, stream_key(name)))
            rng = self._cache[name] = np.random.Generator(np.random.PCG64(ss))
        return rng
