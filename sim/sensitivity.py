"""One-at-a-time sensitivity: swing each input low and high around the baseline, on common random
numbers, and rank the inputs by how far they move a metric (the tornado chart).

The swings are ordinary compared scenarios (sim/compare.py): each is the baseline plus one override,
so its difference from the baseline is paired replication by replication and carries a 95 % interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import CompareSettings, ConfigError, SensitivitySettings

BASELINE = "baseline"


def _text(v: float) -> str:
    return f"{v:g}"


def swing_values(key: str, value, swing: float) -> tuple[float, float]:
    """Low and high around a numeric baseline value; whole numbers stay whole and move by at least 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            f"config error: sensitivity.inputs.{key}: the baseline value is {value!r}, not a "
            "number; give [low, high] explicitly"
        )
    if value == 0:
        raise ConfigError(
            f"config error: sensitivity.inputs.{key}: the baseline value is 0, so a relative swing "
            "is empty; give [low, high] explicitly"
        )
    lo, hi = sorted((value * (1 - swing), value * (1 + swing)))
    if isinstance(value, int):
        lo, hi = min(math.floor(lo), value - 1), max(math.ceil(hi), value + 1)
        lo = max(lo, 0) if value > 0 else lo
    return lo, hi


def plan(settings: SensitivitySettings, cfg: DictConfig) -> tuple[CompareSettings, dict]:
    """The compared scenarios of a sensitivity run, and each input's (baseline, low, high)."""
    scenarios: dict[str, list[str]] = {BASELINE: []}
    swings = {}
    for key, pair in settings.inputs.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            raise ConfigError(f"config error: sensitivity.inputs.{key}: no such key in the config")
        lo, hi = pair if pair is not None else swing_values(key, value, settings.swing)
        if isinstance(value, int) and not isinstance(value, bool):
            lo, hi = int(lo), int(hi)
        swings[key] = {"baseline": value, "low": lo, "high": hi}
        for v in (lo, hi):
            scenarios[f"{key}={_text(v)}"] = [f"{key}={v}"]
    return CompareSettings(baseline=BASELINE, scenarios=scenarios), swings


def check_metrics(settings: SensitivitySettings, columns) -> None:
    """Every metric named in `sensitivity.metrics` must be a metric of the run."""
    for metric in settings.metrics:
        if metric not in columns:
            raise ConfigError(
                f"config error: sensitivity.metrics: '{metric}' is not a metric of this run "
                "(docs/metrics.md lists them)"
            )


def tornado(
    summary: dict,
    settings: SensitivitySettings,
    swings: dict,
    reps: dict[str, pd.DataFrame] | None = None,
    paired: Callable[..., dict] | None = None,
) -> dict:
    """Per metric, the inputs ranked by swing: the paired change from the baseline at the low and
    the high value (mean and 95 % interval). With `reps` (each scenario's replications), also the
    95 % interval of the range itself (`range_ci95`): high minus low, paired replication by
    replication, turned round when high is below low."""
    out = {}
    for metric in settings.metrics:
        base = (summary["scenarios"][BASELINE]["metrics"].get(metric) or {}).get("mean")
        rows = []
        for key, s in swings.items():
            row = {"input": key, **s}
            for end in ("low", "high"):
                c = summary["comparisons"][f"{key}={_text(s[end])} vs {BASELINE}"].get(metric, {})
                row[f"{end}_diff"] = c.get("diff_mean")
                row[f"{end}_ci95"] = [c.get("ci95_low"), c.get("ci95_high")]
            row["range"] = abs((row["high_diff"] or 0.0) - (row["low_diff"] or 0.0))
            if reps is not None and paired is not None:
                row["range_ci95"] = _range_ci(reps, key, s, metric, paired)
            rows.append(row)
        rows.sort(key=lambda r: -r["range"])
        out[metric] = {"baseline_mean": base, "inputs": rows}
    return out


def _range_ci(reps: dict[str, pd.DataFrame], key: str, s: dict, metric: str, paired) -> list:
    """95 % interval of |high - low| from the paired differences of the two swings (common random
    numbers, so most luck cancels): the interval of high - low, turned round when its mean is
    negative; [None, None] when the metric has no pairs. `paired` is sim.compare.paired."""
    lo, hi = (
        reps[f"{key}={_text(s[end])}"].set_index("replication")[metric] for end in ("low", "high")
    )
    c = paired(lo.to_numpy(), hi.reindex(lo.index).to_numpy(), None)
    if c.get("diff_mean") is None:
        return [None, None]
    a, b = c["ci95_low"], c["ci95_high"]
    return sorted([-a, -b]) if c["diff_mean"] < 0 else [a, b]


TABLE_COLUMNS = [
    "metric", "input", "baseline", "low", "high", "low_diff", "low_ci95_low", "low_ci95_high",
    "high_diff", "high_ci95_low", "high_ci95_high", "range", "range_ci95_low", "range_ci95_high",
]  # fmt: skip


def tornado_table(sens: dict) -> pd.DataFrame:
    """tornado.csv: one row per metric and input, ranked as in the chart, every change with its
    paired 95 % interval (low/high: against the baseline; range: high against low)."""
    rows = []
    for metric, t in sens.items():
        for r in t["inputs"]:
            ci = {e: r.get(f"{e}_ci95") or [None, None] for e in ("low", "high", "range")}
            rows.append(
                [metric, r["input"], r["baseline"], r["low"], r["high"], r["low_diff"],
                 *ci["low"], r["high_diff"], *ci["high"], r["range"], *ci["range"]]
            )  # fmt: skip
    return pd.DataFrame(rows, columns=TABLE_COLUMNS).fillna(np.nan)
