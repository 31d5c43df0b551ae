"""The desks (sim.model.desk): seats by month, a waiting line by priority then arrival, no event for a
free seat, and work in progress never interrupted when the team shrinks."""

from __future__ import annotations

import simpy

from sim.model.desk import Call, Desk
from sim.records import MONTH_DAYS


class Log(Desk):
    """A desk whose items are (name, service days); it records who started when."""

    def __init__(self, env: simpy.Environment, schedule: list[int]) -> None:
        super().__init__(env, schedule)
        self.started: list[tuple[str, float]] = []

    def start(self, item: tuple[str, float]) -> float:
        self.started.append((item[0], self.env.now))
        return self.env.now + item[1]


def test_a_free_seat_is_taken_at_once_without_an_event():
    env = simpy.Environment()
    desk = Log(env, [2])
    before = len(env._queue)
    desk.request(("a", 5.0))
    desk.request(("b", 5.0))
    assert desk.started == [("a", 0.0), ("b", 0.0)]
    assert len(env._queue) == before and desk.busy == 2


def test_the_line_is_served_by_priority_then_arrival_when_seats_free_up():
    env = simpy.Environment()
    desk = Log(env, [1])
    desk.request(("first", 5.0))
    for name, prio in (("low", 0.5), ("high1", 0.2), ("high2", 0.2)):
        desk.request((name, 1.0), prio)
    env.run(until=20)
    assert desk.started == [("first", 0.0), ("high1", 5.0), ("high2", 6.0), ("low", 7.0)]
    assert desk.busy == 0 and not desk.line


def test_a_smaller_team_finishes_its_work_and_starts_no_one_until_below_the_new_size():
    env = simpy.Environment()
    desk = Log(env, [2, 1])  # two seats in month 0, one from month 1
    desk.request(("a", 40.0))
    desk.request(("b", 45.0))
    Call(env, 10.0, desk.request, ("waiter", 1.0))
    env.run(until=60)
    # not at month 1 (30.4 days, the team shrinks), nor when a frees a seat at 40 (b still holds the
    # only seat left), but when b is done too
    assert MONTH_DAYS < 40.0
    assert desk.started[-1] == ("waiter", 45.0)


def test_a_larger_team_serves_the_line_at_the_month_start():
    env = simpy.Environment()
    desk = Log(env, [1, 2])
    desk.request(("a", 100.0))
    desk.request(("waiter", 1.0))
    env.run(until=MONTH_DAYS + 1)
    assert desk.started[-1] == ("waiter", MONTH_DAYS)


def test_a_seat_held_to_the_end_is_never_given_back():
    env = simpy.Environment()
    desk = Log(env, [1])
    desk.request(("forever", float("inf")))
    desk.request(("waiter", 1.0))
    env.run(until=1000)
    assert desk.started == [("forever", 0.0)] and desk.waiting() == [("waiter", 1.0)]


def test_ae_slot_days_by_month_equal_the_month_by_month_spread():
    """AeDesk.slot_days (a difference array) gives what spreading each hold month by month gives."""
    from array import array
    from types import SimpleNamespace

    import numpy as np

    from sim.model.ae_desk import AeDesk

    n = 13
    desk = AeDesk.__new__(AeDesk)  # only the hold log and the month count are needed
    desk.w = SimpleNamespace(n_months=n)
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 390, 2000)
    b = np.minimum(a + rng.exponential(40, 2000), n * MONTH_DAYS)
    b[:5] = a[:5]  # empty holds
    desk._held_from, desk._held_to = array("d", a), array("d", b)
    expected = np.zeros(n)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        while x < y:
            m = int(x // MONTH_DAYS)
            e = min(y, (m + 1) * MONTH_DAYS)
            expected[m] += e - x
            x = e
    np.testing.assert_allclose(desk.slot_days(), expected, rtol=1e-12)
