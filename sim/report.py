"""Files of a run: summary.json, tables, the first replication's CRM export, plots and report.md.

Everything is written into a hidden staging folder first and moved into place at the end, summary.json
last, so a run that fails part-way never leaves a directory that looks complete.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pandas as pd

from sim import plots
from sim.config import Scenario
from sim.experiment import RunResult
from sim.records import MONTH_DAYS, crm_export

TERMINAL_METRICS = (
    "win_rate",
    "cycle_days",
    "cac",
    "cac_payback_months",
    "clv",
    "ltv_to_cac",
    "bookings",
    "arr_end",
    "new_customers",
    "nrr",
    "sdr_wait_days",
    "ae_utilization",
)


def strict(obj):
    """Replace NaN and infinities by None so the JSON is strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    return obj


def summary_json(summary: dict) -> str:
    return json.dumps(strict(summary), indent=2, allow_nan=False) + "\n"


def month_labels(sc: Scenario, n: int) -> list[str]:
    """Calendar month of each window month's midpoint (window months need not start on the 1st)."""
    base = pd.Timestamp(sc.start_date) + pd.to_timedelta(sc.warmup_days, unit="D")
    return [
        (base + pd.to_timedelta((i + 0.5) * MONTH_DAYS, unit="D")).strftime("%Y-%m")
        for i in range(n)
    ]


def write_tables(res: RunResult, stage: Path, tables: str) -> None:
    for name, df in (
        ("replications", res.replications),
        ("monthly", res.monthly),
        ("funnel", res.funnel),
    ):
        if tables in ("parquet", "both"):
            df.to_parquet(stage / f"{name}.parquet", index=False)
        if tables in ("csv", "both"):
            df.to_csv(stage / f"{name}.csv", index=False, lineterminator="\n")


