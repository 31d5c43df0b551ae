"""Files of a run: summary.json, tables, the first replication's CRM export, plots and report.md.

Everything is written into a hidden staging folder first and moved into place at the end, summary.json
last, so a run that fails part-way never leaves a directory that looks complete.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import yaml

from sim import html_report, money, plots
from sim import metric_registry as registry
from sim.compare import CompareResult, combined, verdict
from sim.config import Scenario
from sim.experiment import RunResult, bottleneck
from sim.metrics import COST_METRICS
from sim.records import MONTH_DAYS, crm_export
from sim.runfolder import staged
from sim.sensitivity import tornado_table
from sim.stats import strict

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


def summary_json(summary: dict) -> str:
    return json.dumps(strict(summary), indent=2, allow_nan=False) + "\n"


def span(days: float, adjective: bool = True) -> str:
    """A length of time as a reader says it: '365-day', '12-month' (a whole number of calendar
    months, as calibrated configs set), else days rounded to a whole day. `adjective=False` gives
    '365 days'. The config keeps the exact value; this is only how it is printed."""
    months = days / MONTH_DAYS
    if days != round(days) and months >= 1 and abs(months - round(months)) < 1e-6:
        n, unit = round(months), "month"
    else:
        n, unit = round(days), "day"
    if n == 0 and days > 0:
        n = float(f"{days:.2g}")
    return f"{n}-{unit}" if adjective else f"{n} {unit}{'s' if n != 1 else ''}"


def window_dates(sc: Scenario) -> tuple[dt.date, dt.date]:
    """First and last calendar day of the metrics window (after the warm-up)."""
    lo = sc.start_date + dt.timedelta(days=sc.warmup_days)
    return lo, lo + dt.timedelta(days=sc.horizon_days)


def month_labels(sc: Scenario, n: int) -> list[str]:
    """Calendar month of each window month's midpoint (window months need not start on the 1st)."""
    base = pd.Timestamp(sc.start_date) + pd.to_timedelta(sc.warmup_days, unit="D")
    return [
        (base + pd.to_timedelta((i + 0.5) * MONTH_DAYS, unit="D")).strftime("%Y-%m")
        for i in range(n)
    ]


# Money columns of the written tables that the metric registry does not name (it names bookings,
# arr_end, cac, ... and their breakdowns).
MONEY_COLUMNS = frozenset({"amount", "arr", "pipeline_value", "quota"})


def to_csv(df: pd.DataFrame, path: Path) -> None:
    """Write `df` as CSV with money rounded to cents and day offsets (`*_day`) to 4 decimals (about
    9 seconds): a reader or a spreadsheet gets $391,378.80 and day 212.4187, not 391378.80383129796
    and 212.41873460218377. Parquet files keep full precision; only the CSV text is rounded."""
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    rounded = {c: 2 for c in floats if c in MONEY_COLUMNS or registry.fmt(str(c)) == "money"} | {
        c: 4 for c in floats if str(c).endswith("_day")
    }
    out = df.round(rounded) if rounded else df
    out.to_csv(path, index=False, lineterminator="\n")


def write_tables(res: RunResult, stage: Path, tables: str) -> None:
    for name, df in (
        ("replications", res.replications),
        ("monthly", res.monthly),
        ("funnel", res.funnel),
        *((("reps", res.reps),) if res.reps is not None else ()),
    ):
        if tables in ("parquet", "both"):
            df.to_parquet(stage / f"{name}.parquet", index=False)
        if tables in ("csv", "both"):
            to_csv(df, stage / f"{name}.csv")


