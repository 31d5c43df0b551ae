"""Figures of a run (matplotlib, PNG): headline distributions, forecast fan chart, funnel."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.metrics import HEADLINE  # noqa: E402

LABELS = {
    "win_rate": ("Win rate", "{:.1%}"),
    "cycle_days": ("Won-deal cycle, median (days)", "{:.0f}"),
    "cac": ("CAC ($)", "${:,.0f}"),
    "clv": ("CLV ($)", "${:,.0f}"),
}


def _money(ax, axis="y") -> None:
    fmt = matplotlib.ticker.FuncFormatter(
        lambda v, _: rf"\${v / 1e6:.1f}M" if abs(v) >= 1e6 else rf"\${v / 1e3:.0f}K"
    )
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def distributions(reps: pd.DataFrame, path: Path) -> None:
    """Histograms of the four headline metrics over replications, median and P10-P90 marked."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, key in zip(axes.flat, HEADLINE, strict=True):
        label, fmt = LABELS[key]
        v = reps[key].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        ax.set_title(label)
        if not len(v):
            ax.text(0.5, 0.5, "does not apply", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue

        def show(x: float, fmt: str = fmt) -> str:
            return fmt.format(x).replace("$", r"\$")  # a literal dollar, not mathtext

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
        ax.xaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(lambda x, _, fmt=fmt: fmt.format(x).replace("$", r"\$"))
        )
        ax.tick_params(axis="x", labelsize=8)
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper right")
        ax.set_ylabel("replications")
    fig.suptitle(f"Headline metrics over {len(reps)} replications")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fan_chart(monthly: pd.DataFrame, start_label: list[str], path: Path) -> None:
    """P10-P90 band and median of ARR and of monthly bookings across replications."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, col, title in zip(
        axes, ("arr", "bookings"), ("ARR at month end", "Bookings per month"), strict=True
    ):
        g = monthly.groupby("month")[col]
        q = g.quantile([0.1, 0.5, 0.9]).unstack()
        x = q.index.to_numpy()
        ax.fill_between(x, q[0.1], q[0.9], color="#4C72B0", alpha=0.25, label="P10-P90")
        ax.plot(x, q[0.5], color="#4C72B0", lw=2, label="median")
        ax.set_title(title)
        ax.set_xticks(x)
        ax.set_xticklabels([start_label[i] for i in x], rotation=45, ha="right", fontsize=8)
        _money(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Forecast across replications")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def funnel(f: pd.DataFrame, bottleneck: dict | None, path: Path) -> None:
    """Per motion: stage outcomes (advanced / dropped per replication) with conversion rates;
    the bottleneck stage (lowest conversion) outlined in red."""
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
    for ax, m in zip(axes[:, 0], motions, strict=True):
        s = f[f["motion"] == m].sort_values("stage_index")
        y = np.arange(len(s))[::-1]
        ax.barh(y, s["advanced"], color="#55A868", label="advanced")
        ax.barh(y, s["dropped"], left=s["advanced"], color="#C44E52", alpha=0.6, label="dropped")
        for yi, (_, row) in zip(y, s.iterrows(), strict=True):
            total = row["advanced"] + row["dropped"]
            conv = "n/a" if not np.isfinite(row["conversion"]) else f"{row['conversion']:.0%}"
            days = "" if not np.isfinite(row["mean_days"]) else f", {row['mean_days']:.1f} d"
            ax.text(total, yi, f"  {conv}{days}", va="center", fontsize=8)
            if bottleneck and bottleneck["motion"] == m and bottleneck["stage"] == row["stage"]:
                ax.barh(yi, total, fill=False, edgecolor="red", lw=2)
                ax.text(0, yi + 0.42, "bottleneck (lowest conversion)", color="red", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{r.stage} ({r.owner})" for r in s.itertuples()], fontsize=8)
        ax.set_title(f"{m}: stage outcomes per replication in the window", fontsize=10)
        ax.set_xlim(0, (s["advanced"] + s["dropped"]).max() * 1.25 or 1)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
