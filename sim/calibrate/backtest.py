"""Backtest the calibrated forecast against what the CRM file says really happened.

At a cutoff date the fit sees only what was known then (sim.calibrate.fit: deals closed by the cutoff
are history, later outcomes are censored). Deals created by the cutoff and not closed by it are the
open pipeline: they start the simulation in their deal stage with their age (`open_pipeline`, see
sim.open_pipeline), and new deals arrive at the fitted rates. salesim simulates the horizon, the days
(cutoff, cutoff + horizon_days], many times; the P10/P50/P90 of what it says is won are compared with
what the file records, next to two naive forecasts (sim.calibrate.baselines).

Config keys (the `backtest` block of configs/calibrate.yaml):
  cutoff: YYYY-MM-DD         one backtest at this date
  horizon_days: 90           the days simulated and compared after each cutoff
  cutoffs: [YYYY-MM-DD, ...] rolling origin: these cutoffs ...
  rolling: {first: YYYY-MM-DD, step_days: 30, count: 6}   ... or evenly spaced ones
  replications: 200          simulated futures per cutoff
  workers: 1                 processes for the replications
  parameter_draws: 10        blocks of replications with parameters refitted on a bootstrap
                             resample of the deals (sim.calibrate.uncertainty); 0: off

Outputs: backtest.json (one cutoff, in the issue's exact shape), backtest.csv (with the naive
forecasts), backtest_monthly.csv and backtest.png (band against actuals by month),
backtest_open_pipeline.csv (the warm-start rows); rolling: rolling_backtest.json / .csv / .md and
rolling_backtest.png, plus each cutoff's files under rolling/<cutoff>/.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibrate import baselines
from sim.calibrate.options import fit_options
from sim.config import ConfigError
from sim.metrics import closed_in, cycle_days
from sim.open_pipeline import SOURCE
from sim.records import NEW, WON

QUANTILES = (10, 50, 90)
LABELS = {"won_deals": "won deals", "won_value": "won value"}
NAIVE = ("stage_weighted", "last_period")
BLOCKS = "parameter_blocks"  # scenario_at -> simulate: one scenario per parameter draw


class BacktestError(ConfigError):
    """A backtest setting cannot be used with this file (one line naming the key and value)."""


@dataclass(frozen=True)
class Settings:
    cutoffs: tuple[pd.Timestamp, ...]
    horizon_days: int
    replications: int
    workers: int
    rolling: bool
    stale_after: float | None  # None: keep every open deal; nan: auto (the longest close seen)
    parameter_draws: int = 0  # blocks of replications with parameters drawn from the fit; 0: off


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    node = cfg
    for part in key.split("."):
        if node is None:
            return default
        node = node.get(part) if hasattr(node, "get") else getattr(node, part, None)
    return default if node is None else node


def _date(key: str, value: Any) -> pd.Timestamp:
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value)))
    except (ValueError, TypeError):
        raise BacktestError(
            f"config error: {key} = {value!r}: not a date; use YYYY-MM-DD"
        ) from None


def _int(key: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BacktestError(
            f"config error: {key} = {value!r}: a whole number >= {least} is required"
        )
    if value < least:
        raise BacktestError(f"config error: {key} = {value!r}: must be >= {least}")
    return int(value)


def settings(cfg: Any) -> Settings | None:
    """The backtest settings in the calibrate config, or None when no backtest is asked for."""
    b = _get(cfg, "backtest")
    if b is None:
        return None
    single, listed = _get(b, "cutoff"), _get(b, "cutoffs")
    first = _get(b, "rolling.first")
    asked = [k for k, v in (("cutoff", single), ("cutoffs", listed), ("rolling.first", first)) if v]
    if not asked:
        return None
    if len(asked) > 1:
        raise BacktestError(
            f"config error: backtest.{asked[0]} and backtest.{asked[1]} are both set; "
            "give one cutoff, a list of cutoffs, or rolling.first/step_days/count"
        )
    horizon = _int("backtest.horizon_days", _get(b, "horizon_days", 90), 1)
    reps = _int("backtest.replications", _get(b, "replications", 200), 10)
    workers = _int("backtest.workers", _get(b, "workers", 1), 1)
    if single:
        cutoffs = (_date("backtest.cutoff", single),)
    elif listed:
        if isinstance(listed, str) or not hasattr(listed, "__iter__"):
            raise BacktestError(
                f"config error: backtest.cutoffs = {listed!r}: a list of dates, "
                "e.g. backtest.cutoffs=[2017-04-30,2017-05-31]"
            )
        cutoffs = tuple(_date(f"backtest.cutoffs[{i}]", v) for i, v in enumerate(listed))
    else:
        start = _date("backtest.rolling.first", first)
        step = _int("backtest.rolling.step_days", _get(b, "rolling.step_days", 30), 1)
        count = _int("backtest.rolling.count", _get(b, "rolling.count", 6), 1)
        cutoffs = tuple(start + pd.Timedelta(days=step * i) for i in range(count))
    if len(set(cutoffs)) != len(cutoffs):
        raise BacktestError(
            f"config error: backtest cutoffs repeat: {[str(c.date()) for c in cutoffs]}"
        )
    stale = _get(b, "stale_after_days", "auto")
    if str(stale).lower() == "auto":
        stale_after = math.nan
    elif str(stale).lower() in ("off", "none", "false"):
        stale_after = None
    elif isinstance(stale, int | float) and not isinstance(stale, bool) and stale > 0:
        stale_after = float(stale)
    else:
        raise BacktestError(
            f"config error: backtest.stale_after_days = {stale!r}: use auto, off, or a number of days > 0"
        )
    # a block holds at least one replication: more draws than replications are as many
    draws = min(_int("backtest.parameter_draws", _get(b, "parameter_draws", 0), 0), reps)
    return Settings(
        tuple(sorted(cutoffs)), horizon, reps, workers, single is None, stale_after, draws
    )


def known_until(crm) -> tuple[pd.Timestamp, str]:
    """The last day the file can be scored on, and why: its last date, or the last new opportunity
    when new ones stop more than a month before the file's end (olist: MQLs end before the wins do),
    since later wins from deals it never recorded would be missing from the actuals."""
    last_created = crm.opportunities["created_date"].max().normalize()
    if (crm.as_of - last_created).days > 31:
        return last_created, f"the file records no new opportunity after {last_created.date()}"
    return crm.as_of, f"the file ends on {crm.as_of.date()}"


def check(crm, s: Settings) -> None:
    """Every cutoff must have closed history before it and a fully recorded horizon after it."""
    until, why = known_until(crm)
    first_close = crm.opportunities["close_date"].min()
    for c in s.cutoffs:
        end = c + pd.Timedelta(days=s.horizon_days)
        if end > until:
            raise BacktestError(
                f"config error: backtest cutoff {c.date()} + horizon_days {s.horizon_days} ends on "
                f"{end.date()}, after {until.date()} ({why}); use an earlier cutoff or a shorter horizon"
            )
        if pd.isna(first_close) or c <= first_close:
            raise BacktestError(
                f"config error: backtest cutoff {c.date()}: no deal had closed by then "
                f"(the first close in the file is {first_close.date()}); nothing to fit"
            )


def has_values(crm) -> bool:
    """Whether won value can be scored: most won deals carry an amount."""
    won = crm.opportunities[crm.opportunities["outcome"] == "won"]
    return len(won) > 0 and float(won["amount"].notna().mean()) >= 0.5


# -- one cutoff ---------------------------------------------------------------------------------------
def fit_at(crm, cfg: Any, cutoff: pd.Timestamp):
    """The calibration from what was known at `cutoff`, with the app's fit settings (`fit.*`)."""
    from omegaconf import DictConfig, OmegaConf

    from sim.calibrate.fit import FitError, fit

    conf = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    try:
        return fit(crm, cutoff, **fit_options(conf))
    except FitError as exc:  # the data known at this cutoff admit no fit: one line
        raise BacktestError(f"{exc} (cutoff {cutoff.date()})") from None


