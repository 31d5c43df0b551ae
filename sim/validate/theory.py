"""Known answers the engine is checked against: queueing formulas and funnel algebra."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C), offered load a = lambda/mu."""
    c, a = servers, offered
    if a >= c:
        return 1.0
    term, total = 1.0, 1.0  # sum_{k<c} a^k / k!, built iteratively for numerical stability
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c * c / (c - a)  # a^c / c! * c / (c - a)
    return last / (total + last)


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue Wq = C(c, a) / (c mu - lambda) of an M/M/c queue."""
    a = arrival_rate / service_rate
    if a >= servers:
        return math.inf
    return erlang_c(servers, a) / (servers * service_rate - arrival_rate)
