"""Figures of a sweep (matplotlib, PNG, in the sweep directory): metric against one swept
parameter (median and P10-P90 band), heat maps for two, and the trials of an optimisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim import metric_registry as registry
from sim import money
from sim.plots import PALETTE, colors, money_text, mpl, save

# The metrics a sweep's figures show; their titles and formats come from sim.metric_registry when
# a figure is drawn.
KEY_METRICS = ("arr_end", "bookings", "new_customers", "win_rate", "cac", "cac_payback_months")
DONE = ("ok", "skipped-complete")


def fmt(v: float, unit: str, fine: bool = False) -> str:
    """A value as a RevOps reader expects it ($21.2M, 26.1 %, 658; amounts in the currency in force,
    sim.money); '$' escaped for matplotlib.
    `fine` adds a digit, for colour-bar ticks that are close together."""
    if v is None or not np.isfinite(v):
        return "n/a"
    if unit == "pct":
        return f"{v:.{2 if fine else 1}%}"
    if unit == "money":
        return money_text(v, fine).replace("$", r"\$")
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"


def param_label(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return f"{v:,}" if isinstance(v, int | float) else str(v)


def response_plots(
    table: pd.DataFrame, params: list[str], sweep_dir: Path, currency: str | None = None
) -> list[Path]:
    """Draw the figures that fit the sweep; returns their paths (none for 3+ swept parameters).
    Amounts in `currency` (the sweep's `currency:`; None: USD)."""
    with money.using(currency):
        return _response_plots(table, params, sweep_dir)


def _response_plots(table: pd.DataFrame, params: list[str], sweep_dir: Path) -> list[Path]:
    varying = [p for p in params if table[p].nunique(dropna=True) > 1]
    done = table[table["status"].isin(DONE)]
    if done.empty:
        return []
    if "objective" in done and done["objective"].notna().any():
        return [optimisation(done, varying, sweep_dir)]
    scenarios = list(done["scenario"].dropna().unique())
    out = []
    for s in scenarios if len(varying) == 2 else [None]:
        tag = "" if s is None or len(scenarios) == 1 else f"_{s}"
        path = sweep_dir / f"response{tag}.png"
        if len(varying) == 1:
            lines(table, varying[0], path)
        elif len(varying) == 2:
            heatmaps(table, varying[0], varying[1], s, path)
        else:
            return []
        out.append(path)
    return out


def _axis(values: pd.Series) -> tuple[list, bool]:
    """Distinct parameter values in plotting order, and whether the axis is numeric."""
    uniq = list(dict.fromkeys(values.dropna()))
    numeric = pd.api.types.is_numeric_dtype(values)
    return (sorted(uniq) if numeric else uniq), numeric


def _failed_note(table: pd.DataFrame, params: list[str]) -> str:
    bad = table[~table["status"].isin(DONE)].drop_duplicates("job")
    if bad.empty:
        return ""
    pts = "; ".join(
        ", ".join(f"{p}={param_label(r[p])}" for p in params) for _, r in bad.iterrows()
    )
    return f"not complete (see sweep_summary.csv): {pts}"


def lines(table: pd.DataFrame, param: str, path: Path) -> None:
    """One panel per key metric: median against the parameter, P10-P90 band, a line per scenario."""
    plt = mpl().pyplot
    done = table[table["status"].isin(DONE)]
    metrics = [(m, registry.label(m), registry.fmt(m)) for m in KEY_METRICS if f"{m}.p50" in done]
    xs, numeric = _axis(table[param])
    ncol = 3
    nrow = -(-len(metrics) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.4 * nrow + 0.6), squeeze=False)
    scenarios = list(done["scenario"].unique())
    reps = done["replications"].dropna()
    for ax, (m, title, unit) in zip(axes.flat, metrics, strict=False):
        for i, s in enumerate(scenarios):
            d = done[done["scenario"] == s].set_index(param)
            d = d.loc[[x for x in xs if x in d.index]]
            x = d.index.to_numpy() if numeric else [xs.index(v) for v in d.index]
            color = colors(len(scenarios))[i]
            tag = "" if len(scenarios) == 1 else f"{s}: "
            ax.fill_between(
                x,
                d[f"{m}.p10"].astype(float),
                d[f"{m}.p90"].astype(float),
                color=color,
                alpha=0.2,
                label=f"{tag}P10-P90",
            )
            ax.plot(x, d[f"{m}.p50"].astype(float), "o-", color=color, lw=2, label=f"{tag}median")
        ax.set_title(title, fontsize=10)
        if unit != "num":
            ax.yaxis.set_major_formatter(mpl().ticker.FuncFormatter(lambda v, _, u=unit: fmt(v, u)))
        if numeric:
            if min(xs) > 0 and max(xs) / min(xs) > 100:  # e.g. an SLA from 5 minutes to 48 hours
                ax.set_xscale("log")
                ax.xaxis.set_minor_locator(mpl().ticker.NullLocator())
            ax.set_xticks(xs, [param_label(v) for v in xs], fontsize=8)
        else:
            ax.set_xticks(range(len(xs)), [str(v) for v in xs], fontsize=8)
        ax.set_xlabel(param, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_axis_off()
    n = f"{int(reps.min())}" if len(reps) and reps.min() == reps.max() else "varying"
    fig.suptitle(f"Response to {param}: median and P10-P90 band over {n} replications per point")
    bottom = 0.0
    if len(scenarios) > 1:  # one legend for the figure: a colour per scenario
        handles = [
            mpl().lines.Line2D([], [], color=c, lw=2, marker="o") for c in colors(len(scenarios))
        ]
        fig.legend(handles, scenarios, loc="lower center", ncol=len(scenarios), fontsize=9)
        bottom = 0.06
    else:
        axes.flat[0].legend(fontsize=8)
    note = _failed_note(table, [param])
    if note:
        fig.text(0.01, 0.005, note, fontsize=8, color="#C44E52")
        bottom = max(bottom, 0.03) + (0.03 if len(scenarios) > 1 else 0)
    save(fig, path, rect=(0, bottom, 1, 1))


def heatmaps(table: pd.DataFrame, px: str, py: str, scenario: str | None, path: Path) -> None:
    """One heat map per key metric: the median in each cell of the (px across, py up) grid, with
    P10-P90 beneath; cells of failed jobs are left grey."""
    plt = mpl().pyplot
    sel = table if scenario is None else table[table["scenario"].isin([scenario, pd.NA])]
    done = sel[sel["status"].isin(DONE)]
    metrics = [(m, registry.label(m), registry.fmt(m)) for m in KEY_METRICS if f"{m}.p50" in done]
    xs, _ = _axis(table[px])
    ys, _ = _axis(table[py])
    ncol = 3
    nrow = -(-len(metrics) // ncol)
    w = max(4.6, 0.95 * len(xs) + 1.8)
    h = max(3.6, 0.6 * len(ys) + 1.4)
    fig, axes = plt.subplots(nrow, ncol, figsize=(w * ncol, h * nrow + 0.7), squeeze=False)
    for ax, (m, title, unit) in zip(axes.flat, metrics, strict=False):
        grid = np.full((len(ys), len(xs)), np.nan)
        lo, hi = grid.copy(), grid.copy()
        for _, r in done.iterrows():
            i, j = ys.index(r[py]), xs.index(r[px])
            grid[i, j], lo[i, j], hi[i, j] = r[f"{m}.p50"], r[f"{m}.p10"], r[f"{m}.p90"]
        reverse = registry.good_direction(m) == -1  # dark is good: low CAC, short payback
        cmap = mpl().colormaps["viridis_r" if reverse else "viridis"]
        cmap.set_bad("#DDDDDD")
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap)
        finite = grid[np.isfinite(grid)]
        mid = (finite.min() + finite.max()) / 2 if len(finite) else 0
        # a narrow range gets one more digit, so neighbouring cells do not all read the same
        fine = bool(len(finite)) and finite.max() - finite.min() < 0.1 * abs(mid)
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isfinite(grid[i, j]):
                    ax.text(j, i, "failed", ha="center", va="center", fontsize=7, color="#C44E52")
                    continue
                dark = (grid[i, j] < mid) != reverse
                c = "white" if dark else "black"
                ax.text(
                    j,
                    i + 0.1,
                    fmt(grid[i, j], unit, fine),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=c,
                )
                ax.text(
                    j,
                    i - 0.22,
                    f"{fmt(lo[i, j], unit)}-{fmt(hi[i, j], unit)}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color=c,
                )
        ax.set_xticks(range(len(xs)), [param_label(v) for v in xs], fontsize=8)
        ax.set_yticks(range(len(ys)), [param_label(v) for v in ys], fontsize=8)
        ax.set_xlabel(px, fontsize=9)
        ax.set_ylabel(py, fontsize=9)
        ax.set_title(title, fontsize=10)
        fig.colorbar(
            im,
            ax=ax,
            fraction=0.046,
            pad=0.03,
            format=mpl().ticker.FuncFormatter(lambda v, _, u=unit: fmt(v, u, fine=True)),
        ).ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_axis_off()
    reps = done["replications"].dropna()
    n = f"{int(reps.min())}" if len(reps) and reps.min() == reps.max() else "varying"
    tag = f" ({scenario})" if scenario else ""
    fig.suptitle(
        f"Response to {px} and {py}{tag}: median per cell, P10-P90 beneath, {n} replications each"
    )
    note = _failed_note(sel, [px, py])
    if note:
        fig.text(0.01, 0.005, note, fontsize=8, color="#C44E52")
    save(fig, path, rect=(0, 0.03 if note else 0, 1, 1))


def optimisation(done: pd.DataFrame, params: list[str], sweep_dir: Path) -> Path:
    """Trials of an optimising sweep: the objective by trial with the best so far, the constrained
    metric against its limit, and the objective against each searched parameter."""
    plt = mpl().pyplot
    spec = {}
    for job in done["job"]:
        rec = json.loads((sweep_dir / job / "job.json").read_text())
        spec = rec.get("objective_spec") or {}
        if spec:
            break
    d = done.drop_duplicates("job").copy()
    trial = np.arange(len(d))
    ok = d["feasible"].fillna(False).astype(bool).to_numpy()
    metric = spec.get("metric", "objective")
    unit = registry.fmt(metric)
    label = f"{metric} ({spec.get('stat', '')})"
    cons = spec.get("constraints") or []
    obj = d["objective"].astype(float).to_numpy()
    floor = np.nanmin(obj[ok]) if ok.any() else 0.0
    ticks = mpl().ticker.FuncFormatter(lambda v, _: fmt(v, unit))
    ncol = max(2, len(params))
    fig = plt.figure(figsize=(4.2 * ncol, 7.6))
    grid = fig.add_gridspec(2, 2 * ncol)
    half = ncol  # the top row holds two panels, each half the width

    def broken(ax, x) -> None:
        ax.plot(x[~ok], np.full((~ok).sum(), floor), "x", color=PALETTE[3], ms=8)

    ax = fig.add_subplot(grid[0, :half])
    ax.plot(trial[ok], obj[ok], "o", color=PALETTE[0], label="meets the constraints")
    broken(ax, trial)
    ax.plot([], [], "x", color=PALETTE[3], label="breaks a constraint (drawn at the bottom)")
    best = pd.Series(np.where(ok, obj, np.nan)).cummax().ffill().to_numpy()
    ax.step(trial, best, where="post", color="k", lw=1.2, label="best so far")
    ax.set_title(f"Objective: {label} by trial", fontsize=10)
    ax.set_xlabel("trial (job number)", fontsize=9)
    ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(ticks)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)

    if cons:
        ax = fig.add_subplot(grid[0, half:])
        c = cons[0]
        col = f"{c['metric']}.{c.get('stat', 'p50')}"
        if col in d:
            v = d[col].astype(float).to_numpy()
            ax.plot(trial[ok], v[ok], "o", color=PALETTE[0])
            ax.plot(trial[~ok], v[~ok], "x", color=PALETTE[3], ms=8)
            for b in ("max", "min"):
                if c.get(b) is not None:
                    ax.axhline(c[b], color=PALETTE[3], ls="--", lw=1, label=f"{b} {c[b]:g}")
            ax.legend(fontsize=7)
        ax.set_title(f"Constraint: {col}", fontsize=10)
        ax.set_xlabel("trial (job number)", fontsize=9)
        ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)

    for i, p in enumerate(params):
        ax = fig.add_subplot(grid[1, 2 * i : 2 * i + 2])
        x = pd.to_numeric(d[p], errors="coerce").to_numpy()
        ax.plot(x[ok], obj[ok], "o", color=PALETTE[0])
        broken(ax, x)
        ax.set_xlabel(p, fontsize=9)
        ax.yaxis.set_major_formatter(ticks)
        ax.xaxis.set_major_formatter(mpl().ticker.FuncFormatter(lambda v, _: compact(v)))
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.set_ylabel(label, fontsize=9)
    fig.suptitle(
        f"Optimisation: {len(d)} trials, {int(ok.sum())} meet the constraints; "
        "bottom: the objective against each searched value"
    )
    path = sweep_dir / "optimisation.png"
    save(fig, path)
    return path


