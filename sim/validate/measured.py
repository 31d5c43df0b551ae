"""The measured false-alarm rates of the queue checks' rules (sim/validate/false_alarms.csv).

sim.validate.false_alarms writes the file; check notes and docs/validation.md read it from here.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from scipy import stats

RESULTS = Path(__file__).with_name("false_alarms.csv")
COLUMNS = (
    "size",
    "rule",
    "case",
    "runs",
    "alarms",
    "alpha",
    "rate",
    "upper95",
    "alarms_at_1e-4",
    "alarms_at_1e-5",
    "alarms_at_1e-6",
    "seconds",
    "seeds",
    "command",
)


# What each rule id of the results file is (the decision functions are in sim.validate.queues).
RULES = {
    "erlang_c_wait": "mean wait in queue vs Erlang C Wq (Cox log-scale, k = 10)",
    "erlang_c_p_wait": "P(wait > 0) vs Erlang C C(c, a) (batch means, k = 20)",
    "littles_law": "Little's law: probe L vs lambda W (paired batch differences)",
    "tandem_sdr_wait": "SDR mean wait vs Erlang C (Cox log-scale)",
    "tandem_ae_wait": "AE mean wait vs Erlang C (Cox log-scale)",
    "tandem_ae_p_wait": "AE P(wait > 0) vs Erlang C (batch means)",
    "tandem_holding": "AE slot holding time vs 1 / mu (batch means by month)",
    "tandem_throughput": "throughput vs lambda (batch means by time)",
    "peer_sdr_wait": "SDR mean wait, salesim vs ciw (Welch)",
    "peer_ae_wait": "AE mean wait, salesim vs ciw (Welch)",
    "peer_throughput": "throughput, salesim vs ciw (Welch)",
}
TARGET = 1e-4  # a correct engine must fail a check less often than this


@lru_cache(maxsize=4)
def load(path: Path = RESULTS) -> tuple[dict, ...]:
    """Rows of the results file (empty when it does not exist yet)."""
    if not Path(path).exists():
        return ()
    with open(path, newline="") as f:
        return tuple(csv.DictReader(f))


def find(size: str, rule: str, case: str) -> dict | None:
    return next(
        (r for r in load() if (r["size"], r["rule"], r["case"]) == (size, rule, case)), None
    )


def describe(size: str, rule: str, case: str) -> str:
    """E.g. '0 false alarms in 30,000 exact runs (95% upper bound 9.99e-05)', or 'not measured'."""
    r = find(size, rule, case)
    if r is None:
        return "not measured"
    return (
        f"{int(r['alarms'])} false alarms in {int(r['runs']):,} exact runs "
        f"(95% upper bound {float(r['upper95']):.2e})"
    )


def family(size: str, pairs: list[tuple[str, str]]) -> dict | None:
    """The chance that a whole check (a test asserts all its rows) fails a correct engine: at most
    the sum over its cases of P(any of its rows alarms), which is bounded at 95% by the Poisson
    upper bound of all the rows' alarms (at least the runs with any alarm) over the fewest runs
    of any row. None when a row is not measured at this size."""
    rows = [find(size, rule, case) for rule, case in pairs]
    if not rows or any(r is None for r in rows):
        return None
    alarms = sum(int(r["alarms"]) for r in rows)
    runs = min(int(r["runs"]) for r in rows)
    upper = float(stats.chi2.ppf(0.95, 2 * (alarms + 1))) / 2 / runs
    return {"rows": len(rows), "runs": runs, "alarms": alarms, "upper95": upper}
