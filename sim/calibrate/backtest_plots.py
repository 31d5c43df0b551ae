"""Figures of a backtest: the forecast band against actuals by month, and the rolling-origin view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import money
from sim.plots import mpl, save


def _title(metric: str) -> str:
    """'Won deals', 'Won value ($)': amounts in the currency in force (data.currency, sim.money)."""
    return {"won_deals": "Won deals", "won_value": f"Won value ({money.unit()})"}.get(
        metric, metric
    )


NAIVE = {
    "stage_weighted": ("stage-weighted pipeline", "#55A868", "s"),
    "last_period": ("same as last period", "#8172B2", "^"),
}


def _money(ax) -> None:
    def tick(v: float, _) -> str:
        a = abs(v)
        text = money.text(f"{a / 1e6:.1f}M" if a >= 1e6 else f"{a / 1e3:.0f}K", v < 0)
        return text.replace("$", r"\$")  # a literal dollar, not mathtext

    ax.yaxis.set_major_formatter(mpl().ticker.FuncFormatter(tick))


def band_by_month(monthly: pd.DataFrame, result: dict, name: str, path: Path) -> None:
    """Per metric: the simulated P10-P90 band and median per calendar month, the actual as points."""
    metrics = list(result["metrics"])
    fig, axes = mpl().pyplot.subplots(
        1, len(metrics), figsize=(max(7.5, 5.5 * len(metrics)), 4.3), squeeze=False
    )
    for ax, m in zip(axes[0], metrics, strict=True):
        g = monthly[monthly["metric"] == m]
        x = np.arange(len(g))
        if len(x) > 1:
            ax.fill_between(
                x, g["p10"], g["p90"], color="#4C72B0", alpha=0.25, label="simulated P10-P90"
            )
        else:  # one month: a band of one point would not show; draw it as a bar
            ax.bar(
                x, g["p90"] - g["p10"], bottom=g["p10"], width=0.3, color="#4C72B0", alpha=0.25,
                label="simulated P10-P90",
            )  # fmt: skip
            ax.set_xlim(-1, 1)
        ax.plot(x, g["p50"], color="#4C72B0", lw=2, marker="o", label="simulated median")
        ax.plot(x, g["actual"], color="k", lw=0, marker="D", ms=7, label="actual (file)")
        ax.set_xticks(x, g["month"].tolist())
        ax.set_ylim(bottom=0)
        ax.set_title(_title(m) + " per month")
        if m == "won_value":
            _money(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    e = result["metrics"][metrics[0]]
    fig.suptitle(
        f"{name}: backtest from {result['cutoff']}, {result['horizon_days']} days\n"
        f"horizon total {_title(metrics[0]).lower()}: actual {e['actual']:,.0f}, "
        f"simulated P10-P90 {e['p10']:,.0f}..{e['p90']:,.0f} (months may be partial)",
        fontsize=10,
    )
    save(fig, path)


def rolling_plot(table: pd.DataFrame, name: str, horizon_days: int, path: Path) -> None:
    """Per metric and cutoff: the P10-P90 interval and median, the actual, and the naive forecasts."""
    metrics = list(dict.fromkeys(table["metric"]))
    fig, axes = mpl().pyplot.subplots(
        len(metrics), 1, figsize=(9, 3.6 * len(metrics)), squeeze=False
    )
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        g = table[table["metric"] == m].reset_index(drop=True)
        x = np.arange(len(g))
        ax.vlines(
            x, g["p10"], g["p90"], color="#4C72B0", lw=8, alpha=0.35, label="simulated P10-P90"
        )
        ax.plot(x, g["p50"], "o", color="#4C72B0", label="simulated median")
        for key, (label, color, marker) in NAIVE.items():
            ax.plot(x + 0.15, g[key], marker, color=color, ms=6, label=label)
        ax.plot(x, g["actual"], "D", color="k", ms=7, label="actual (file)")
        ax.set_xticks(x, g["cutoff"].tolist(), rotation=30, ha="right")
        ax.set_ylim(bottom=0)
        ax.set_title(
            f"{_title(m)} in the {horizon_days} days after each cutoff: "
            f"{int(g['covered'].sum())}/{len(g)} actuals inside P10-P90"
        )
        if m == "won_value":
            _money(ax)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, ncol=3, loc="lower left")
    fig.suptitle(f"{name}: rolling-origin backtest", fontsize=11)
    save(fig, path)