def write_outputs(
    res: RunResult,
    sc: Scenario,
    outdir: Path,
    tables: str = "parquet",
    figures: bool = True,
    setup: str = "",
) -> Path:
    """Write every output file of a run into `outdir` (created if needed); `setup` (the presets and
    overrides that made the scenario) heads report.md. Amounts are in the scenario's currency.
    Returns summary.json."""
    with staged(outdir) as stage, money.using(sc.currency):
        write_tables(res, stage, tables)
        to_csv(crm_export(res.opportunities, sc.start_date), stage / "opportunities_rep0.csv")
        name = sc.scenario.name
        scen = res.summary["scenarios"][name]
        if figures:
            n_months = int(res.monthly["month"].max()) + 1
            plots.distributions(res.replications, stage / "metrics_distributions.png")
            plots.fan_chart(res.monthly, month_labels(sc, n_months), stage / "forecast_fan.png")
            funnel = grouped_funnel(res.funnel, sc)
            plots.funnel(funnel, shown_bottleneck(funnel, scen), stage / "funnel.png")
        text = report_md(res, sc, figures, setup)
        (stage / "report.md").write_text(text)
        html_report.write(stage, text, config=scenario_yaml(sc))
        (stage / "summary.json").write_text(summary_json(res.summary))
    return outdir / "summary.json"


def write_compare_outputs(
    cres: CompareResult,
    outdir: Path,
    tables: str = "parquet",
    figures: bool = True,
    setup: str = "",
) -> Path:
    """The files of a multi-scenario run: stacked tables (a `scenario` column), every scenario's
    first-replication CRM export in one file, the comparison figure and report (amounts in the
    baseline's currency). Returns summary.json."""
    res = combined(cres)
    sc = cres.runs[cres.baseline][0]
    with staged(outdir) as stage, money.using(sc.currency):
        write_tables(res, stage, tables)
        crm = [
            crm_export(r.opportunities, s.start_date).assign(scenario=name)
            for name, (s, r) in cres.runs.items()
        ]
        out = pd.concat(crm, ignore_index=True)
        out.insert(0, "scenario", out.pop("scenario"))
        to_csv(out, stage / "opportunities_rep0.csv")
        if figures:
            n_months = int(res.monthly["month"].max()) + 1
            plots.comparison(res.replications, cres.summary, stage / "comparison.png")
            plots.fan_chart(res.monthly, month_labels(sc, n_months), stage / "forecast_fan.png")
            funnel = grouped_funnel(cres.runs[cres.baseline][1].funnel, sc)
            plots.funnel(
                funnel,
                shown_bottleneck(funnel, cres.summary["scenarios"][cres.baseline]),
                stage / f"funnel_{cres.baseline}.png",
            )
            if "sensitivity" in cres.summary:
                plots.tornado(cres.summary["sensitivity"], stage / "tornado.png")
        if "sensitivity" in cres.summary:  # every bar with its paired 95 % interval
            to_csv(tornado_table(cres.summary["sensitivity"]), stage / "tornado.csv")
        text = compare_md(cres, figures, setup)
        (stage / "report.md").write_text(text)
        # the verdicts first: a tornado's ranking, or what each change buys and each comparison's
        # clear and noisy metrics
        first = ["Sensitivity of", "What each change buys"]
        if "sensitivity" not in cres.summary:
            first += list(cres.summary["comparisons"])
        html_report.write(stage, text, first=first, config=scenario_yaml(sc))
        (stage / "summary.json").write_text(summary_json(cres.summary))
    return outdir / "summary.json"


