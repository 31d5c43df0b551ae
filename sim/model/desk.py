"""People as desks inside simpy, and `Call`, a scheduled function call.

A desk has seats whose number follows a monthly schedule, the times its busy seats free up (a heap,
as in the Kiefer-Wolfowitz recursion for multi-server queues) and a waiting line. A lead's service
time is known when it starts, so taking a seat costs no event and giving it back costs none either:
a seat whose free time has passed is free. An event is scheduled only while someone waits, at the
time the next seat frees up. The line is served by priority, then arrival; when the team shrinks, no
one new starts until fewer seats are busy than the month allows. These are the semantics of a simpy
PriorityResource whose vacant seats are held by top-priority requests, without a request or release
event, or an object, per lead (the validation suite checks the desks against Erlang C and ciw).

The paths run for every lead (here and in the desks, journeys and sources) read the clock as
`env._now`, the attribute simpy's `now` property returns, and write `b if b < a else a` for
min(a, b): a property or builtin call per use costs more than the rest of such a line.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, Event

from sim.records import MONTH_DAYS


def _fire(ev: Call) -> None:
    ev.fn(*ev.args)


class Call(Event):
    """Call `fn(*args)` after `delay` days: one simpy event, no process."""

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable, *args: Any) -> None:
        # inlined from simpy's Timeout, as simpy itself does for speed, and so is
        # `env.schedule(self, NORMAL, delay)`: one event per desk visit, a call less each
        self.env = env
        self.callbacks = [_fire]
        self._value = None
        self._ok = True
        self.fn, self.args = fn, args
        heapq.heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))


class Desk:
    """Seats by month, busy seats' free times and a waiting line. Subclasses define `start(item)`,
    which serves an item that got a seat now and returns when the seat frees up (inf: never)."""

    def __init__(self, env: simpy.Environment, schedule: list[int]) -> None:
        self.env = env
        self.schedule = list(schedule)
        self.seats = self.schedule[0]
        self.free_at: list[float] = []  # heap: when each busy seat frees up
        self.line: list[tuple] = []  # heap of (priority, arrival number, item)
        self._n = 0
        self._wake = math.inf  # when a call to serve the line is scheduled
        if len(self.schedule) > 1:
            Call(env, MONTH_DAYS, self._month, 1)

    @property
    def busy(self) -> int:
        """Seats busy now."""
        self._settle()
        return len(self.free_at)

    def request(self, item: Any, priority: float = 0.0) -> None:
        """Take a seat now if one is free and nobody waits, else join the line."""
        now, free_at = self.env._now, self.free_at  # `_settle`, inlined: a call per lead
        while free_at and free_at[0] <= now:
            heapq.heappop(free_at)
        if not self.line and len(free_at) < self.seats:
            heapq.heappush(free_at, self.start(item))
            return
        self._n += 1
        heapq.heappush(self.line, (priority, self._n, item))
        self._call_back()

    def waiting(self) -> list:
        """The items in line, first first."""
        return [item for _, _, item in sorted(self.line)]

    def start(self, item: Any) -> float:
        raise NotImplementedError

    def _settle(self) -> None:
        now, free_at = self.env._now, self.free_at
        while free_at and free_at[0] <= now:
            heapq.heappop(free_at)

    def _serve_line(self) -> None:
        self._settle()
        while self.line and len(self.free_at) < self.seats:
            item = heapq.heappop(self.line)[2]
            heapq.heappush(self.free_at, self.start(item))
        self._call_back()

    def _call_back(self) -> None:
        """While someone waits, have the line served when the next busy seat frees up."""
        if self.line and self.free_at:
            t = self.free_at[0]
            if t < self._wake:
                self._wake = t
                Call(self.env, t - self.env.now, self._woken, t)

    def _woken(self, t: float) -> None:
        if t == self._wake:
            self._wake = math.inf
        self._serve_line()

    def _month(self, m: int) -> None:
        self.seats = self.schedule[m]
        self._serve_line()
        if m + 1 < len(self.schedule):
            Call(self.env, MONTH_DAYS, self._month, m + 1)