def stale_limit(opp: pd.DataFrame, cutoff: pd.Timestamp, s: Settings) -> float:
    """Age beyond which an open deal is stale (inf: none): `auto` is the longest time to close of
    any deal closed by the cutoff, since nothing known then ever took longer to close."""
    if s.stale_after is None:
        return math.inf
    if not math.isnan(s.stale_after):
        return s.stale_after
    k = baselines.known_at(opp, cutoff)
    days = np.concatenate([cycle_days(k), cycle_days(k, outcome="lost")])
    return float(np.floor(days).max()) if len(days) else math.nan  # in whole days


def open_pipeline(crm, cal, cutoff: pd.Timestamp, stale: float = math.inf):
    """The deals open at the cutoff as warm-start rows (segment key, stage 'deal', age, amount), and
    what was left out: {'stale': open longer than `stale` days, 'unknown_segment': a segment the fit
    does not know}."""
    k = baselines.known_at(crm.opportunities, cutoff)
    op = k[k["outcome"] == "open"]
    keys = {name: seg.key for name, seg in cal.segments.items()}
    seg = op["segment"].astype(str).map(keys)
    fresh = op["age_days"] <= stale
    known = seg.notna() & fresh
    rows = pd.DataFrame(
        {
            "opportunity_id": op["opportunity_id"].astype(str).to_numpy()[known.to_numpy()],
            "segment": seg[known].to_numpy(),
            "stage": "deal",
            # open through the cutoff day, created on average mid-day: half a day more
            "age_days": op["age_days"][known].to_numpy() + 0.5,
            "amount": op["amount"][known].to_numpy(dtype=float),
        }
    )
    return rows, {"stale": int((~fresh).sum()), "unknown_segment": int((seg.isna() & fresh).sum())}