def scenario_yaml(sc: Scenario) -> str:
    """Every setting of the scenario as YAML: the full setup folded at the end of report.html."""
    return yaml.safe_dump(sc.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _grouped_note(sc: Scenario) -> str:
    groups = list(motion_groups(sc).values())
    grouped = sorted({g for g in groups if groups.count(g) > 1})
    if not grouped:
        return ""
    return (
        f" ({len(grouped)} of them group several motions, `group` in their config, e.g. a "
        "calibrated segment's fit classes: figures and tables show the group, summary.json keeps "
        "each motion)"
    )


def _cost_cell(sc: Scenario, key: str, value) -> str:
    """A table cell; a cost metric of a scenario without cost data reads "not known"."""
    if not sc.costs.known and key.split(".")[0] in COST_METRICS:
        return "not known"
    return format_metric(key, value)


def shown_bottleneck(funnel: pd.DataFrame, scen: dict) -> dict | None:
    """The lowest-converting stage as figures and tables show the motions (grouped)."""
    return bottleneck(funnel) if len(funnel) else scen.get("bottleneck")


def motion_groups(sc: Scenario) -> dict[str, str]:
    """Each motion's label in figures and tables: its `group`, or its own name."""
    return {name: m.group or name for name, m in sc.motions.items()}


def grouped_funnel(funnel: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """The funnel table with motions of one `group` (a calibrated segment's fit classes) summed
    into one row per stage: counts and days added, conversion and mean days recomputed. Unchanged
    when no motion is grouped."""
    groups = motion_groups(sc)
    if all(k == v for k, v in groups.items()):
        return funnel
    f = funnel.assign(motion=funnel["motion"].astype(str).map(groups))
    keys = [c for c in ("scenario", "motion", "stage_index", "stage", "owner") if c in f]
    counts = [c for c in ("advanced", "dropped", "stage_days", "open_at_end") if c in f]
    order = list(dict.fromkeys(groups.values()))
    out = f.groupby(keys, sort=False, observed=True)[counts].sum().reset_index()
    out["_o"] = out["motion"].map(order.index)
    out = out.sort_values(["_o", "stage_index"], kind="stable").drop(columns="_o")
    decided = out["advanced"] + out["dropped"]
    ok = decided > 0
    out["conversion"] = (out["advanced"] / decided.where(ok)).where(ok)
    if "stage_days" in out:
        out["mean_days"] = (out["stage_days"] / decided.where(ok)).where(ok)
    return out.reset_index(drop=True)


def motion_rows(sc: Scenario) -> list[tuple[str, str | None]]:
    """Rows of the by-motion table: (label, metric suffix). A motion on its own reads its own
    metrics (`win_rate.<motion>`); a group that is exactly one segment's acquisition motions reads
    the segment's (`win_rate.segment.<s>`); any other group has none (n/a)."""
    groups = motion_groups(sc)
    rows: list[tuple[str, str | None]] = []
    for label in dict.fromkeys(groups.values()):
        members = {m for m, g in groups.items() if g == label}
        if members == {label} and sc.motions[label].group is None:
            rows.append((label, label))
            continue
        segs = [s for s, w in sc.mix.items() if any(w.get(m, 0) > 0 for m in members)]
        own = len(segs) == 1 and {m for m, x in sc.mix[segs[0]].items() if x > 0} <= members
        rows.append((label, f"segment.{segs[0]}" if own else None))
    return rows


def _interval(key: str, s: dict, sep: str = "..") -> str:
    """The 95 % interval of a mean, or why there is none (one replication cannot give one)."""
    if s.get("ci95_low") is None or s.get("ci95_high") is None:
        return "n/a: 1 replication" if s.get("n") == 1 else "n/a"
    return f"{format_metric(key, s['ci95_low'])}{sep}{format_metric(key, s['ci95_high'])}"


def format_metric(key: str, v) -> str:
    """A value as the report prints it, by the metric's number format (sim.metric_registry)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    kind = registry.fmt(key)
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "money":  # in the currency of the output being written (sim.money)
        a = abs(v)
        return money.text(f"{a / 1e6:,.2f}M" if a >= 1e6 else f"{a:,.0f}", v < 0)
    if kind == "count":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


# The paired differences the terminal shows for a comparison, one column each.
TERMINAL_DIFFS = ("win_rate", "cycle_days", "cac", "bookings", "arr_end", "new_customers")


def terminal_table(summary: dict, currency: str | None = None) -> str:
    """Each scenario's medians and intervals; for a comparison, the baseline's table and then one
    line per scenario with its paired differences (* where the 95 % interval excludes zero).
    Amounts in `currency` (the scenario's; None: the one in force, USD by default)."""
    with money.using(currency):
        return _terminal_table(summary)


def _terminal_table(summary: dict) -> str:
    lines = []
    shown = summary.get("scenarios", {})  # a global sensitivity run has none (sim.gsa)
    if "comparisons" in summary:
        shown = {summary["baseline"]: shown[summary["baseline"]]}
    for name, scen in shown.items():
        lines.append(
            f"scenario {name}: {scen['replications']} replication"
            f"{'s' if scen['replications'] != 1 else ''}, "
            f"{span(scen['horizon_days'])} window after a {span(scen['warmup_days'])} warm-up"
        )
        lines.append(
            f"  {'metric':<20}{'P10':>12}{'median':>12}{'P90':>12}   mean (95% CI of the mean)"
        )
        for k in TERMINAL_METRICS:
            s = scen["metrics"].get(k)
            if not s:
                continue
            ci = (
                f"{format_metric(k, s['mean'])} ({_interval(k, s)})"
                if s.get("mean") is not None
                else "n/a"
            )
            lines.append(
                f"  {k:<20}{format_metric(k, s['p10']):>12}{format_metric(k, s['p50']):>12}"
                f"{format_metric(k, s['p90']):>12}   {ci}"
            )
    comps = summary.get("comparisons", {})
    if comps:
        width = max(len(label.split(" vs ")[0]) for label in comps) + 2
        lines.append(
            f"paired difference from {summary['baseline']} (mean over replications; "
            "* = 95% CI excludes zero; every interval in report.md)"
        )
        lines.append(f"  {'scenario':<{width}}" + "".join(f"{k:>16}" for k in TERMINAL_DIFFS))
        for label, comp in comps.items():
            cells = []
            for k in TERMINAL_DIFFS:
                c = comp.get(k) or {}
                text = (
                    "n/a"
                    if c.get("diff_mean") is None
                    else _shown(k, c["diff_mean"], verdict(c) == "clear")
                )
                cells.append(f"{text}{'*' if verdict(c) == 'clear' else ' '}")
            lines.append(
                f"  {label.split(' vs ')[0]:<{width}}" + "".join(f"{x:>16}" for x in cells)
            )
    for metric, t in summary.get("sensitivity", {}).items():
        lines.append(
            f"sensitivity of {metric}: change from the baseline at each input's low / high"
        )
        for r in t["inputs"]:
            lo, hi = (
                "n/a" if r[f"{e}_diff"] is None else _signed(metric, r[f"{e}_diff"])
                for e in ("low", "high")
            )
            lines.append(f"  {r['input']:<40}{lo:>14}{hi:>14}")
    plan = summary.get("capacity_plan")  # experiment=capacity_plan (sim.capacity_plan)
    if plan:
        t = plan["target"]
        lines.append(
            f"capacity plan for {t['metric']} >= {format_metric(t['metric'], t['value'])}:"
        )
        for goal, c in plan["chosen"].items():
            lines.append(
                f"  {goal}: {c['plan']}; cost +{format_metric('sm_cost', c['added_cost'])}; meets the target "
                f"in {c['p_hit']:.0%} of {c['replications']} replications "
                f"({c['p_hit_ci95_low']:.0%}-{c['p_hit_ci95_high']:.0%})"
            )
        if len(plan["chosen"]) < 2:
            lines.append("  a goal without a plan: no evaluated plan met it (report.md)")
    if summary.get("gsa"):  # experiment=sobol / morris (sim.gsa)
        lines += _gsa_lines(summary["gsa"])
    return "\n".join(lines)


def _gsa_lines(g: dict) -> list[str]:
    """Global sensitivity on the terminal: per metric, the inputs ranked (Sobol by ST, with S1;
    Morris by mu*, with sigma), each index with its 95 % half-width."""
    sobol = g["method"] == "sobol"
    lines = [
        f"{g['method']}: {g['points']} sample points x {g['replications']} replications "
        "(common random numbers); +- is the 95% bootstrap half-width"
    ]
    for metric, m in g["metrics"].items():
        if "skipped" in m:
            lines.append(f"{metric}: not analysed, {m['skipped']}")
            continue
        by = "ST" if sobol else "mu_star"
        lines.append(f"{metric}: inputs by {'ST (S1)' if sobol else 'mu* (sigma)'}")
        for r in sorted(m["rows"], key=lambda r: -r[by]):
            if sobol:
                cells = (
                    f"{r['ST']:>6.2f} +-{r['ST_conf']:.2f}  ({r['S1']:.2f} +-{r['S1_conf']:.2f})"
                )
            else:
                cells = (
                    f"{format_metric(metric, r['mu_star']):>10} +-"
                    f"{format_metric(metric, r['mu_star_conf'])}  "
                    f"({format_metric(metric, r['sigma'])})"
                )
            lines.append(f"  {r['parameter']:<40}{cells}  {r['kind']}")
    return lines


# Metrics in a comparison's table: the headline ones, plus what a decision weighs them against.
COMPARED = TERMINAL_METRICS + ("sm_cost", "leads", "ae_wait_days", "customers_end")


def _signed(key: str, v: float, fine: bool = False) -> str:
    """A signed difference; differences of rates are in percentage points. One that prints as
    zero carries no sign ('0.00', not '-0.00'). `fine` prints two significant digits, for a clear
    difference too small for the metric's usual precision."""
    if fine:
        text = f"{abs(v) * 100:.2g} pp" if registry.fmt(key) == "pct" else f"{abs(v):.2g}"
        if registry.fmt(key) == "money":
            text = money.text(text)
    else:
        text = format_metric(key, abs(v))
        if text.endswith("%"):
            text = f"{abs(v) * 100:.1f} pp"
    if not any(ch in "123456789" for ch in text.split("e")[0]):
        return text
    return ("+" if v >= 0 else "-") + text


HALF_CENT = 0.005  # money differences smaller than this are floating-point noise


def _buys(gain: dict, cost: dict) -> str:
    """What a change buys per dollar: bookings gained / S&M cost added when both rise clearly;
    otherwise the plain words for the case (more for less, less for more, noise)."""
    g = verdict(gain) == "clear" and gain.get("diff_mean") or 0.0
    c = verdict(cost) == "clear" and cost.get("diff_mean") or 0.0
    if abs(c) < HALF_CENT:  # rounding noise of equal costs (2.5e-10), not a change: no ratio
        c = 0.0
    if g > 0 and c > 0:
        return money.amount(g / c, 2)
    if g > 0:
        return "more bookings at no added cost" if c == 0 else "more bookings for less cost"
    if g < 0:
        return "fewer bookings for more cost" if c > 0 else "fewer bookings"
    return "n/a (bookings within noise)"


def _shown(key: str, v: float, clear: bool) -> str:
    """A signed difference, or an end of its interval, as printed. In a clear difference (the
    interval excludes zero) a value that would print as zero at the metric's precision gets two
    significant digits instead, so 'clear' never stands beside a zero ('-0.13 (-0.25..-0.004)')."""
    text = _signed(key, v)
    if registry.fmt(key) == "money" and abs(v) < HALF_CENT:
        return money.text("0")  # below a cent: rounding noise of equal amounts, shown as $0
    if clear and not any(ch in "123456789" for ch in text):
        return _signed(key, v, fine=True)
    return text


def _diff_cell(key: str, c: dict) -> str:
    """'mean (low..high)' of a paired difference (see _shown)."""
    if c.get("diff_mean") is None:
        return "n/a"
    clear = verdict(c) == "clear"
    return (
        f"{_shown(key, c['diff_mean'], clear)} "
        f"({_shown(key, c['ci95_low'], clear)}..{_shown(key, c['ci95_high'], clear)})"
    )


def _better(c: dict) -> str:
    """'P(better) / P(worse)': ties (e.g. no wait in either) count in neither."""
    if c.get("p_better") is None:
        return "n/a"
    return f"{c['p_better']:.0%} / {c['p_worse']:.0%}"


def compare_md(cres: CompareResult, figures: bool = True, setup: str = "") -> str:
    """The report of a multi-scenario run: medians side by side, then each scenario's paired
    difference from the baseline with its interval and whether it is clear or noise."""
    summ, base = cres.summary, cres.baseline
    sc = cres.runs[base][0]
    names = list(cres.runs)
    lo, hi = window_dates(sc)
    out = [
        f"# salesim comparison: {', '.join(n for n in names if n != base)} against {base}",
        "",
        *([setup, ""] if setup else []),
        f"{sc.replications} replications of each scenario, seed {sc.seed}, on common random numbers "
        f"(replication r of every scenario uses the same random streams). Metrics cover {lo} to {hi} "
        f"({span(sc.horizon_days, False)} after a {span(sc.warmup_days)} warm-up). Definitions: "
        "docs/metrics.md; how comparisons work: docs/experiments.md.",
        "",
        "## Median of each scenario",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for k in TERMINAL_METRICS:
        cells = [
            format_metric(k, (summ["scenarios"][n]["metrics"].get(k) or {}).get("p50"))
            for n in names
        ]
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    bm = summ["scenarios"][base]["metrics"]
    b = shown_bottleneck(grouped_funnel(cres.runs[base][1].funnel, sc), summ["scenarios"][base])
    out += ["", f"## Where {base} loses and waits", ""]
    if b:
        out.append(
            f"Lowest-converting stage: **{b['motion']} / {b['stage']}** ({b['owner']}), "
            f"{b['conversion']:.0%} advance (funnel_{base}.png)."
        )
    for k, what in (
        ("sdr_wait_days", "Median SDR wait (speed to lead)"),
        ("ae_wait_days", "Median wait for an AE (selling time, or a pipeline slot)"),
    ):
        v = (bm.get(k) or {}).get("p50")
        if v is not None:
            out.append(f"{what}: {v * 24:.1f} hours.")
    busy, inbound, prospecting = (
        (bm.get(k) or {}).get("p50")
        for k in ("sdr_utilization", "sdr_inbound_share", "sdr_prospecting_share")
    )
    if busy is not None:  # all SDR work; inbound alone understates SDRs who also prospect
        parts = [
            f"{v:.0%} {what}"
            for v, what in ((inbound, "on inbound leads"), (prospecting, "prospecting"))
            if v is not None
        ]
        out.append(f"SDR time in use (median): {busy:.0%} ({', '.join(parts)}).")
    v = (bm.get("ae_utilization") or {}).get("p50")
    if v is not None:
        out.append(f"AE capacity in use (selling hours, or pipeline slots): {v:.0%} (median).")
    out += [
        "",
        "## What each change buys",
        "",
        "Paired change from the baseline (mean over replications); the last column divides the "
        "bookings gained by the S&M cost added where both rose clearly, and otherwise says which "
        "way they moved.",
        "",
        f"| scenario | bookings | ARR at the end | S&M cost | bookings per {money.text('1')} of added cost |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, comp in summ["comparisons"].items():
        cells = [_diff_cell(k, comp.get(k) or {}) for k in ("bookings", "arr_end", "sm_cost")]
        ratio = _buys(comp.get("bookings") or {}, comp.get("sm_cost") or {})
        out.append(f"| {label.split(' vs ')[0]} | " + " | ".join(cells) + f" | {ratio} |")
    for label, comp in summ["comparisons"].items():
        clear = [k for k in COMPARED if k in comp and verdict(comp[k]) == "clear"]
        noise = [k for k in COMPARED if k in comp and verdict(comp[k]) == "noise"]
        out += [
            "",
            f"## {label}",
            "",
            "| metric | difference, mean (95% CI) | P(better) / P(worse) | verdict |",
            "|---|---:|---:|---|",
        ]
        for k in COMPARED:
            c = comp.get(k)
            if c and c.get("diff_mean") is not None:
                out.append(f"| {k} | {_diff_cell(k, c)} | {_better(c)} | {verdict(c)} |")
        out += [
            "",
            "Clear differences (the 95% interval of the paired difference excludes zero): "
            + (", ".join(clear) or "none")
            + ". Within the noise (the interval includes zero; more replications would narrow it): "
            + (", ".join(noise) or "none")
            + ".",
        ]
    segs = list(sc.segments)
    if len(segs) > 1:
        out += [
            "",
            "## By segment",
            "",
            "Paired change from the baseline in each segment's bookings and new customers (mean, 95% "
            "CI); **bold** where the interval excludes zero.",
            "",
            "| scenario | " + " | ".join(f"{g} bookings | {g} new customers" for g in segs) + " |",
            "|---|" + "---:|" * (2 * len(segs)),
        ]
        for label, comp in summ["comparisons"].items():
            cells = []
            for g in segs:
                for k in (f"bookings.segment.{g}", f"new_customers.segment.{g}"):
                    c = comp.get(k) or {}
                    text = _diff_cell(k, c)
                    cells.append(f"**{text}**" if verdict(c) == "clear" else text)
            out.append(f"| {label.split(' vs ')[0]} | " + " | ".join(cells) + " |")
    out += [
        "",
        "P(better) / P(worse) are the shares of replications in which the scenario beats the "
        "baseline, and the baseline beats it, in the metric's good direction (higher win rate, lower "
        "CAC, ...); ties (for example no wait in either) count in neither, so the two can add up to "
        "well under 100%; n/a for metrics with no good direction. Intervals are per metric and per "
        "comparison, not adjusted for looking at many.",
        "",
    ]
    for metric, t in summ.get("sensitivity", {}).items():
        out += [
            "",
            f"## Sensitivity of {metric}",
            "",
            f"Baseline mean {format_metric(metric, t['baseline_mean'])}. Inputs ranked by how far they move it "
            "(paired change from the baseline, mean and 95% CI):",
            "",
            "| input | low .. high (baseline) | change at low | change at high | range, high vs low |",
            "|---|---|---:|---:|---:|",
        ]
        for r in t["inputs"]:
            cells = [
                _diff_cell(
                    metric,
                    {
                        "diff_mean": r[f"{e}_diff"],
                        "ci95_low": r[f"{e}_ci95"][0],
                        "ci95_high": r[f"{e}_ci95"][1],
                    },
                )
                for e in ("low", "high")
            ]
            rng = r.get("range_ci95") or [None, None]
            cells.append(
                _diff_cell(
                    metric, {"diff_mean": r["range"], "ci95_low": rng[0], "ci95_high": rng[1]}
                )
            )
            out.append(
                f"| {r['input']} | {r['low']:,g} .. {r['high']:,g} ({r['baseline']:,g}) | "
                + " | ".join(cells)
                + " |"
            )
    if figures:
        out += [
            "## Figures",
            "",
        ]
        if "sensitivity" in summ:
            out += ["![tornado](tornado.png)", ""]
        out += [
            "![distributions and paired differences](comparison.png)",
            "",
            "![forecast by scenario](forecast_fan.png)",
            "",
            f"![funnel of the baseline](funnel_{base}.png)",
            "",
        ]
    out += [
        "## Files",
        "",
        "- `summary.json`: every scenario's metrics under `scenarios`, paired differences under "
        "`comparisons` (`diff_mean`, `ci95_low`, `ci95_high`, `p_better`, `p_worse`, `n`)",
        "- `replications.*`, `monthly.*`, `funnel.*`: every scenario's rows, told apart by `scenario`",
        "- `opportunities_rep0.csv`: each scenario's first replication in CRM-export shape",
        "",
    ]
    return "\n".join(out)


def _count(v: float) -> str:
    """A mean count per replication: whole above 100 (4,569), one decimal below (12.5)."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"


def _quota_lines(m: dict, sc: Scenario) -> list[str]:
    """The AE quota section of report.md (none without a quota)."""
    share, att = m.get("share_at_quota") or {}, m.get("quota_attainment") or {}
    if share.get("p50") is None or att.get("p50") is None:
        return []
    ae = sc.team.ae
    return [
        "## AE quota",
        "",
        f"Share of AEs at quota: **{share['p50']:.0%}** (median over replications; benchmark "
        f"47-54 %), median attainment {att['p50']:.0%} of a quota of {format_metric('bookings', ae.quota_year)} "
        "a year, ramped and pro rata for the months employed (`team.ae.quota_year`); rep "
        f"productivity spread cv {ae.productivity_cv:g} (`team.ae.productivity_cv`). Each AE's "
        "year: `reps.*` (docs/metrics.md#quota).",
        "",
    ]


def report_md(res: RunResult, sc: Scenario, figures: bool = True, setup: str = "") -> str:
    name = sc.scenario.name
    scen = res.summary["scenarios"][name]
    m = scen["metrics"]
    lo, hi = window_dates(sc)
    out = [
        f"# salesim report: {name}",
        "",
        *([setup, ""] if setup else []),
        f"{sc.replications} replications, seed {sc.seed}. Metrics cover the window {lo} to {hi} "
        f"({span(sc.horizon_days, False)} after a {span(sc.warmup_days)} warm-up). Motions: "
        + ", ".join(f"`{k}`" for k, _ in motion_rows(sc))
        + _grouped_note(sc)
        + ". Definitions: docs/metrics.md.",
        "",
        "## Headline metrics",
        "",
        "| metric | P10 | median | P90 | mean | 95% CI of the mean |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for k in TERMINAL_METRICS + (
        "logo_churn",
        "grr",
        "leads",
        "sdr_utilization",
        "sdr_inbound_share",
        "sdr_prospecting_share",
        "quota_attainment",
        "share_at_quota",
    ):
        s = m.get(k)
        if s:
            if not sc.costs.known and k in COST_METRICS:
                out.append(f"| {k} | not known | not known | not known | not known | n/a |")
                continue
            out.append(
                f"| {k} | {format_metric(k, s['p10'])} | {format_metric(k, s['p50'])} | {format_metric(k, s['p90'])} | "
                f"{format_metric(k, s['mean'])} | {_interval(k, s, ' .. ')} |"
            )
    out += [
        "",
        "`cycle_days` is the median over every motion's won deals (by motion below). `clv` is the "
        f"discounted gross margin of a new customer over {sc.costs.clv_years:g} years at "
        f"{sc.costs.discount_rate_year:.0%} a year, with its segment's churn and expansion in the "
        "run; `clv_steady_state` is the old infinite-life figure (docs/metrics.md#clv)."
        if sc.costs.known
        else "`cycle_days` is the median over every motion's won deals (by motion below). Costs "
        "are not known (`costs.known: false`), so CAC, payback, CLV and LTV:CAC are not known; give "
        "salaries (`team.<role>.cost_month`), channel spend and `costs.known=true` to compute "
        "them (docs/calibration.md#running-calibratedyaml).",
        "",
        "## By motion",
        "",
        "| motion | win rate | new customers | cycle (median days) | bookings | CAC | payback "
        "(months) | CLV | LTV:CAC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    per = ("cac", "cac_payback_months", "clv", "ltv_to_cac")
    for mot, key in motion_rows(sc):
        cells = [
            _cost_cell(
                sc, f"{k}.{key}", None if key is None else (m.get(f"{k}.{key}") or {}).get("p50")
            )
            for k in ("win_rate", "new_customers", "cycle_days", "bookings", *per)
        ]
        out.append(f"| {mot} | " + " | ".join(cells) + " |")
    if sc.costs.known:
        out += [
            "",
            "## Unit economics by segment",
            "",
            "| segment | new customers | CAC | payback (months) | CLV | LTV:CAC |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for seg in sc.segments:
            cells = [
                format_metric(f"{k}.segment.{seg}", (m.get(f"{k}.segment.{seg}") or {}).get("p50"))
                for k in ("new_customers", *per)
            ]
            out.append(f"| {seg} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Medians over replications."
        + (
            " Every dollar of S&M cost is attributed to a motion and a segment by the time and "
            "spend it went to, a play's money to the motions and segments it targets; overhead "
            "(tools) pro rata by "
            f"`costs.overhead = {sc.costs.overhead}` (docs/metrics.md#cost-attribution)."
            if sc.costs.known
            else ""
        ),
        "",
    ]
    out += _quota_lines(m, sc)
    funnel = grouped_funnel(res.funnel, sc)
    b = shown_bottleneck(funnel, scen)
    out += ["## Funnel", ""]
    if b:
        out.append(
            f"Lowest-converting stage: **{b['motion']} / "
            f"{b['stage']}** ({b['owner']}), {b['conversion']:.0%} advance."
        )
    wait = m.get("sdr_wait_days", {}).get("p50")
    util = m.get("ae_utilization", {}).get("p50")
    if wait is not None:
        out.append(f"Median SDR wait (speed to lead): {wait * 24:.1f} hours.")
    if util is not None:
        out.append(f"AE capacity in use (selling hours, or pipeline slots): {util:.0%} (median).")
    out += [
        "",
        "| motion | stage | owner | advanced | dropped | conversion | mean days |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in funnel.itertuples():
        conv = "n/a" if not math.isfinite(r.conversion) else f"{r.conversion:.0%}"
        days = "n/a" if not math.isfinite(r.mean_days) else f"{r.mean_days:.1f}"
        out.append(
            f"| {r.motion} | {r.stage} | {r.owner} | {_count(r.advanced)} | {_count(r.dropped)} | "
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
        *(
            ["- `reps.*`: each AE's months, ramped quota, bookings and attainment, per replication"]
            if res.reps is not None
            else []
        ),
        "- `opportunities_rep0.csv`: the first replication's opportunities in CRM-export shape",
        "",
    ]
    return "\n".join(out)