def write_outputs(
    res: RunResult, sc: Scenario, outdir: Path, tables: str = "parquet", figures: bool = True
) -> Path:
    """Write every output file of a run into `outdir` (created if needed). Returns summary.json."""
    outdir.mkdir(parents=True, exist_ok=True)
    stage = outdir / ".partial"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        write_tables(res, stage, tables)
        crm_export(res.opportunities, sc.start_date).to_csv(
            stage / "opportunities_rep0.csv", index=False, lineterminator="\n"
        )
        name = sc.scenario.name
        scen = res.summary["scenarios"][name]
        if figures:
            n_months = int(res.monthly["month"].max()) + 1
            plots.distributions(res.replications, stage / "metrics_distributions.png")
            plots.fan_chart(res.monthly, month_labels(sc, n_months), stage / "forecast_fan.png")
            plots.funnel(res.funnel, scen.get("bottleneck"), stage / "funnel.png")
        (stage / "report.md").write_text(report_md(res, sc, figures))
        (stage / "summary.json").write_text(summary_json(res.summary))
        for f in sorted(stage.iterdir(), key=lambda p: p.name == "summary.json"):
            f.replace(outdir / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return outdir / "summary.json"


def _fmt(key: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    base = key.split(".")[0]
    if base in (
        "win_rate",
        "nrr",
        "grr",
        "logo_churn",
        "ae_utilization",
        "sdr_utilization",
        "sdr_prospecting_share",
    ):
        return f"{v:.1%}"
    if base in (
        "cac",
        "clv",
        "bookings",
        "arr_end",
        "bookings_new",
        "bookings_expansion",
        "sm_cost",
        "arpa_month",
        "clv_in_horizon",
    ):
        return f"${v / 1e6:,.2f}M" if abs(v) >= 1e6 else f"${v:,.0f}"
    if base in ("new_customers", "leads", "customers_end"):
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def terminal_table(summary: dict) -> str:
    lines = []
    for name, scen in summary["scenarios"].items():
        lines.append(
            f"scenario {name}: {scen['replications']} replication"
            f"{'s' if scen['replications'] != 1 else ''}, "
            f"{scen['horizon_days']:g}-day window after a {scen['warmup_days']:g}-day warm-up"
        )
        lines.append(
            f"  {'metric':<20}{'P10':>12}{'median':>12}{'P90':>12}   mean (95% CI of the mean)"
        )
        for k in TERMINAL_METRICS:
            s = scen["metrics"].get(k)
            if not s:
                continue
            ci = (
                f"{_fmt(k, s['mean'])} ({_fmt(k, s['ci95_low'])}..{_fmt(k, s['ci95_high'])})"
                if s.get("mean") is not None
                else "n/a"
            )
            lines.append(
                f"  {k:<20}{_fmt(k, s['p10']):>12}{_fmt(k, s['p50']):>12}"
                f"{_fmt(k, s['p90']):>12}   {ci}"
            )
    return "\n".join(lines)


def report_md(res: RunResult, sc: Scenario, figures: bool = True) -> str:
    name = sc.scenario.name
    scen = res.summary["scenarios"][name]
    m = scen["metrics"]
    lo = sc.start_date + dt.timedelta(days=sc.warmup_days)
    hi = lo + dt.timedelta(days=sc.horizon_days)
    out = [
        f"# salesim report: {name}",
        "",
        f"{sc.replications} replications, seed {sc.seed}. Metrics cover the window {lo} to {hi} "
        f"({sc.horizon_days:g} days after a {sc.warmup_days:g}-day warm-up). Motions: "
        + ", ".join(f"`{k}`" for k in sc.motions)
        + ". Definitions: docs/metrics.md.",
        "",
        "## Headline metrics",
        "",
        "| metric | P10 | median | P90 | mean | 95% CI of the mean |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for k in TERMINAL_METRICS + ("logo_churn", "grr", "leads", "sdr_utilization"):
        s = m.get(k)
        if s:
            out.append(
                f"| {k} | {_fmt(k, s['p10'])} | {_fmt(k, s['p50'])} | {_fmt(k, s['p90'])} | "
                f"{_fmt(k, s['mean'])} | {_fmt(k, s['ci95_low'])} .. {_fmt(k, s['ci95_high'])} |"
            )
    out += [
        "",
        "## By motion",
        "",
        "| motion | win rate | new customers | cycle (median days) | bookings | CAC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mot in sc.motions:
        cells = [
            _fmt(f"{k}.{mot}", (m.get(f"{k}.{mot}") or {}).get("p50"))
            for k in ("win_rate", "new_customers", "cycle_days", "bookings", "cac")
        ]
        out.append(f"| {mot} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Medians over replications. CAC per motion splits shared costs by "
        f"`costs.allocation = {sc.costs.allocation}`.",
        "",
    ]
    b = scen.get("bottleneck")
    out += ["## Funnel", ""]
    if b:
        out.append(
            f"Lowest-converting stage (the bottleneck of the funnel audit): **{b['motion']} / "
            f"{b['stage']}** ({b['owner']}), {b['conversion']:.0%} advance."
        )
    wait = m.get("sdr_wait_days", {}).get("p50")
    util = m.get("ae_utilization", {}).get("p50")
    if wait is not None:
        out.append(f"Median SDR wait (speed to lead): {wait * 24:.1f} hours.")
    if util is not None:
        out.append(f"AE pipeline slots in use: {util:.0%} (median).")
    out += [
        "",
        "| motion | stage | owner | advanced | dropped | conversion | mean days |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in res.funnel.itertuples():
        conv = "n/a" if not math.isfinite(r.conversion) else f"{r.conversion:.0%}"
        days = "n/a" if not math.isfinite(r.mean_days) else f"{r.mean_days:.1f}"
        out.append(
            f"| {r.motion} | {r.stage} | {r.owner} | {r.advanced:,.1f} | {r.dropped:,.1f} | "
            f"{conv} | {days} |"
        )
    out += ["", "Counts are means per replication of outcomes decided in the window.", ""]
    if figures:
        out += [
            "## Figures",
            "",
            "![headline distributions](metrics_distributions.png)",
            "",
            "![forecast fan chart](forecast_fan.png)",
            "",
            "![funnel](funnel.png)",
            "",
        ]
    out += [
        "## Files",
        "",
        "- `summary.json`: every metric's mean, std, P5-P95 and 95% CI (null where it does not apply)",
        "- `replications.*`: one row per replication, every scalar metric",
        "- `monthly.*`: bookings, ARR, open pipeline and customers per month per replication",
        "- `funnel.*`: stage outcomes, conversion and time in stage",
        "- `opportunities_rep0.csv`: the first replication's opportunities in CRM-export shape",
        "",
    ]
    return "\n".join(out)
