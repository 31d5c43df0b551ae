"""Random draws handed to the engine one Python float at a time, drawn in batches (no numpy call per
event), each pool from its own named stream so one entity's draws never shift another's."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from sim.distributions import sample
from sim.motions import CMotion, draw_stages
from sim.streams import Streams


class Pool:
    """Batched draws of `draw(n)` handed out one float at a time.

    The values are a chain of chunks, each drawn (`draw(chunk)`) when the last one runs out, so
    `next` is the chain's own C-level `__next__`: no Python frame per value."""

    def __init__(self, draw: Callable[[int], np.ndarray], chunk: int = 512) -> None:
        chunks = map(lambda _: draw(chunk).tolist(), itertools.repeat(None))
        self._values = itertools.chain.from_iterable(chunks)
        self.next: Callable[[], float] = self._values.__next__

    def take(self, n: int) -> list[float]:
        """The next n values, exactly those n calls of `next` would give."""
        return list(itertools.islice(self._values, n))


class RowPool:
    """Pre-drawn stage uniforms and durations for leads born one at a time (outbound meetings)."""

    def __init__(self, cm: CMotion, streams: Streams, chunk: int = 256) -> None:
        self._cm, self._streams, self._chunk = cm, streams, chunk
        self._rows: list = []
        self._i = 0

    def next(self) -> tuple[list[float], list[float]]:
        if self._i == len(self._rows):
            u, d = draw_stages(self._cm, self._streams, self._chunk, source="outbound")
            self._rows, self._i = list(zip(u.tolist(), d.tolist(), strict=True)), 0
        self._i += 1
        return self._rows[self._i - 1]


class SegmentDraws:
    """Deal sizes ("acv") and seat counts ("seats") by motion and segment, from pools keyed
    `<what>/<motion>/<segment>`, so one motion's deals never shift another's draws."""

    def __init__(self, segments: dict, streams: Streams) -> None:
        self._segments = list(segments.values())
        self._names = list(segments)
        self._streams = streams
        self._pools: dict[tuple[str, str, int], Pool] = {}

    def __call__(self, what: str, motion: str, seg: int) -> float:
        return self._pool(what, motion, seg).next()

    def many(self, what: str, motion: str, seg: np.ndarray) -> np.ndarray:
        """One draw for each entry of `seg`, in order: the values as many single calls would give."""
        out = np.empty(len(seg))
        for s in np.unique(seg).tolist():
            idx = np.flatnonzero(seg == s)
            out[idx] = self._pool(what, motion, s).take(len(idx))
        return out

    def _pool(self, what: str, motion: str, seg: int) -> Pool:
        pool = self._pools.get((what, motion, seg))
        if pool is None:
            dist = getattr(self._segments[seg], what)
            rng = self._streams(f"{what}/{motion}/{self._names[seg]}")
            pool = self._pools[what, motion, seg] = Pool(lambda n: sample(dist, rng, n))
        return pool
