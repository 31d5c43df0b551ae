"""Plain simpy M/M/c reference: customers per second through a c-server queue on this machine.

This is the yardstick of DESIGN.md's performance budget: a salesim lead should cost less than half of
one customer here. Pure simpy, numpy draws pre-batched, nothing recorded but the wait sum.
"""

from __future__ import annotations

import time

import numpy as np
import simpy


def mmc_customers_per_second(
    n: int = 100_000, c: int = 5, rho: float = 0.8, seed: int = 1
) -> float:
    rng = np.random.default_rng(seed)
    lam, mu = rho * c, 1.0
    gaps = rng.exponential(1 / lam, n).tolist()
    services = rng.exponential(1 / mu, n).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    total_wait = [0.0]

    def customer(i):
        arrive = env.now
        with server.request() as req:
            yield req
            total_wait[0] += env.now - arrive
            yield env.timeout(services[i])

    def source():
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    print(f"plain simpy M/M/5 at rho 0.8: {mmc_customers_per_second():,.0f} customers/s")
