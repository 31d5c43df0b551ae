"""sim.stats.summarise: the per-metric statistics over replications in summary.json."""

import numpy as np
import pytest
from scipy import stats

from sim.stats import summarise


def test_the_interval_of_the_mean_is_the_t_interval():
    v = np.array([3.0, 5.0, 4.0, 6.0, 2.0])
    lo, hi = stats.t.interval(0.95, 4, loc=v.mean(), scale=v.std(ddof=1) / np.sqrt(5))
    s = summarise(v)
    assert (s["ci95_low"], s["ci95_high"]) == pytest.approx((lo, hi))


def test_a_non_negative_metric_never_gets_a_negative_low_end():
    s = summarise(np.array([0.0, 0.0, 3.0]))  # new customers in three short replications
    assert stats.t.interval(0.95, 2, loc=1.0, scale=np.sqrt(3.0) / np.sqrt(3))[0] < 0
    assert s["ci95_low"] == 0.0 and s["ci95_high"] > 3.0


def test_a_metric_with_negative_values_keeps_its_interval():
    s = summarise(np.array([-1.0, 0.5, 2.0]))
    assert s["ci95_low"] < -1.0


def test_one_replication_gives_no_std_and_no_interval():
    s = summarise(np.array([0.26]))
    assert s["n"] == 1 and s["mean"] == s["p50"] == 0.26
    assert s["std"] is None and s["ci95_low"] is None and s["ci95_high"] is None
