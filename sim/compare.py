"""Several scenarios on common random numbers, and their paired differences against a baseline.

Every scenario runs with the same seed and replication indices, so replication r of scenario B and
replication r of the baseline A draw the same random streams wherever the two share a stream (see
docs/model.md). The difference B - A is then taken replication by replication: most of the luck cancels,
and the interval of the mean difference is much narrower than the two separate intervals suggest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import sensitivity
from sim.config import CompareSettings, ConfigError, RunSettings, Scenario
from sim.experiment import RunResult
from sim.metric_registry import good_direction
from sim.stats import mean_ci95, strict


@dataclass(frozen=True)
class CompareResult:
    """The scenarios' own results (baseline first) and the summary that holds them all."""

    baseline: str
    runs: dict[str, tuple[Scenario, RunResult]]
    summary: dict


def paired(a: np.ndarray, b: np.ndarray, direction: int | None) -> dict[str, float | int | None]:
    """Paired difference B - A over replications where both apply: its mean, the 95 % t-interval of
    the mean, and the shares of replications where B beats A in the metric's good direction and
    where A beats B (ties are neither; None for metrics without a direction)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    d = b[both] - a[both]
    out: dict[str, float | int | None] = {"n": int(len(d))}
    if not len(d):
        return out | dict.fromkeys(("diff_mean", "ci95_low", "ci95_high", "p_better", "p_worse"))
    mean = float(d.mean())
    lo, hi = mean_ci95(d)
    better = None if direction is None else float((direction * d > 0).mean())
    worse = None if direction is None else float((direction * d < 0).mean())
    return out | {
        "diff_mean": mean,
        "ci95_low": float(lo),
        "ci95_high": float(hi),
        "p_better": better,
        "p_worse": worse,
    }


def comparisons(reps: pd.DataFrame, baseline: str) -> dict[str, dict[str, dict]]:
    """`{"B vs A": {metric: paired(...)}}` for every scenario B against the baseline A."""
    base = reps[reps["scenario"] == baseline].set_index("replication")
    metrics = [c for c in reps.columns if c not in ("scenario", "replication")]
    out = {}
    for name in reps["scenario"].unique():
        if name == baseline:
            continue
        other = reps[reps["scenario"] == name].set_index("replication").reindex(base.index)
        out[f"{name} vs {baseline}"] = {
            k: paired(base[k].to_numpy(), other[k].to_numpy(), good_direction(k)) for k in metrics
        }
    return out


def verdict(c: dict) -> str:
    """`clear` when the 95 % interval of the paired difference excludes zero, else `noise`."""
    lo, hi = c.get("ci95_low"), c.get("ci95_high")
    if lo is None or hi is None:
        return "n/a"
    return "clear" if lo > 0 or hi < 0 else "noise"


def run_compare(
    settings: CompareSettings,
    compose: Callable[[str, list[str]], tuple[Scenario, RunSettings]],
    run: Callable[[Scenario, RunSettings], RunResult],
) -> CompareResult:
    """Run each scenario (the baseline first) and gather their results and paired comparisons.

    `compose(name, overrides)` gives a scenario's validated config from its own overrides (the run's
    overrides come first, the scenario's after, so the scenario's win); `run` runs its replications.
    Every scenario is composed and validated before any runs, so a bad scenario costs no time.
    """
    names = [settings.baseline] + [n for n in settings.scenarios if n != settings.baseline]
    configs = {}
    for name in names:
        sc, rs = compose(name, [*settings.scenarios[name], f"scenario.name='{name}'"])
        configs[name] = (sc, rs)
    ref = configs[settings.baseline][0]
    for name, (sc, _) in configs.items():
        for key in ("seed", "replications", "horizon_days", "warmup_days", "start_date"):
            if getattr(sc, key) != getattr(ref, key):
                raise _mismatch(name, key, getattr(sc, key), getattr(ref, key), settings.baseline)
    runs = {name: (sc, run(sc, rs)) for name, (sc, rs) in configs.items()}
    reps = pd.concat([r.replications for _, r in runs.values()], ignore_index=True)
    summary = dict(runs[settings.baseline][1].summary)
    summary["baseline"] = settings.baseline
    summary["scenarios"] = {name: r.summary["scenarios"][name] for name, (_, r) in runs.items()}
    summary["comparisons"] = comparisons(reps, settings.baseline)
    return CompareResult(settings.baseline, runs, strict(summary))


def run_planned(
    rs: RunSettings,
    cfg,
    compose: Callable[[str, list[str]], tuple[Scenario, RunSettings]],
    run: Callable[[Scenario, RunSettings], RunResult],
) -> CompareResult | None:
    """Run the run's `compare` block or its `sensitivity` swings; None when it has neither."""
    if rs.compare is not None and rs.sensitivity is not None:
        raise ConfigError(
            "config error: compare and sensitivity are both set: a run does one or the other"
        )
    if rs.compare is not None:
        return run_compare(rs.compare, compose, run)
    if rs.sensitivity is None:
        return None
    settings, swings = sensitivity.plan(rs.sensitivity, cfg)

    def run_checked(sc: Scenario, r: RunSettings) -> RunResult:
        res = run(sc, r)
        if sc.scenario.name == settings.baseline:  # runs first: a misspelt metric stops early
            sensitivity.check_metrics(rs.sensitivity, res.replications.columns)
        return res

    cres = run_compare(settings, compose, run_checked)
    reps = {name: r.replications for name, (_, r) in cres.runs.items()}
    cres.summary["sensitivity"] = sensitivity.tornado(
        cres.summary, rs.sensitivity, swings, reps, paired
    )
    return cres


def _mismatch(name: str, key: str, value, ref, baseline: str) -> Exception:
    return ConfigError(
        f"config error: compare.scenarios.{name}: {key} = {value!r} differs from the baseline "
        f"'{baseline}' ({ref!r}); paired comparisons need the same {key} in every scenario"
    )


def combined(res: CompareResult) -> RunResult:
    """All scenarios' tables stacked (a `scenario` column tells them apart) under the joint summary."""
    runs = [r for _, r in res.runs.values()]
    opps = []
    for name, (_, r) in res.runs.items():
        if r.opportunities is not None:
            opps.append(r.opportunities.assign(scenario=name))
    return RunResult(
        summary=res.summary,
        replications=pd.concat([r.replications for r in runs], ignore_index=True),
        monthly=pd.concat([r.monthly for r in runs], ignore_index=True),
        funnel=pd.concat([r.funnel for r in runs], ignore_index=True),
        opportunities=pd.concat(opps, ignore_index=True) if opps else None,
        events=sum(r.events for r in runs),
        reps=pd.concat([r.reps for r in runs if r.reps is not None], ignore_index=True)
        if any(r.reps is not None for r in runs)
        else None,
    )
