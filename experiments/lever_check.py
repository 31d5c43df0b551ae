"""Does every lever matter in every company? (issue 10: "in every preset the marginal value of a
lever is measurable"). For each shipped company preset, the company as it is and four one-step
changes, compared on common random numbers (paired replication by replication):

- ``ae``: 25 % more AEs (at least one more),
- ``sdr``: 25 % more SDRs (at least one more),
- ``csm``: 25 % more CSMs (at least one more),
- ``marketing``: every marketing channel's monthly budget (money spent) 25 % higher.

Prints, per company and lever, the mean paired difference in the lever's metric (new-logo bookings;
for CSMs, who keep and grow customers rather than win them, ARR at the end of the window) with its
95 % t-interval, whether the interval excludes zero ("clear") or not ("noise"), and what the change
costs over the window (S&M cost; CSM pay is not S&M, so for CSMs their added pay over the window);
``--markdown`` prints the table docs/model.md holds.

    .venv/bin/python experiments/lever_check.py --replications 20 --markdown
    .venv/bin/python experiments/lever_check.py --companies ae_bound,sdr_bound
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

COMPANIES = (
    "midmarket_saas",
    "ae_bound",
    "sdr_bound",
    "content_saas",
    "analytics_subscription",
    "cyber_enterprise",
    "pm_freemium",
)
STEP = 0.25
MONTH_DAYS_ = 365.25 / 12


def _more(n: int) -> int:
    """25 % more people, at least one more."""
    return max(n + 1, math.ceil(n * (1 + STEP)))


def lever_scenarios(cfg) -> dict[str, list[str]]:
    """The compare block's scenarios for one company: itself and one change per lever it has."""
    scenarios: dict[str, list[str]] = {"company": []}
    for role in ("ae", "sdr", "csm"):
        n = int(cfg.team[role].count)
        if n > 0:
            scenarios[role] = [f"team.{role}.count={_more(n)}"]
    spend = [
        f"channels.{name}.budget_month={float(ch.budget_month) * (1 + STEP):g}"
        for name, ch in cfg.channels.items()
        if float(ch.get("budget_month", 0) or 0) > 0
    ]
    if spend:
        scenarios["marketing"] = spend
    return scenarios


def check(company: str, replications: int, seed: int) -> list[dict]:
    """Paired differences of each lever against the company, one row per lever."""
    from sim import simulate
    from sim.compose import compose_config

    base = [f"company={company}", f"replications={replications}", f"seed={seed}", "progress=false"]
    cfg = compose_config(base)
    scenarios = lever_scenarios(cfg)
    body = ", ".join(f"{k}: [{', '.join(repr(o) for o in v)}]" for k, v in scenarios.items())
    res = simulate([*base, f"+compare={{baseline: company, scenarios: {{{body}}}}}"])
    rows = []
    for name, change in scenarios.items():
        if name == "company":
            continue
        diffs = res.summary["comparisons"][f"{name} vs company"]
        metric = "arr_end" if name == "csm" else "bookings_new"
        b = diffs[metric]
        if name == "csm":
            n = int(cfg.team.csm.count)
            months = float(cfg.horizon_days) / MONTH_DAYS_
            cost = (_more(n) - n) * float(cfg.team.csm.cost_month) * months
        else:
            cost = diffs["sm_cost"]["diff_mean"]
        clear = b["ci95_low"] > 0 or b["ci95_high"] < 0
        rows.append(
            {
                "company": company,
                "lever": name,
                "change": "; ".join(change),
                "metric": metric,
                "bookings": b["diff_mean"],
                "low": b["ci95_low"],
                "high": b["ci95_high"],
                "cost": cost,
                "verdict": "clear" if clear else "noise",
            }
        )
    return rows


def _m(v: float) -> str:
    return f"{v / 1e6:+.2f}"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| company | lever (+25 %) | metric | change, $M [95 % CI] | cost, $M | $ per extra $1 | verdict |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        per = f"{r['bookings'] / r['cost']:.2f}" if r["cost"] > 0.5 else "—"
        lines.append(
            f"| {r['company']} | {r['lever']} | {r['metric']} | {_m(r['bookings'])} [{_m(r['low'])}, {_m(r['high'])}] "
            f"| {_m(r['cost'])} | {per} | {r['verdict']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--companies", default=",".join(COMPANIES))
    p.add_argument("--replications", type=int, default=20)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    rows = []
    for company in a.companies.split(","):
        t0 = time.perf_counter()
        got = check(company, a.replications, a.seed)
        rows += got
        for r in got:
            print(
                f"{company:24s} {r['lever']:10s} {r['metric']:12s} {_m(r['bookings'])}M "
                f"[{_m(r['low'])}, {_m(r['high'])}] cost {_m(r['cost'])}M {r['verdict']}",
                file=sys.stderr,
            )
        print(f"  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if a.markdown:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
