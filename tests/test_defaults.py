"""The default company lands inside published B2B SaaS bands (../shared/reference/benchmarks.md).

These are calibration checks of the defaults, not statistical tests: a fixed seed and 12 replications,
and the median over replications must sit inside each band. docs/model.md lists the band each default
follows. If a change to the model moves a median out of its band, re-anchor the defaults, do not widen
the band.
"""

import pytest

from sim import simulate

BANDS = {  # metric: (low, high, source in benchmarks.md)
    "win_rate": (0.15, 0.30, "opp->won 15-30 % (First Page Sage / HubSpot)"),
    "win_rate.segment.smb": (0.25, 0.40, "SMB win rate 25-40 %"),
    "win_rate.segment.mid": (0.15, 0.25, "mid-market win rate 15-25 %"),
    "win_rate.segment.ent": (0.10, 0.20, "enterprise win rate 10-20 %"),
    "cycle_days.segment.smb": (14, 30, "SMB cycle 14-30 d"),
    "cycle_days.segment.mid": (30, 90, "mid-market cycle 30-90 d; median 60 d at $25K ACV"),
    "cycle_days.segment.ent": (90, 180, "enterprise cycle 90-180+ d"),
    "cac_payback_months": (12, 18, "private-company CAC payback median 12-18 months"),
    "ltv_to_cac": (3, float("inf"), "LTV:CAC >= 3 is healthy"),
    "nrr": (1.00, 1.07, "NRR 100-107 % for ACV $12K-$250K (SaaS Capital)"),
    "grr": (0.88, 0.95, "GRR 90-93 % (SaaS Capital)"),
    "logo_churn": (0.06, 0.14, "annual logo churn ~10 % (KeyBanc)"),
}


@pytest.fixture(scope="module")
def default_run():
    return simulate(["replications=12"])


@pytest.mark.parametrize("metric", list(BANDS))
def test_default_median_sits_inside_its_benchmark_band(default_run, metric):
    lo, hi, source = BANDS[metric]
    p50 = default_run.summary["scenarios"]["baseline"]["metrics"][metric]["p50"]
    assert lo <= p50 <= hi, f"{metric} median {p50:.3f} outside [{lo}, {hi}] ({source})"


def test_lead_to_mql_and_free_to_paid_conversions_sit_inside_their_bands(default_run):
    f = default_run.funnel.set_index(["motion", "stage"])["conversion"]
    assert 0.15 <= f[("mlg", "mql")] <= 0.30  # lead -> MQL 15-30 %
    free_to_paid = f[("plg", "activation")] * f[("plg", "pql")] * f[("plg", "purchase")]
    assert 0.02 <= free_to_paid <= 0.05  # freemium free -> paid 2-5 % (OpenView)


def test_new_bookings_per_ae_sit_near_the_published_quota(default_run):
    # AE quota: mean ~$955K, median ~$750K new ARR a year (BenchSights); 10 AEs by default
    per_ae = default_run.summary["scenarios"]["baseline"]["metrics"]["bookings_new"]["p50"] / 10
    assert 600_000 <= per_ae <= 1_200_000