def scenario_at(cal, rows: pd.DataFrame, cutoff: pd.Timestamp, s: Settings, seed: int) -> dict:
    """The calibrated scenario started on the day after the cutoff with the open pipeline, no warm-up,
    simulating the horizon. With `s.parameter_draws` > 0 it also holds, under BLOCKS, one such
    scenario per draw of the fit's parameters (sim.calibrate.uncertainty), for `simulate`."""
    deals = []
    for r in rows.itertuples(index=False):
        d = {"segment": r.segment, "stage": r.stage, "age_days": float(r.age_days)}
        if np.isfinite(r.amount) and r.amount > 0:
            d["amount"] = float(r.amount)
        deals.append(d)

    def at_cutoff(c) -> dict:
        sc = c.scenario()
        sc.update(
            {
                "start_date": (cutoff + pd.Timedelta(days=1)).date().isoformat(),
                "warmup_days": 0.0,
                "horizon_days": float(s.horizon_days),
                "replications": s.replications,
                "seed": seed,
                "open_pipeline": deals,
            }
        )
        sc["scenario"] = {"name": f"backtest_{cal.name}_{cutoff.date()}"}
        return sc

    sc = at_cutoff(cal)
    if s.parameter_draws > 0:
        from sim.calibrate.uncertainty import draws

        sc[BLOCKS] = [at_cutoff(c) for c in draws(cal, s.parameter_draws, seed, s.workers)]
    return sc


def _months(cutoff: pd.Timestamp, horizon_days: int) -> pd.PeriodIndex:
    first = (cutoff + pd.Timedelta(days=1)).to_period("M")
    last = (cutoff + pd.Timedelta(days=horizon_days)).to_period("M")
    return pd.period_range(first, last, freq="M")


def _one_replication(args) -> np.ndarray:
    """Won deals, won value and won deals from the open pipeline per calendar month of the horizon
    in replication r: shape (3, months)."""
    from sim.model import simulate_replication

    sc, r, start, months = args
    o = simulate_replication(sc, r).columns["opportunities"]
    won = closed_in(o, 0.0, sc.horizon_days) & (o["outcome"] == WON) & (o["type"] == NEW)
    t = o["closed_day"][won]
    day = pd.Timestamp(start) + pd.to_timedelta(np.floor(t), unit="D")
    idx = months.get_indexer(day.to_period("M"))
    out = np.zeros((3, len(months)))
    np.add.at(out[0], idx, 1.0)
    np.add.at(out[1], idx, o["amount"][won])
    warm = o["source"][won] == SOURCE
    np.add.at(out[2], idx[warm], 1.0)
    return out


