"""Every run under a results folder gathered into one table: `salesim-results [results_dir] --out runs.parquet`.

A run folder is recognised by the file its run writes last (runfolder.DONE_FILE and the calibration's
markers): summary.json (a run, a comparison, a sensitivity run, a capacity plan, a sweep's job),
fit.json (a calibration), backtest.json or rolling_backtest.json (a backtest). Each gives a row per
scenario (a plain run has one; a comparison one per scenario, its baseline marked), with the setup
read from the run's own record (`.hydra/config.yaml`, `overrides.yaml`, `hydra.yaml`) and the
headline figures (P50 and mean) of its summary. A folder that is not a finished run (a staging
`.partial` folder, a run that stopped, a sweep job that failed, an unreadable file) is skipped and
listed with its reason: one bad folder never stops the gathering. docs/results.md shows the table
and the DuckDB queries over the Parquet files themselves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.metric_registry import HEADLINE, fmt

__all__ = ["FIGURES", "STATS", "Gathered", "gather", "main", "run_rows"]

# metrics whose P50 and mean each row carries by default: the registry's headline four and the
# money and customers a revenue leader asks for first (`--metrics` chooses others, or `all`)
FIGURES = (*HEADLINE, "bookings", "arr_end", "new_customers", "sm_cost")
STATS = ("p50", "mean")
# the file each kind of run writes last (its presence marks the run finished), most specific first
MARKERS = ("rolling_backtest.json", "backtest.json", "fit.json", "summary.json")
# the first columns, in this order; the figures follow
FRONT = (
    "folder", "kind", "sweep", "time", "scenario", "baseline", "seed", "replications",
    "horizon_days", "warmup_days", "start_date", "company", "motion", "experiment", "data",
    "cutoff", "team.ae.count", "team.sdr.count", "channels.budget_month", "overrides",
    "scenario_overrides",
)  # fmt: skip


@dataclass(frozen=True)
class Gathered:
    """The table (a row per run and scenario) and the folders left out, each with its reason."""

    runs: pd.DataFrame
    skipped: list[tuple[str, str]]


class _Unfinished(Exception):
    """A folder with a finished run's file that is not one (the reason is the message)."""


def _json(path: Path) -> dict:
    with path.open() as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None  # the run's record is missing or damaged: its setup columns stay empty


