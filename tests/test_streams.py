"""Named streams: reproducible, independent of each other, and of which streams exist."""

import numpy as np

from sim.streams import Streams


def test_same_seed_replication_and_name_give_the_same_draws():
    a = Streams(7, 3)("arrivals/paid_search").random(100)
    b = Streams(7, 3)("arrivals/paid_search").random(100)
    assert np.array_equal(a, b)


def test_replications_and_names_give_different_draws():
    base = Streams(7, 3)("x").random(100)
    assert not np.array_equal(base, Streams(7, 4)("x").random(100))
    assert not np.array_equal(base, Streams(7, 3)("y").random(100))
    assert not np.array_equal(base, Streams(8, 3)("x").random(100))


def test_using_another_stream_first_does_not_shift_a_stream():
    s1 = Streams(1, 0)
    s1("other").random(1000)  # touching an unrelated stream first
    a = s1("churn").random(50)
    b = Streams(1, 0)("churn").random(50)
    assert np.array_equal(a, b)