def compact(v: float) -> str:
    """Axis ticks of searched values: 250K, 1.5M, 12."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}K"
    return f"{v:g}"


def _cell(v) -> str:
    """A table cell of the sweep report: text with markdown's table bar escaped."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
        return "n/a"
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"  # as the override was written
    return param_label(v).replace("|", "\\|").replace("\n", " ")


def report_md(table: pd.DataFrame, params: list[str], figures: list[Path]) -> str:
    """The sweep's report (report.md, and report.html made from it): the best job first when the
    sweep has an objective, then every job's status, swept values and median key metrics, the
    failures with their errors, and the figures. Amounts in the currency in force (sim.money)."""
    from sim.report import format_metric  # same band; kept out of the figures' import path

    jobs = table["job"].nunique()
    by_status = table.drop_duplicates("job")["status"].value_counts()
    varying = [p for p in params if table[p].nunique(dropna=True) > 1]
    fixed = [
        f"{p}={_cell(table[p].dropna().iloc[0])}"
        for p in params
        if p not in varying and table[p].notna().any()
    ]
    lines = [
        f"# Sweep: {jobs} jobs over {', '.join(f'`{p}`' for p in varying) or 'no parameter'}",
        "",
        f"Setup: the same in every job: `{' '.join(fixed)}`."
        if fixed
        else "Setup: no other overrides.",
        "",
        "Jobs: " + ", ".join(f"{n} {s}" for s, n in by_status.items()) + ". Every job's every "
        "metric: `sweep_summary.parquet` / `.csv` (docs/sweeps.md); each job's own report is in "
        "its folder.",
    ]
    if "objective" in table and table["objective"].notna().any():
        best = table.loc[table["objective"].astype(float).idxmax()]
        shown = ", ".join(f"`{p}={_cell(best[p])}`" for p in varying)
        lines += [
            "",
            "## Best job",
            "",
            f"Job **{best['job']}**, objective {best['objective']:,.6g} ({shown})"
            + (
                "." if bool(best.get("feasible")) else ": it misses the constraints (nearest miss)."
            ),
        ]
    metrics = [m for m in KEY_METRICS if f"{m}.p50" in table]
    cols = ["job", "scenario", "status", *varying]
    cols += [c for c in ("objective",) if c in table]
    lines += [
        "",
        "## Jobs",
        "",
        "Medians over each job's replications.",
        "",
        "| " + " | ".join([*cols, *metrics]) + " |",
        "|" + "---|" * len(cols) + "---:|" * len(metrics),
    ]
    for _, r in table.iterrows():
        cells = [_cell(r[c]) for c in cols]
        cells += [
            format_metric(m, None if pd.isna(r[f"{m}.p50"]) else r[f"{m}.p50"]) for m in metrics
        ]
        lines.append("| " + " | ".join(cells) + " |")
    bad = table[~table["status"].isin(DONE)].drop_duplicates("job")
    if len(bad):
        lines += ["", "## Jobs that did not finish", ""]
        lines += [f"- {r.job} ({r.status}): {_cell(r.error)}" for r in bad.itertuples()]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{f.stem}]({f.name})\n" for f in figures]
    return "\n".join(lines) + "\n"
