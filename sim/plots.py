"""Figures of a run (matplotlib, PNG): headline distributions, forecast fan chart, funnel."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from sim import metric_registry as registry
from sim import money
from sim.metric_registry import HEADLINE


@functools.cache
def mpl() -> ModuleType:
    """matplotlib on its Agg backend, pyplot loaded: imported at the first figure, since it costs
    about 0.3 s that a run writing no figure should not pay."""
    import matplotlib  # lazy: see the docstring

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (loads pyplot, ticker, lines and colormaps)

    return matplotlib


DPI = 110  # every figure's resolution


def save(fig, path: Path, tight: bool = True, rect: tuple[float, ...] = (0, 0, 1, 1)) -> None:
    """Write a figure as PNG and close it: the one ending of every figure. `tight` runs
    tight_layout (within `rect`), which measures every artist once more before the drawing and
    costs about a third of it; figures that set their margins with `margins` pass False."""
    if tight:
        fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=DPI)
    mpl().pyplot.close(fig)


def text_width(fig, texts, size: float) -> float:
    """Width in inches of the widest of `texts` at font `size` (one measurement each, no drawing)."""
    renderer = fig.canvas.get_renderer()
    prop = mpl().font_manager.FontProperties(size=size)
    widest = max(
        (renderer.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts),
        default=0.0,
    )
    return widest / fig.dpi


def margins(fig, left: float, right: float, top: float, bottom: float, **space: float) -> None:
    """Fixed margins in inches (and wspace/hspace as fractions), the layout tight_layout would find
    for this figure without measuring every tick label a second time."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **space
    )


PLOT_FORMATS = {"pct": "{:.1%}", "money": "money", "count": "{:,.0f}", "num": "{:.1f}"}


def title_and_format(key: str) -> tuple[str, str]:
    """A metric's title and value format in figures, from sim.metric_registry."""
    return registry.label(key), PLOT_FORMATS[registry.fmt(key)]


def money_text(v: float, fine: bool = False) -> str:
    """$21.2M, $480K, $13.5K, $950, -$4.5M (in the currency in force, sim.money: €21.2M, 480K ₽): a
    digit more below 100K, so that ticks a few thousand apart stay distinct; `fine` adds one more
    (colour bars)."""
    a, d = abs(v), int(fine)
    if a >= 1e6:
        s = f"{a / 1e6:.{1 + d}f}M"
    elif a >= 1e5:
        s = f"{a / 1e3:.{d}f}K"
    elif a >= 1e3:
        s = f"{a / 1e3:.{1 + d}f}K"
    else:
        s = f"{a:.0f}"
    return money.text(s, v < 0 and bool(s.strip("0.MK")))


def value_text(fmt: str, v: float) -> str:
    """A value by a figure format ('money': $21.2M; '${...}': the currency around the formatted
    magnitude, sign first)."""
    if fmt == "money":
        return money_text(v)
    if fmt.startswith("$"):
        return money.text(fmt[1:].format(abs(v)), v < 0)
    return fmt.format(v)


def _tex(s: str) -> str:
    return s.replace("$", r"\$")  # a literal dollar, not mathtext