def _get(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _setup(folder: Path) -> dict[str, Any]:
    """The setup columns from the run's own record in `.hydra/` (empty where it is missing)."""
    cfg = _yaml(folder / ".hydra" / "config.yaml")
    cfg = cfg if isinstance(cfg, dict) else {}
    hyd = _yaml(folder / ".hydra" / "hydra.yaml")
    choices = _get(hyd, "hydra.runtime.choices") or {}
    overrides = _yaml(folder / ".hydra" / "overrides.yaml")
    budgets = [
        c.get("budget_month")
        for c in (cfg.get("channels") or {}).values()
        if isinstance(c, dict) and isinstance(c.get("budget_month"), int | float)
    ]
    return {
        "company": choices.get("company"),
        "motion": choices.get("motion"),
        "experiment": choices.get("experiment"),
        "data": _get(cfg, "data.name"),
        "team.ae.count": _get(cfg, "team.ae.count"),
        "team.sdr.count": _get(cfg, "team.sdr.count"),
        "channels.budget_month": float(sum(budgets)) if budgets else None,
        "overrides": " ".join(map(str, overrides)) if isinstance(overrides, list) else None,
        "_cfg": cfg,
        "_multirun": _get(hyd, "hydra.mode") == "MULTIRUN",
    }


def _figures(metrics: dict, names: Iterable[str] | None) -> dict[str, Any]:
    """`<metric>.p50` and `<metric>.mean` of each metric in `names` (every metric when None)."""
    out = {}
    for m in metrics if names is None else names:
        stats = metrics.get(m)
        if isinstance(stats, dict):
            for st in STATS:
                out[f"{m}.{st}"] = stats.get(st)
    return out


def _summary_rows(folder: Path, setup: dict, names: tuple[str, ...] | None) -> list[dict]:
    summary = _json(folder / "summary.json")
    scenarios = summary.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        raise ValueError("summary.json has no scenarios")
    cfg = setup["_cfg"]
    if "capacity_plan" in summary:
        kind = "capacity_plan"
    elif "sensitivity" in summary:
        kind = "sensitivity"
    elif "comparisons" in summary:
        kind = "compare"
    elif setup["_multirun"] or (folder / "job.json").exists():
        kind = "sweep_job"
    else:
        kind = "run"
    base = summary.get("baseline")
    per_scenario = _get(cfg, "compare.scenarios") or {}
    rows = []
    for name, scen in scenarios.items():
        diffs = (summary.get("comparisons") or {}).get(f"{name} vs {base}") or {}
        own = per_scenario.get(name)
        rows.append(
            {
                "kind": kind,
                "scenario": name,
                "baseline": base,
                "seed": summary.get("seed"),
                "replications": scen.get("replications"),
                "horizon_days": scen.get("horizon_days"),
                "warmup_days": scen.get("warmup_days"),
                "start_date": scen.get("start_date"),
                "scenario_overrides": " ".join(map(str, own)) if own else None,
                **_figures(scen.get("metrics") or {}, names),
                **{
                    f"vs_baseline.{m}.{st}": (diffs.get(m) or {}).get(st)
                    for m in (FIGURES if names is None else names)
                    if diffs
                    for st in ("diff_mean", "ci95_low", "ci95_high")
                },
            }
        )
    return rows


def _calibration_rows(folder: Path, marker: str, setup: dict) -> list[dict]:
    cfg = setup["_cfg"]
    fit = _json(folder / "fit.json") if (folder / "fit.json").exists() else {}
    segs = [s for s in (fit.get("segments") or {}).values() if isinstance(s, dict)]
    won = sum(s.get("won", 0) for s in segs)
    lost = sum(s.get("lost", 0) for s in segs)
    row: dict[str, Any] = {
        "kind": {"fit.json": "calibration", "backtest.json": "backtest"}.get(
            marker, "rolling_backtest"
        ),
        "scenario": fit.get("data") or setup["data"],
        "seed": cfg.get("seed"),
        "cutoff": fit.get("cutoff"),
        "fit.deals": sum(s.get("deals", 0) for s in segs) if segs else None,
        "fit.win_rate": won / (won + lost) if won + lost else None,
    }
    if marker == "fit.json":
        row["replications"] = _get(cfg, "check.replications")
        return [row]
    row["replications"] = _get(cfg, "backtest.replications")
    bt = _json(folder / marker)
    row["horizon_days"] = bt.get("horizon_days")
    for m, e in (bt.get("metrics") or {}).items():
        if not isinstance(e, dict):
            continue
        if marker == "backtest.json":
            row["cutoff"] = bt.get("cutoff")
            for st in ("actual", "p50", "covered", "crps"):
                row[f"{m}.{st}"] = e.get(st)
            row[f"{m}.skill"] = _get(bt, f"skill.{m}.skill")
        else:
            cutoffs = bt.get("cutoffs") or []
            row["cutoff"] = f"{cutoffs[0]} .. {cutoffs[-1]}" if cutoffs else None
            row[f"{m}.coverage"] = e.get("coverage")
            row[f"{m}.crps"] = _get(e, "forecasts.simulator.crps")
            row[f"{m}.skill"] = _get(e, "skill.skill")
    return [row]


def run_rows(folder: Path, names: tuple[str, ...] | None = FIGURES) -> list[dict] | None:
    """The rows of one run folder (None if it holds no finished run). Raises on a damaged file."""
    marker = next((m for m in MARKERS if (folder / m).is_file()), None)
    if marker is None:
        return None
    setup = _setup(folder)
    if marker == "summary.json" and setup["_multirun"] and not (folder / "job.json").is_file():
        # a sweep job writes job.json after its summary: without it the job did not finish (the
        # sweep table, sim/sweep.py, counts it incomplete too)
        raise _Unfinished("unfinished sweep job: summary.json without job.json")
    if marker == "summary.json":
        rows = _summary_rows(folder, setup, names)
    else:
        rows = _calibration_rows(folder, marker, setup)
    when = dt.datetime.fromtimestamp((folder / marker).stat().st_mtime, dt.UTC)
    keep = {k: v for k, v in setup.items() if not k.startswith("_")}
    return [{**keep, "time": pd.Timestamp(when), **r} for r in rows]


def _why_not(folder: Path) -> str | None:
    """Why a folder that looks like the start of a run holds none (None: it is not a run at all)."""
    failure = folder / "failure.json"
    if failure.is_file():
        try:
            error = str(_json(failure).get("error", "")).splitlines()[0]
        except (OSError, ValueError, IndexError):
            error = "(failure.json unreadable)"
        return f"failed: {error}"
    if (folder / ".hydra").is_dir():
        return (
            "unfinished: no summary.json, fit.json or backtest.json "
            "(the run stopped, failed, or is still running)"
        )
    return None


def gather(root: str | Path, names: tuple[str, ...] | None = FIGURES) -> Gathered:
    """Every finished run under `root` (a row per run and scenario, sorted by folder) and the
    folders skipped, with reasons. Never raises for a bad folder. `names`: the metrics whose P50
    and mean are columns (None: every metric of the summaries)."""
    root = Path(root)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    sweeps: set[Path] = set()

    def rel(p: Path) -> str:
        return "." if p == root else p.relative_to(root).as_posix()

    def onerror(exc: OSError) -> None:
        skipped.append((str(exc.filename), f"cannot be read: {exc.strerror}"))

    for here, dirs, files in os.walk(root, onerror=onerror):
        folder = Path(here)
        for d in sorted(dirs):
            if d.startswith(".") and ".partial" in d:
                skipped.append((rel(folder / d), "staging folder of a run in progress or stopped"))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "multirun.yaml" in files or any(f.startswith("sweep_summary.") for f in files):
            sweeps.add(folder)
        try:
            found = run_rows(folder, names)
        except Exception as exc:  # any damage to one folder's files costs that folder only
            bad = next((m for m in MARKERS if (folder / m).is_file()), "a file")
            why = (
                str(exc)
                if isinstance(exc, _Unfinished)
                else (f"{bad} unreadable: {type(exc).__name__}: {exc}")
            )
            skipped.append((rel(folder), why))
            dirs[:] = []
            continue
        if found is None:
            why = _why_not(folder)
            if why is not None:
                skipped.append((rel(folder), why))
            continue
        dirs[:] = []  # a run's own subfolders (a rolling backtest's cutoffs) are part of it
        sweep = next((s for s in sweeps if s in folder.parents), None)
        for r in found:
            r["folder"] = rel(folder)
            r["sweep"] = None if sweep is None else rel(sweep)
            if r["sweep"] is not None and r["kind"] == "run":
                r["kind"] = "sweep_job"
        rows += found
    return Gathered(_table(rows), skipped)


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=list(FRONT))
    front = [c for c in FRONT if c in table]
    table = table[front + [c for c in table.columns if c not in FRONT]]
    table = table.sort_values(["folder"], kind="stable").reset_index(drop=True)
    for c in table.columns:  # one type per column, so Parquet and DuckDB read it cleanly
        if c == "time":
            continue
        col = table[c]
        if col.dropna().map(lambda v: isinstance(v, bool)).all() and col.notna().any():
            table[c] = col.astype("boolean")
        elif col.dropna().map(lambda v: isinstance(v, int)).all() and col.notna().any():
            table[c] = col.astype("Int64")  # counts stay integers beside runs that lack them
        elif col.dropna().map(lambda v: isinstance(v, int | float)).all() and col.notna().any():
            table[c] = pd.to_numeric(col)
        else:
            table[c] = col.map(lambda v: None if _missing(v) else str(v)).astype("string")
    return table


