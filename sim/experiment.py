"""Replications of a scenario on an executor, gathered into tables and a summary.

Replication r of a scenario always uses the streams of (seed, r), whichever executor or worker ran it,
and results are gathered in replication order, so the output is the same for every executor.
Only small per-replication results travel back (metrics, monthly series, funnel counts); the full
opportunity records are kept for the first replication only.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd

from sim.config import ExecutorSettings, Scenario
from sim.executors import map_ordered
from sim.metrics import funnel_counts, monthly_series, rep_attainment, scalar_metrics
from sim.model import simulate_replication
from sim.stats import strict, summarise


@dataclass(frozen=True)
class ReplicationResult:
    replication: int
    metrics: dict[str, float]
    monthly: pd.DataFrame
    funnel: pd.DataFrame
    events: int
    opportunities: pd.DataFrame | None
    reps: pd.DataFrame | None = None  # each AE's quota year (sim.metrics.rep_attainment)


@dataclass(frozen=True)
class RunResult:
    """What one run of a scenario produced: the summary dict and its tables."""

    summary: dict
    replications: pd.DataFrame
    monthly: pd.DataFrame
    funnel: pd.DataFrame
    opportunities: pd.DataFrame
    events: int
    reps: pd.DataFrame | None = None  # AEs' quota and attainment, every replication (long form)


def run_replication(sc: Scenario, r: int, keep_records: bool = False) -> ReplicationResult:
    rec = simulate_replication(sc, r)
    return ReplicationResult(
        replication=r,
        metrics=scalar_metrics(
            rec,
            sc.costs.gross_margin,
            sc.costs.overhead,
            sc.costs.known,
            sc.costs.clv_years,
            sc.costs.discount_rate_year,
        ),
        monthly=monthly_series(rec),
        funnel=funnel_counts(rec),
        events=rec.events,
        opportunities=rec.opportunities if keep_records else None,
        reps=rep_attainment(rec),
    )


def _chunk(sc: Scenario, reps: list[int]) -> list[ReplicationResult]:
    return [run_replication(sc, r, keep_records=(r == 0)) for r in reps]


def iterate(
    sc: Scenario, executor: str | ExecutorSettings = "serial", workers: int = 1
) -> Iterator[ReplicationResult]:
    """Yield replication results in replication order, on the executor named by `executor` (a kind
    such as 'local', or the full settings, e.g. a Ray address): see sim.executors."""
    settings = (
        executor if isinstance(executor, ExecutorSettings) else ExecutorSettings(kind=executor)
    )
    yield from map_ordered(_chunk, sc, range(sc.replications), settings, workers)


def run_scenario(
    sc: Scenario,
    executor: str | ExecutorSettings = "serial",
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run every replication of `sc` and gather the results (memory: a row of numbers per
    replication and its months, kept as plain arrays, not a table object each)."""
    rows: list[list] = []
    keys: list[str] | None = None
    months: list[np.ndarray] = []  # each replication's monthly table as one float block
    month_cols: pd.Series | None = None  # its columns and their dtypes
    funnel_sum, first, events = None, None, 0
    rep_tabs: list[dict[str, np.ndarray]] = []  # each replication's AE rows as plain columns
    for res in iterate(sc, executor, workers):
        if keys is None:  # every replication of a scenario reports the same metrics
            keys = list(res.metrics)
        rows.append([sc.scenario.name, res.replication, *(res.metrics[k] for k in keys)])
        m = res.monthly
        month_cols = m.dtypes if month_cols is None else month_cols
        block = np.empty((len(m), len(month_cols) + 1))
        block[:, 0] = res.replication
        block[:, 1:] = m[month_cols.index].to_numpy(dtype=float)  # counts < 2^53 stay exact
        months.append(block)
        f = res.funnel.set_index(["motion", "stage_index", "stage", "owner"])
        funnel_sum = f if funnel_sum is None else funnel_sum + f
        events += res.events
        if res.opportunities is not None:
            first = res.opportunities
        if res.reps is not None and len(res.reps):
            keep = res.reps["months"].to_numpy() > 0
            tab = {k: v.to_numpy()[keep] for k, v in res.reps.items()}
            rep_tabs.append({"replication": np.full(int(keep.sum()), res.replication), **tab})
        if progress:
            progress(1)
    reps = pd.DataFrame(rows, columns=["scenario", "replication", *(keys or [])])
    stacked = np.concatenate(months)
    month_tab = pd.DataFrame(
        {
            "scenario": sc.scenario.name,
            "replication": stacked[:, 0].astype(np.int64),
            **{c: stacked[:, j + 1].astype(t) for j, (c, t) in enumerate(month_cols.items())},
        }
    )
    funnel = funnel_sum.reset_index()
    counts = [c for c in ("advanced", "dropped", "stage_days", "open_at_end") if c in funnel]
    funnel[counts] /= sc.replications  # mean per replication
    decided = funnel["advanced"] + funnel["dropped"]
    funnel["conversion"] = np.where(
        decided > 0, funnel["advanced"] / decided.where(decided > 0, 1), np.nan
    )
    funnel["mean_days"] = np.where(
        decided > 0, funnel["stage_days"] / decided.where(decided > 0, 1), np.nan
    )
    funnel.insert(0, "scenario", sc.scenario.name)
    metrics = {
        k: summarise(reps[k].to_numpy(dtype=float))
        for k in reps.columns
        if k not in ("scenario", "replication")
    }
    summary = {
        "seed": sc.seed,
        "versions": versions(),
        "scenarios": {
            sc.scenario.name: {
                "replications": sc.replications,
                "horizon_days": sc.horizon_days,
                "warmup_days": sc.warmup_days,
                "start_date": sc.start_date.isoformat(),
                "bottleneck": bottleneck(funnel),
                "metrics": metrics,
            }
        },
    }
    rep_tab = _rep_table(sc.scenario.name, rep_tabs)
    return RunResult(strict(summary), reps, month_tab, funnel, first, events, rep_tab)


def _rep_table(scenario: str, tabs: list[dict[str, np.ndarray]]) -> pd.DataFrame | None:
    """The replications' AE quota tables stacked, `scenario` and `replication` first (kept as
    columns of arrays until here: a data frame per replication costs kilobytes each)."""
    if not tabs:
        return None
    out = pd.DataFrame({k: np.concatenate([t[k] for t in tabs]) for k in tabs[0]})
    out.insert(0, "scenario", scenario)
    return out


def bottleneck(funnel: pd.DataFrame) -> dict | None:
    """The stage with the lowest conversion, among stages that decide at least 1 % as many outcomes
    as the busiest stage (so a stage a handful of leads reach cannot be the bottleneck)."""
    decided = funnel["advanced"] + funnel["dropped"]
    f = funnel[(decided >= 0.01 * decided.max()) & funnel["conversion"].notna()]
    if not len(f):
        return None
    row = f.loc[f["conversion"].idxmin()]
    return {
        "motion": str(row["motion"]),
        "stage": str(row["stage"]),
        "owner": str(row["owner"]),
        "conversion": float(row["conversion"]),
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("salesim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "hydra-core"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out