def _money(ax, axis="y") -> None:
    fmt = mpl().ticker.FuncFormatter(lambda v, _: _tex(money_text(v)))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def distributions(reps: pd.DataFrame, path: Path) -> None:
    """Histograms of the four headline metrics over replications, median and P10-P90 marked."""
    plt = mpl().pyplot
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, key in zip(axes.flat, HEADLINE, strict=True):
        label, fmt = title_and_format(key)
        v = reps[key].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        ax.set_title(label)
        if not len(v):
            ax.text(0.5, 0.5, "does not apply", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue

        def show(x: float, fmt: str = fmt) -> str:
            return _tex(value_text(fmt, x))

        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        ax.axvspan(
            p10,
            p90,
            color="#DD8452",
            alpha=0.25,
            zorder=0,
            label=f"P10-P90 {show(p10)} - {show(p90)}",
        )
        ax.hist(v, bins=min(30, max(5, len(v) // 4)), color="#4C72B0", alpha=0.9, zorder=2)
        ax.axvline(p50, color="k", lw=1.5, zorder=3, label=f"median {show(p50)}")
        ax.xaxis.set_major_formatter(_axis_fmt(fmt))
        ax.tick_params(axis="x", labelsize=8)
        ax.yaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom: the legend sits above the bars
        ax.legend(fontsize=8, loc="upper right")
        ax.set_ylabel("replications")
    fig.suptitle(f"Headline metrics over {len(reps)} replications")
    # the y tick labels are counts no wider than the highest limit's digits
    ymax = max(ax.get_ylim()[1] for ax in axes.flat)
    left = 0.47 + text_width(fig, [f"{ymax:.0f}"], 10)
    gap, right = left + 0.15, 0.25  # beside the right column's labels, the left's last x tick
    margins(fig, left, right, 0.68, 0.36, wspace=gap / ((10 - left - right - gap) / 2), hspace=0.22)
    save(fig, path, tight=False)


PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def colors(n: int) -> list:
    """One distinct colour per scenario: PALETTE up to 8, matplotlib's tab20 beyond."""
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    cmap = mpl().colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def fan_chart(monthly: pd.DataFrame, start_label: list[str], path: Path) -> None:
    """P10-P90 band and median of ARR and of monthly bookings across replications. With several
    scenarios (the first is the baseline) only the baseline keeps its band, in grey, and every
    scenario draws its median in its own colour, the legend beside the panels: five overlapping
    bands and a ten-entry legend over the lines could not be read."""
    plt = mpl().pyplot
    names = list(monthly["scenario"].unique()) if "scenario" in monthly else [None]
    several = len(names) > 1
    fig, axes = plt.subplots(1, 2, figsize=(13 if several else 12, 4.5))
    for ax, col, title in zip(
        axes, ("arr", "bookings"), ("ARR at month end", "Bookings per month"), strict=True
    ):
        for i, (name, color) in enumerate(zip(names, colors(len(names)), strict=True)):
            sel = monthly if name is None else monthly[monthly["scenario"] == name]
            q = sel.groupby("month")[col].quantile([0.1, 0.5, 0.9]).unstack()
            x = q.index.to_numpy()
            if not several:
                ax.fill_between(x, q[0.1], q[0.9], color=color, alpha=0.2, label="P10-P90")
                ax.plot(x, q[0.5], color=color, lw=2, label="median")
            else:
                if i == 0:
                    ax.fill_between(
                        x, q[0.1], q[0.9], color="0.6", alpha=0.3, lw=0,
                        label=f"{name} P10-P90",
                    )  # fmt: skip
                base = i == 0  # the baseline's median on top of the others
                ax.plot(
                    x, q[0.5], color=color, lw=2.4 if base else 1.6, zorder=3 if base else 2,
                    label=f"{name} median",
                )  # fmt: skip
            split = col == "bookings" and not several and "bookings_expansion" in sel
            if split and sel["bookings_expansion"].sum() > 0:  # new logos vs expansion
                for part, style in (("bookings_new", "--"), ("bookings_expansion", ":")):
                    med = sel.groupby("month")[part].median()
                    ax.plot(med.index, med, style, color="k", lw=1.3, label=f"{part} median")
        ax.set_title(title)
        if len(x) > 18:  # long horizons: label every third month
            x = x[::3]
        ax.set_xticks(x)
        ax.set_xticklabels([start_label[i] for i in x], rotation=45, ha="right", fontsize=8)
        _money(ax)
        ax.grid(alpha=0.3)
        if not several:
            # headroom above the data for the legend, a row of it per two entries: nothing hidden
            rows = math.ceil(len(ax.get_legend_handles_labels()[1]) / 2)
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + (hi - lo) * 0.11 * rows)
            ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.suptitle("Forecast across replications")
    right = 0.15
    if several:  # one legend for both panels, outside them on the right
        handles, labels = axes[0].get_legend_handles_labels()
        right = text_width(fig, labels, 8) + 0.75
        fig.legend(handles, labels, fontsize=8, loc="center right", frameon=False)
    margins(fig, 0.8, right, 0.68, 0.65, wspace=0.18)  # room for money ticks, rotated months
    save(fig, path, tight=False)


def funnel(f: pd.DataFrame, bottleneck: dict | None, path: Path) -> None:
    """Per motion: stage outcomes (advanced / dropped per replication) with counts and conversion
    rates, on one x scale for every motion so their volumes compare; the lowest-converting stage
    (`bottleneck` in summary.json) outlined in red. Each bar is labelled with its counts, so a
    stage a few dozen leads reach still shows what happened there."""
    plt = mpl().pyplot
    motions = [
        m
        for m in f["motion"].unique()
        if (f[f["motion"] == m]["advanced"] + f[f["motion"] == m]["dropped"]).sum() > 0
    ]
    if not motions:
        motions = list(f["motion"].unique()[:1])
    fig, axes = plt.subplots(
        len(motions),
        1,
        figsize=(10, 2.2 + 1.0 * f.groupby("motion").size().max() * len(motions) / 2),
        squeeze=False,
    )
    notes, names = [], []  # (share of the axis where a note starts, its text); stage labels
    decided = f["advanced"] + f["dropped"]
    xmax = decided[f["motion"].isin(motions)].max() * 1.35 or 1  # one scale for every motion
    for ax, m in zip(axes[:, 0], motions, strict=True):
        s = f[f["motion"] == m].sort_values("stage_index")
        y = np.arange(len(s))[::-1]
        ax.barh(y, s["advanced"], color="#55A868", label="advanced")
        ax.barh(y, s["dropped"], left=s["advanced"], color="#C44E52", alpha=0.6, label="dropped")
        for yi, (_, row) in zip(y, s.iterrows(), strict=True):
            total = row["advanced"] + row["dropped"]
            conv = "n/a" if not np.isfinite(row["conversion"]) else f"{row['conversion']:.0%}"
            days = "" if not np.isfinite(row["mean_days"]) else f", {row['mean_days']:.1f} d"
            worst = bool(
                bottleneck and bottleneck["motion"] == m and bottleneck["stage"] == row["stage"]
            )
            note = "  (lowest conversion)" if worst else ""
            text = f"  {row['advanced']:,.0f} of {total:,.0f} ({conv}){days}{note}"
            notes.append((total / xmax, text))
            ax.text(
                total,
                yi,
                text,
                va="center",
                fontsize=8,
                color="red" if worst else "black",
            )
            if worst:
                ax.barh(yi, total, fill=False, edgecolor="red", lw=2)
        ax.set_yticks(y)
        names += [f"{r.stage} ({r.owner})" for r in s.itertuples()]
        ax.set_yticklabels(names[-len(s) :], fontsize=8)
        ax.set_title(f"{m}: stage outcomes per replication in the window", fontsize=10)
        ax.set_xlim(0, xmax)
        ax.set_xlabel(
            "leads or deals deciding the stage, per replication (mean); labels: advanced of "
            "deciding (conversion), mean days in the stage",
            fontsize=8,
        )
        ax.legend(fontsize=7, loc="lower right")
    w, h = fig.get_size_inches()
    left = text_width(fig, names, 8) + 0.2
    # a note that runs past the axis (a long one on the widest bar) widens the right margin r until it fits:
    # it starts at share x of the axis width (w - left - r) and must end before the figure's edge
    right = max(
        [0.15]
        + [(text_width(fig, [t], 8) + 0.1 - (1 - x) * (w - left)) / x for x, t in notes if x > 0]
    )
    n = len(motions)
    gap = 0.8  # a title above, tick labels and an axis label below each panel
    margins(fig, left, right, 0.34, 0.56, hspace=gap / ((h - 0.9 - (n - 1) * gap) / n))
    save(fig, path, tight=False)


COMPARED = ("win_rate", "cycle_days", "cac", "bookings", "arr_end")


def _axis_fmt(fmt: str):
    if fmt == "money":
        return mpl().ticker.FuncFormatter(lambda v, _: _tex(money_text(v)))
    if not fmt.startswith("$") and not fmt.endswith("%}"):  # plain numbers (days): matplotlib
        return mpl().ticker.ScalarFormatter(useOffset=False)  # picks decimals by tick spacing
    return mpl().ticker.FuncFormatter(lambda v, _: _tex(value_text(fmt, v)))


def comparison(reps: pd.DataFrame, summary: dict, path: Path) -> None:
    """Top row: each scenario's distribution over replications (box: quartiles, whiskers P10-P90).
    Bottom row: each scenario's paired difference from the baseline, mean and 95 % interval, solid
    where the interval excludes zero (a clear difference) and hollow where it does not (noise)."""
    plt = mpl().pyplot
    base = summary["baseline"]
    names = list(summary["scenarios"])
    others = [n for n in names if n != base]
    keys = [k for k in COMPARED if k in reps and reps[k].notna().any()]
    fig, axes = plt.subplots(
        2, len(keys), figsize=(3.6 * len(keys), 7.5), squeeze=False, height_ratios=[3, 2]
    )
    for j, key in enumerate(keys):
        title, fmt = title_and_format(key)
        ax = axes[0, j]
        data = [reps.loc[reps["scenario"] == n, key].dropna().to_numpy(float) for n in names]
        box = ax.boxplot(
            data,
            whis=(10, 90),
            showfliers=False,
            patch_artist=True,
            widths=0.6,
            medianprops={"color": "k"},
        )
        for patch, color in zip(box["boxes"], colors(len(names)), strict=True):
            patch.set_facecolor(color)
            patch.set_alpha(0.7)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
        ax.yaxis.set_major_formatter(_axis_fmt(fmt))
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax = axes[1, j]
        for i, n in enumerate(others):
            c = summary["comparisons"][f"{n} vs {base}"].get(key) or {}
            if c.get("diff_mean") is None:
                continue
            clear = c["ci95_low"] > 0 or c["ci95_high"] < 0
            color = colors(len(names))[names.index(n)]
            ax.errorbar(
                i,
                c["diff_mean"],
                yerr=[[c["diff_mean"] - c["ci95_low"]], [c["ci95_high"] - c["diff_mean"]]],
                fmt="o",
                color=color,
                mfc=color if clear else "white",
                capsize=4,
                ms=7,
            )
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(
            range(len(others)),
            [f"{n} - {base}" for n in others],
            rotation=30,
            ha="right",
            fontsize=8,
        )
        ax.set_xlim(-0.6, len(others) - 0.4)
        ax.yaxis.set_major_formatter(
            mpl().ticker.FuncFormatter(lambda v, _: f"{v * 100:+.1f} pp")
            if fmt.endswith("%}")  # a difference of two rates is in percentage points
            else _axis_fmt(fmt)
        )
        ax.grid(axis="y", alpha=0.3)
        if j == 0:
            ax.set_ylabel("paired difference\n(mean, 95% CI)")
    fig.suptitle(
        f"Scenarios against '{base}' on common random numbers, {len(reps) // len(names)} replications each"
        " (solid: interval excludes 0; hollow: noise)",
        fontsize=11,
    )
    save(fig, path)


def tornado(sens: dict, path: Path) -> None:
    """One panel per metric: each input's paired change from the baseline at its low and its high
    value (bars, 95 % interval as whiskers), largest swing on top."""
    plt = mpl().pyplot
    metrics = list(sens)
    fig, axes = plt.subplots(
        1,
        len(metrics),
        figsize=(7.5 * len(metrics), 1.2 + 0.55 * max(len(sens[m]["inputs"]) for m in metrics)),
        squeeze=False,
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = sens[metric]["inputs"][::-1]
        y = np.arange(len(rows))
        for end, color, off in (("low", "#4C72B0", -0.18), ("high", "#DD8452", 0.18)):
            vals = [r[f"{end}_diff"] or 0.0 for r in rows]
            lo = [
                v - (r[f"{end}_ci95"][0] if r[f"{end}_ci95"][0] is not None else v)
                for v, r in zip(vals, rows, strict=True)
            ]
            hi = [
                (r[f"{end}_ci95"][1] if r[f"{end}_ci95"][1] is not None else v) - v
                for v, r in zip(vals, rows, strict=True)
            ]
            ax.barh(y + off, vals, height=0.36, color=color, label=f"input at its {end} value")
            ax.errorbar(vals, y + off, xerr=[lo, hi], fmt="none", ecolor="k", capsize=2, lw=0.8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(
            y,
            [
                f"{r['input']}\n{r['low']:,g} .. {r['high']:,g} (base {r['baseline']:,g})"
                for r in rows
            ],
            fontsize=8,
        )
        title, fmt = title_and_format(metric)
        ax.xaxis.set_major_formatter(_axis_fmt(fmt))
        ax.set_title(f"{title}: change from the baseline", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Sensitivity: one input at a time, paired on common random numbers", fontsize=11)
    save(fig, path)