def _money_to_cents(table: pd.DataFrame) -> pd.DataFrame:
    """Money columns rounded to cents for the CSV, as every CSV salesim writes (the Parquet table
    keeps full precision): a metric's figure or difference whose registry format is money."""
    money = [
        c
        for c in table.columns
        if pd.api.types.is_float_dtype(table[c])
        and (c == "channels.budget_month" or fmt(c.removeprefix("vs_baseline.")) == "money")
    ]
    return table.assign(**{c: table[c].round(2) for c in money})


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, list | dict) and bool(pd.isna(v)))


def _metrics_arg(value: str) -> tuple[str, ...] | None:
    if value == "all":
        return None
    names = tuple(m.strip() for m in value.split(",") if m.strip())
    if not names:
        raise argparse.ArgumentTypeError("give metric names separated by commas, or all")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salesim-results",
        description="Gather every run under a results folder into one table (docs/results.md).",
    )
    parser.add_argument("results_dir", nargs="?", default="results", help="default: results")
    parser.add_argument(
        "--out", help="write the table here (.parquet or .csv); default: print an overview"
    )
    parser.add_argument(
        "--metrics",
        type=_metrics_arg,
        default=FIGURES,
        help=f"metrics whose P50 and mean are columns, comma-separated, or all "
        f"(default: {','.join(FIGURES)})",
    )
    args = parser.parse_args(argv)
    root = Path(args.results_dir)
    if not root.is_dir():
        parser.error(f"results_dir = {str(root)!r}: no such folder")  # exits 2
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        parser.error(f"--out = {args.out!r}: allowed are a .parquet or .csv file name")
    res = gather(root, args.metrics)
    for folder, why in res.skipped:
        print(f"skipped {folder}: {why}", file=sys.stderr)
    table = res.runs
    if out is None:
        shown = [c for c in ("folder", "kind", "scenario", "seed", "replications") if c in table]
        shown += [f"{m}.p50" for m in HEADLINE if f"{m}.p50" in table]
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table[shown].to_string(index=False) if len(table) else "no runs found")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        if out.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            _money_to_cents(table).to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(out)
    print(
        f"{len(table)} row(s) from {table['folder'].nunique() if len(table) else 0} run(s)"
        f" under {root}, {len(res.skipped)} folder(s) skipped" + (f"; table: {out}" if out else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
