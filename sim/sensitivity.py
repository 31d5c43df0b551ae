"""One-at-a-time sensitivity: swing each input low and high around the baseline, on common random
numbers, and rank the inputs by how far they move a metric (the tornado chart).

The swings are ordinary compared scenarios (sim/compare.py): each is the baseline plus one override,
so its difference from the baseline is paired replication by replication and carries a 95 % interval.
"""

from __future__ import annotations

import math

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


def tornado(summary: dict, settings: SensitivitySettings, swings: dict) -> dict:
    """Per metric, the inputs ranked by swing: the paired change from the baseline at the low and
    the high value (mean and 95 % interval)."""
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
            rows.append(row)
        rows.sort(key=lambda r: -r["range"])
        out[metric] = {"baseline_mean": base, "inputs": rows}
    return out
