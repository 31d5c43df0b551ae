"""People as simpy resources whose capacity follows a monthly schedule (hiring, attrition, ramp)."""

from __future__ import annotations

import simpy

from sim.records import MONTH_DAYS


def monthly_pool(
    env: simpy.Environment, schedule: list[int], n_months: int
) -> simpy.PriorityResource:
    """A resource whose capacity follows `schedule` (by month): vacant seats are held by requests of
    top priority, taken and given back at each month start, so a seat freed while the team is over
    its month's size goes to the vacancy first."""
    cap = max(1, max(schedule))
    res = simpy.PriorityResource(env, capacity=cap)
    env.process(_vacancies(env, res, cap, schedule, n_months))
    return res


def _vacancies(env, res, cap: int, schedule: list[int], n_months: int):
    held: list = []
    for m in range(n_months):
        want = cap - schedule[m]
        while len(held) < want:
            held.append(res.request(priority=-1))
        while len(held) > want:
            r = held.pop()
            if r.triggered:
                res.release(r)
            else:
                r.cancel()
        yield env.timeout(MONTH_DAYS)