def simulate(sc_dict: dict, cutoff: pd.Timestamp, s: Settings) -> np.ndarray:
    """(replications, 3, months): won deals, won value, won deals from the open pipeline per month
    of the horizon, in replication order. With parameter draws (`scenario_at`), replication r runs
    the scenario of its block (`uncertainty.block_of`) on its own random streams (seed, r): the same
    streams as without draws, so the two bands compare on common random numbers."""
    from sim.calibrate.uncertainty import block_of
    from sim.config import load_scenario

    sc_dict = dict(sc_dict)
    blocks = sc_dict.pop(BLOCKS, None)
    sc = load_scenario(sc_dict)
    scs = [load_scenario(b) for b in blocks] if blocks else [sc]
    months = _months(cutoff, s.horizon_days)
    n = sc.replications
    jobs = [(scs[block_of(r, n, len(scs))], r, sc.start_date, months) for r in range(n)]
    if s.workers > 1:
        with ProcessPoolExecutor(max_workers=s.workers) as pool:
            res = list(
                pool.map(_one_replication, jobs, chunksize=max(1, len(jobs) // (4 * s.workers)))
            )
    else:
        res = [_one_replication(j) for j in jobs]
    return np.stack(res)


def band(x: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.percentile(x, QUANTILES)
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def metric_entry(actual: float, sims: np.ndarray) -> dict[str, Any]:
    """{"actual", "p10", "p50", "p90", "covered"}: covered is P10 <= actual <= P90."""
    b = band(sims)
    return {"actual": float(actual), **b, "covered": bool(b["p10"] <= actual <= b["p90"])}


def monthly_actuals(opp: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> np.ndarray:
    """(2, months) what the file records as won per calendar month of the horizon."""
    months = _months(cutoff, horizon_days)
    won = baselines.won_between(opp, cutoff, cutoff + pd.Timedelta(days=horizon_days))
    idx = months.get_indexer(won["close_date"].dt.to_period("M"))
    out = np.zeros((2, len(months)))
    np.add.at(out[0], idx, 1.0)
    np.add.at(out[1], idx, won["amount"].fillna(0.0).to_numpy(dtype=float))
    return out


def backtest_one(crm, cfg: Any, cutoff: pd.Timestamp, s: Settings, outdir: Path) -> dict[str, Any]:
    """Fit at the cutoff, simulate the horizon, compare; write this cutoff's files into outdir."""
    cal = fit_at(crm, cfg, cutoff)
    stale = stale_limit(crm.opportunities, cutoff, s)
    rows, left_out = open_pipeline(crm, cal, cutoff, stale)
    seed = int(_get(cfg, "seed", 42))
    sims = simulate(scenario_at(cal, rows, cutoff, s, seed), cutoff, s)
    actual_m = monthly_actuals(crm.opportunities, cutoff, s.horizon_days)
    metrics = ["won_deals", "won_value"] if has_values(crm) else ["won_deals"]
    result = {
        "cutoff": str(cutoff.date()),
        "horizon_days": s.horizon_days,
        "metrics": {
            m: metric_entry(actual_m[i].sum(), sims[:, i, :].sum(axis=1))
            for i, m in enumerate(("won_deals", "won_value"))
            if m in metrics
        },
    }
    naive = {
        "stage_weighted": baselines.stage_weighted(crm.opportunities, cutoff, s.horizon_days),
        "last_period": baselines.same_as_last_period(crm.opportunities, cutoff, s.horizon_days),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "backtest.json").write_text(json.dumps(result, indent=2) + "\n")
    table = pd.DataFrame(
        [
            {"metric": m, **e, **{n: naive[n][m] for n in NAIVE}}
            for m, e in result["metrics"].items()
        ]
    )
    table.insert(0, "cutoff", result["cutoff"])
    table.to_csv(outdir / "backtest.csv", index=False)
    months = _months(cutoff, s.horizon_days)
    monthly = []
    for i, m in enumerate(("won_deals", "won_value")):
        if m not in metrics:
            continue
        for j, mo in enumerate(months):
            monthly.append(
                {"month": str(mo), "metric": m, "actual": actual_m[i, j], **band(sims[:, i, j])}
            )
    pd.DataFrame(monthly).to_csv(outdir / "backtest_monthly.csv", index=False)
    rows.to_csv(outdir / "backtest_open_pipeline.csv", index=False)
    from sim.calibrate.backtest_plots import band_by_month

    band_by_month(pd.DataFrame(monthly), result, crm.name, outdir / "backtest.png")
    return {
        "result": result,
        "naive": naive,
        "open_deals": len(rows),
        "left_out": left_out,
        "stale_after_days": stale,
        "from_pipeline": band(sims[:, 2, :].sum(axis=1)),
    }


# -- rolling origin -------------------------------------------------------------------------------------
def _errors(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    err = pred - actual
    nz = actual != 0
    return {
        "mae": float(np.mean(np.abs(err))),
        "mape": float(np.mean(np.abs(err[nz]) / actual[nz])) if nz.any() else math.nan,
        "bias": float(np.mean(err)),
    }


def rolling_summary(rows: pd.DataFrame, horizon_days: int) -> dict[str, Any]:
    """Coverage of P10-P90 and the error of the median, next to the naive forecasts' errors."""
    out: dict[str, Any] = {"horizon_days": horizon_days, "cutoffs": sorted(rows["cutoff"].unique())}
    metrics = {}
    for m, g in rows.groupby("metric", sort=False):
        a = g["actual"].to_numpy(dtype=float)
        metrics[m] = {
            "n": len(g),
            "coverage": float(g["covered"].mean()),
            "covered": int(g["covered"].sum()),
            "simulator_p50": _errors(g["p50"].to_numpy(dtype=float), a),
            **{n: _errors(g[n].to_numpy(dtype=float), a) for n in NAIVE},
        }
    out["metrics"] = metrics
    return out


def markdown(summary: dict[str, Any], name: str) -> str:
    """The rolling table: coverage, and mean absolute (percentage) error of each forecast."""
    lines = [
        f"Rolling backtest of {name}: {len(summary['cutoffs'])} cutoffs "
        f"({summary['cutoffs'][0]} .. {summary['cutoffs'][-1]}), horizon {summary['horizon_days']} days",
        "",
        "| metric | P10-P90 coverage | simulator P50: MAE (MAPE, bias) | stage-weighted pipeline | same as last period |",
        "|---|---|---|---|---|",
    ]

    def cell(e: dict[str, float], money: bool) -> str:
        f = (lambda v: f"${v:,.0f}") if money else (lambda v: f"{v:,.1f}")
        return (
            f"{f(e['mae'])} ({e['mape']:.0%}, {'+' if e['bias'] >= 0 else '-'}{f(abs(e['bias']))})"
        )

    for m, e in summary["metrics"].items():
        money = m == "won_value"
        lines.append(
            f"| {LABELS.get(m, m)} | {e['covered']}/{e['n']} ({e['coverage']:.0%}) | "
            f"{cell(e['simulator_p50'], money)} | {cell(e['stage_weighted'], money)} | "
            f"{cell(e['last_period'], money)} |"
        )
    return "\n".join(lines) + "\n"


def run(crm, cfg: Any, outdir: Path | str) -> dict[str, Any] | None:
    """The backtest the config asks for (None when it asks for none); writes its files into outdir."""
    s = settings(cfg)
    if s is None:
        return None
    check(crm, s)
    outdir = Path(outdir)
    if not s.rolling:
        one = backtest_one(crm, cfg, s.cutoffs[0], s, outdir)
        print(_terminal_one(one, crm.name))
        return one["result"]
    rows = []
    for c in s.cutoffs:
        one = backtest_one(crm, cfg, c, s, outdir / "rolling" / str(c.date()))
        for m, e in one["result"]["metrics"].items():
            rows.append(
                {
                    "cutoff": str(c.date()),
                    "metric": m,
                    **e,
                    **{n: one["naive"][n][m] for n in NAIVE},
                    "open_deals": one["open_deals"],
                    "stale_left_out": one["left_out"]["stale"],
                    "pipeline_won_p50": one["from_pipeline"]["p50"],
                }
            )
        print(f"  cutoff {c.date()}: " + _line(one["result"]))
    table = pd.DataFrame(rows)
    summary = rolling_summary(table, s.horizon_days)
    summary["rows"] = table.to_dict("records")
    table.to_csv(outdir / "rolling_backtest.csv", index=False)
    (outdir / "rolling_backtest.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(summary, crm.name)
    (outdir / "rolling_backtest.md").write_text(text)
    from sim.calibrate.backtest_plots import rolling_plot

    rolling_plot(table, crm.name, s.horizon_days, outdir / "rolling_backtest.png")
    print(text)
    return summary


def _line(result: dict[str, Any]) -> str:
    parts = []
    for m, e in result["metrics"].items():
        f = (lambda v: f"${v:,.0f}") if m == "won_value" else (lambda v: f"{v:,.0f}")
        parts.append(
            f"{LABELS[m]} actual {f(e['actual'])}, P50 {f(e['p50'])} "
            f"(P10-P90 {f(e['p10'])}..{f(e['p90'])}) {'covered' if e['covered'] else 'MISSED'}"
        )
    return "; ".join(parts)


def _terminal_one(one: dict[str, Any], name: str) -> str:
    r = one["result"]
    out = one["left_out"]
    p = one["from_pipeline"]
    lines = [
        f"backtest of {name} at {r['cutoff']}, horizon {r['horizon_days']} days: "
        f"{one['open_deals']} open deals warm-started ({out['stale']} open longer than "
        f"{one['stale_after_days']:.0f} days left out as stale, {out['unknown_segment']} of segments "
        f"the fit does not know)",
        "  " + _line(r),
        f"  simulated won deals from the open pipeline: P50 {p['p50']:,.0f} "
        f"(P10-P90 {p['p10']:,.0f}..{p['p90']:,.0f})",
    ]
    for n, label in (
        ("stage_weighted", "stage-weighted pipeline"),
        ("last_period", "same as last period"),
    ):
        v = one["naive"][n]
        lines.append(
            f"  naive {label}: "
            + ", ".join(
                f"{LABELS[m]} {v[m]:,.0f}" if m == "won_deals" else f"{LABELS[m]} ${v[m]:,.0f}"
                for m in r["metrics"]
            )
        )
    return "\n".join(lines)
