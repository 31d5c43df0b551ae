"""Backtest the calibrated forecast against what the CRM file says really happened.

At a cutoff date the fit sees only what was known then (sim.calibrate.fit: deals closed by the cutoff
are history, later outcomes are censored). Deals created by the cutoff and not closed by it are the
open pipeline: they start the simulation in their deal stage with their age (`open_pipeline`, see
sim.open_pipeline), and new deals arrive at the fitted rates. salesim simulates the horizon, the days
(cutoff, cutoff + horizon_days], many times; what it says is won is scored against what the file
records, next to four naive forecasts (sim.calibrate.baselines), all by the same scores
(sim.calibrate.scoring: coverage of P10-P90 and P5-P95, pinball loss, CRPS, MAE/MAPE, and the
simulator's skill against the best naive).

Config keys (the `backtest` block of configs/calibrate.yaml):
  cutoff: YYYY-MM-DD         one backtest at this date
  horizon_days: 90           the days simulated and compared after each cutoff
  cutoffs: [YYYY-MM-DD, ...] rolling origin: these cutoffs ...
  rolling: {first: YYYY-MM-DD, step_days: 30, count: 6}   ... or evenly spaced ones
  replications: 200          simulated futures per cutoff
  workers: 1                 processes for the replications
  parameter_draws: 10        blocks of replications with parameters refitted on a bootstrap
                             resample of the deals (sim.calibrate.uncertainty); 0: off
  cluster_days: 7            the outcome refits resample creation cohorts of this many days; 0: deals
  future_cohorts: true       the draws are predictive: the horizon's own cohorts differ as cohorts do

Outputs: backtest.json (one cutoff: the simulator's percentiles P5..P95 and scores, each naive
forecast's, the skill), backtest.csv (a row per metric and forecast), backtest_monthly.csv and
backtest.png (band against actuals by month), backtest_open_pipeline.csv (the warm-start rows), and
the fit at the cutoff (fit.json, report.md, calibrated.yaml: sim.calibrate.report's writers);
rolling: rolling_backtest.json / .csv / .md, rolling_backtest.png and rolling_scores.png, plus each
cutoff's files under rolling/<cutoff>/.
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
import yaml
from omegaconf import DictConfig, OmegaConf

from sim import html_report
from sim.calibrate import baselines, report, scoring, uncertainty
from sim.calibrate.backtest_plots import band_by_month, rolling_plot, scores_plot
from sim.calibrate.fit import FitError, fit
from sim.calibrate.options import fit_options
from sim.calibrate.uncertainty import block_of
from sim.config import ConfigError, load_scenario
from sim.metrics import closed_in, cycle_days
from sim.model import simulate_replication
from sim.money import amount
from sim.open_pipeline import SOURCE
from sim.records import NEW, WON
from sim.stats import strict

LABELS = {"won_deals": "won deals", "won_value": "won value"}
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
    cluster_days: int = 0  # the draws resample creation cohorts of this many days; 0: deals
    future_cohorts: bool = False  # predictive cohort draws for the horizon (uncertainty.draw)


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
    cluster = _int("backtest.cluster_days", _get(b, "cluster_days", 0), 0)
    future = _get(b, "future_cohorts", False)
    if not isinstance(future, bool):
        raise BacktestError(f"config error: backtest.future_cohorts = {future!r}: true or false")
    return Settings(
        tuple(sorted(cutoffs)), horizon, reps, workers, single is None, stale_after, draws, cluster,
        future,
    )  # fmt: skip


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
        future = float(s.horizon_days) if s.future_cohorts else 0.0
        blocks = uncertainty.draws(cal, s.parameter_draws, seed, s.workers, s.cluster_days, future)
        sc[BLOCKS] = [at_cutoff(c) for c in blocks]
    return sc


def _months(cutoff: pd.Timestamp, horizon_days: int) -> pd.PeriodIndex:
    first = (cutoff + pd.Timedelta(days=1)).to_period("M")
    last = (cutoff + pd.Timedelta(days=horizon_days)).to_period("M")
    return pd.period_range(first, last, freq="M")


def _one_replication(args) -> np.ndarray:
    """Won deals, won value and won deals from the open pipeline per calendar month of the horizon
    in replication r: shape (3, months)."""

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


def _csv(df: pd.DataFrame, path: Path) -> None:
    """A backtest table as CSV with floats to 4 decimals (counts, amounts and scores: 671.1, not
    671.1000000000001); the JSON files keep full precision."""
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    df.assign(**{c: df[c].round(4) for c in floats}).to_csv(path, index=False, lineterminator="\n")


def _json(obj: Any) -> str:
    return json.dumps(strict(obj), indent=2, allow_nan=False) + "\n"


def band(x: np.ndarray) -> dict[str, float]:
    """P5, P10, P50, P90 and P95 of the samples."""
    return scoring.percentiles(x)


def metric_entry(actual: float, sims: np.ndarray) -> dict[str, Any]:
    """The simulator's entry for one metric at one cutoff: {"actual", "p5", "p10", "p50", "p90",
    "p95", "covered", "covered_90", "pinball_p10", ..., "crps", "abs_error"} (sim.calibrate.scoring):
    covered is P10 <= actual <= P90, covered_90 is P5 <= actual <= P95."""
    return scoring.score(sims, actual)


def naive_entries(naive: dict[str, baselines.Naive], actual: dict[str, float], metrics) -> dict:
    """Each naive forecast's scores per metric, or why it is unavailable."""
    out = {}
    for name, f in naive.items():
        e: dict[str, Any] = {"label": f.label, "kind": f.kind, "available": f.available}
        if f.available:
            e["metrics"] = {
                m: {"point": f.point[m], **scoring.score(f.samples[m], actual[m])} for m in metrics
            }
        else:
            e["why"] = f.why
        out[name] = e
    return out


def best_naive(crps: dict[str, float]) -> str | None:
    """The naive forecast with the lowest CRPS (None when none is available)."""
    ok = {n: v for n, v in crps.items() if v is not None and np.isfinite(v)}
    return min(ok, key=ok.get) if ok else None


def skill_entry(sim_crps: float, naive_crps: dict[str, float]) -> dict[str, Any]:
    """{"against": the best naive, "crps_best_naive", "skill": 1 - CRPS_sim / CRPS_best_naive}."""
    best = best_naive(naive_crps)
    ref = naive_crps[best] if best else math.nan
    return {"against": best, "crps_best_naive": ref, "skill": scoring.skill(sim_crps, ref)}


def monthly_actuals(opp: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> np.ndarray:
    """(2, months) what the file records as won per calendar month of the horizon."""
    months = _months(cutoff, horizon_days)
    won = baselines.won_between(opp, cutoff, cutoff + pd.Timedelta(days=horizon_days))
    idx = months.get_indexer(won["close_date"].dt.to_period("M"))
    out = np.zeros((2, len(months)))
    np.add.at(out[0], idx, 1.0)
    np.add.at(out[1], idx, won["amount"].fillna(0.0).to_numpy(dtype=float))
    return out


SCORE_COLUMNS = (
    "actual", "point", "p5", "p10", "p50", "p90", "p95", "covered", "covered_90",
    "pinball_p10", "pinball_p50", "pinball_p90", "crps", "abs_error",
)  # fmt: skip


def score_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric and forecast (the simulator first): the long table of backtest.csv and
    rolling_backtest.csv. A naive forecast the history cannot give has a row with available False."""
    rows = []
    for m, e in result["metrics"].items():
        rows.append(
            {"cutoff": result["cutoff"], "metric": m, "forecast": "simulator", "kind": "samples",
             "available": True, **{k: e.get(k, e["p50"] if k == "point" else None)
                                   for k in SCORE_COLUMNS}}
        )  # fmt: skip
        for name, n in result["naive"].items():
            ne = n["metrics"][m] if n["available"] else {}
            rows.append(
                {"cutoff": result["cutoff"], "metric": m, "forecast": name, "kind": n["kind"],
                 "available": n["available"],
                 **{k: ne.get(k, e["actual"] if k == "actual" else None) for k in SCORE_COLUMNS}}
            )  # fmt: skip
    return rows


def write_fit(crm, cal, outdir: Path, shown: Path, verdict: str = "") -> None:
    """The fit at this cutoff as the calibration writes it (sim.calibrate.report): fit.json,
    report.md with its three figures, and calibrated.yaml (experiment/calibrated.yaml), so a bad
    forecast can be explained and the cutoff's scenario rerun. `shown`: the folder as the report
    names it (the published one, not a staging folder)."""
    scenario = cal.scenario()
    (outdir / "experiment").mkdir(parents=True, exist_ok=True)
    scenario_yaml = yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True)
    (outdir / "calibrated.yaml").write_text(
        "# The calibrated scenario at this backtest cutoff (plain).\n" + scenario_yaml
    )
    (outdir / "experiment" / "calibrated.yaml").write_text(report.preset_yaml(scenario))
    report.plot_cycle_times(cal, outdir / "cycle_times.png")
    report.plot_win_rates(cal, outdir / "win_rates.png")
    report.plot_arrivals(cal, outdir / "arrivals.png")
    text = report.report_md(crm, cal, None, shown)
    (outdir / "report.md").write_text(text)
    if verdict:  # the backtest's own score and figure, then the fit at the cutoff
        text = verdict + "\n" + text.replace("# Calibration:", "## Calibration at the cutoff:", 1)
    html_report.write(outdir, text, first=() if verdict else report.VERDICTS, config=scenario_yaml)
    (outdir / "fit.json").write_text(json.dumps(report.fit_json(crm, cal, None), indent=2) + "\n")


def backtest_one(
    crm, cfg: Any, cutoff: pd.Timestamp, s: Settings, outdir: Path, shown: Path | None = None
) -> dict[str, Any]:
    """Fit at the cutoff, simulate the horizon, score it and the naive forecasts; write this
    cutoff's files into outdir (`shown`: the folder's published name, for report.md)."""
    cal = fit_at(crm, cfg, cutoff)
    stale = stale_limit(crm.opportunities, cutoff, s)
    rows, left_out = open_pipeline(crm, cal, cutoff, stale)
    seed = int(_get(cfg, "seed", 42))
    sims = simulate(scenario_at(cal, rows, cutoff, s, seed), cutoff, s)
    actual_m = monthly_actuals(crm.opportunities, cutoff, s.horizon_days)
    metrics = ["won_deals", "won_value"] if has_values(crm) else ["won_deals"]
    actual = {m: float(actual_m[i].sum()) for i, m in enumerate(("won_deals", "won_value"))}
    naive = baselines.forecasts(
        crm.opportunities, cutoff, s.horizon_days, recorded_from=crm.closes_from, seed=seed
    )
    result = {
        "cutoff": str(cutoff.date()),
        "horizon_days": s.horizon_days,
        "metrics": {
            m: metric_entry(actual[m], sims[:, i, :].sum(axis=1))
            for i, m in enumerate(("won_deals", "won_value"))
            if m in metrics
        },
    }
    result["naive"] = naive_entries(naive, actual, metrics)
    result["skill"] = {
        m: skill_entry(
            result["metrics"][m]["crps"],
            {
                n: e["metrics"][m]["crps"] if e["available"] else None
                for n, e in result["naive"].items()
            },
        )
        for m in metrics
    }
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "backtest.json").write_text(_json(result))
    table = pd.DataFrame(score_rows(result))
    _csv(table, outdir / "backtest.csv")
    months = _months(cutoff, s.horizon_days)
    monthly = []
    for i, m in enumerate(("won_deals", "won_value")):
        if m not in metrics:
            continue
        for j, mo in enumerate(months):
            monthly.append(
                {"month": str(mo), "metric": m, "actual": actual_m[i, j], **band(sims[:, i, j])}
            )
    _csv(pd.DataFrame(monthly), outdir / "backtest_monthly.csv")
    _csv(rows, outdir / "backtest_open_pipeline.csv")

    band_by_month(pd.DataFrame(monthly), result, crm.name, outdir / "backtest.png")
    one = {
        "result": result,
        "table": table,
        "open_deals": len(rows),
        "left_out": left_out,
        "stale_after_days": stale,
        "from_pipeline": band(sims[:, 2, :].sum(axis=1)),
    }
    write_fit(crm, cal, outdir, shown or outdir, verdict=verdict_md(one, crm.name))
    return one


def verdict_md(one: dict[str, Any], name: str) -> str:
    """The head of a cutoff's report.html: what was forecast, what happened, each forecast's
    scores per metric (the terminal's lines as tables) and the band-by-month figure."""
    r, out = one["result"], one["left_out"]
    lines = [
        f"# Backtest of {name} at {r['cutoff']}, horizon {r['horizon_days']} days",
        "",
        f"{one['open_deals']} open deals warm-started ({out['stale']} open longer than "
        f"{one['stale_after_days']:.0f} days left out as stale, {out['unknown_segment']} of "
        "segments the fit does not know). Scores: lower pinball loss and CRPS are better; the "
        "simulator's skill is 1 - CRPS_sim / CRPS_naive against the best naive forecast "
        "(docs/calibration.md).",
    ]
    for m, e in r["metrics"].items():
        f = _fmt(m == "won_value")
        lines += [
            "",
            f"## Backtest: {LABELS[m]} (actual "
            + (amount(e["actual"]) if m == "won_value" else f"{e['actual']:,.0f}")
            + ")",
            "",
            "| forecast | P50 | P10 .. P90 | inside P10-P90 | inside P5-P95 | pinball P10 | "
            "pinball P50 | pinball P90 | CRPS |",
            "|---|---:|---|---|---|---:|---:|---:|---:|",
        ]
        entries = [("simulator", e)] + [
            (n, ne["metrics"][m] if ne["available"] else None) for n, ne in r["naive"].items()
        ]
        missing = []
        for n, sc in entries:
            label = "**simulator**" if n == "simulator" else FORECAST_LABELS[n]
            if sc is None:
                missing.append(f"- {label}: not available ({r['naive'][n]['why']})")
                lines.append(f"| {label} |" + " n/a |" * 8)
                continue
            lines.append(
                f"| {label} | {f(sc['p50'])} | {f(sc['p10'])} .. {f(sc['p90'])} | "
                f"{'yes' if sc['covered'] else 'no'} | {'yes' if sc['covered_90'] else 'no'} | "
                + " | ".join(f(sc[f"pinball_p{q}"]) for q in scoring.PINBALL)
                + f" | {f(sc['crps'])} |"
            )
        lines += ["", *missing] if missing else []
        sk = r["skill"][m]
        if sk["against"]:
            lines += [
                "",
                f"Skill against {FORECAST_LABELS[sk['against']]}: **{sk['skill']:+.2f}** "
                + ("(the simulator beats it)" if sk["skill"] > 0 else "(does not beat it)"),
            ]
    return "\n".join([*lines, "", "![forecast band and actuals by month](backtest.png)", ""])


# -- rolling origin -------------------------------------------------------------------------------------
FORECASTS = ("simulator", *baselines.NAIVE_LABELS)
FORECAST_LABELS = {"simulator": "simulator", **baselines.NAIVE_LABELS}


def rolling_summary(rows: pd.DataFrame, horizon_days: int) -> dict[str, Any]:
    """Per metric and forecast, over the cutoffs where the forecast is available: coverage of
    P10-P90 and P5-P95, mean pinball loss at P10/P50/P90, mean CRPS, and MAE/MAPE/bias of its point
    (the simulator's P50, a naive forecast's own number); and the simulator's skill against the
    naive forecast with the lowest mean CRPS among those available at every cutoff."""
    out: dict[str, Any] = {"horizon_days": horizon_days, "cutoffs": sorted(rows["cutoff"].unique())}
    metrics = {}
    for m, g in rows.groupby("metric", sort=False):
        n_cut = g["cutoff"].nunique()
        per: dict[str, Any] = {}
        for f, h in g.groupby("forecast", sort=False):
            h = h[h["available"].astype(bool)]
            e: dict[str, Any] = {"label": FORECAST_LABELS.get(f, f), "n": len(h)}
            if len(h):
                a = h["actual"].to_numpy(dtype=float)
                e.update(
                    {
                        "covered": int(h["covered"].astype(bool).sum()),
                        "coverage": float(h["covered"].astype(bool).mean()),
                        "covered_90": int(h["covered_90"].astype(bool).sum()),
                        "coverage_90": float(h["covered_90"].astype(bool).mean()),
                        **{
                            f"pinball_p{q}": float(h[f"pinball_p{q}"].mean())
                            for q in scoring.PINBALL
                        },
                        "crps": float(h["crps"].mean()),
                        **scoring.errors(h["point"].to_numpy(dtype=float), a),
                    }
                )
            per[f] = e
        sim = per["simulator"]
        eligible = {
            f: e["crps"] for f, e in per.items() if f != "simulator" and e["n"] == n_cut and e["n"]
        }
        metrics[m] = {
            "n": n_cut,
            "coverage": sim["coverage"],
            "covered": sim["covered"],
            "coverage_90": sim["coverage_90"],
            "covered_90": sim["covered_90"],
            "forecasts": per,
            "skill": skill_entry(sim["crps"], eligible),
        }
    out["metrics"] = metrics
    return out


def _fmt(money: bool):
    return amount if money else (lambda v: f"{v:,.1f}")


def markdown(summary: dict[str, Any], name: str) -> str:
    """The rolling tables: per metric, every forecast's coverage, pinball loss, CRPS and error of
    its point, and the simulator's skill against the best naive forecast."""
    lines = [
        f"Rolling backtest of {name}: {len(summary['cutoffs'])} cutoffs "
        f"({summary['cutoffs'][0]} .. {summary['cutoffs'][-1]}), horizon {summary['horizon_days']} days",
    ]
    for m, e in summary["metrics"].items():
        f = _fmt(m == "won_value")
        lines += [
            "",
            f"**{LABELS.get(m, m)}**",
            "",
            "| forecast | P10-P90 coverage | P5-P95 coverage | pinball P10 | pinball P50 | "
            "pinball P90 | CRPS | point: MAE (MAPE, bias) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for fc, s in e["forecasts"].items():
            label = s["label"] + (f" ({s['n']} of {e['n']} cutoffs)" if s["n"] < e["n"] else "")
            if not s["n"]:
                lines.append(f"| {label} | n/a | n/a | n/a | n/a | n/a | n/a | not available |")
                continue
            mape = "n/a" if not np.isfinite(s["mape"]) else f"{s['mape']:.0%}"
            bias = f"{'+' if s['bias'] >= 0 else '-'}{f(abs(s['bias']))}"
            lines.append(
                f"| {'**simulator**' if fc == 'simulator' else label} | "
                f"{s['covered']}/{s['n']} ({s['coverage']:.0%}) | "
                f"{s['covered_90']}/{s['n']} ({s['coverage_90']:.0%}) | "
                + " | ".join(f(s[f"pinball_p{q}"]) for q in scoring.PINBALL)
                + f" | {f(s['crps'])} | {f(s['mae'])} ({mape}, {bias}) |"
            )
        sk = e["skill"]
        if sk["against"]:
            lines += [
                "",
                f"Skill of the simulator against the best naive forecast "
                f"({FORECAST_LABELS[sk['against']]}, CRPS {f(sk['crps_best_naive'])}): "
                f"1 - CRPS_sim / CRPS_naive = {sk['skill']:+.2f} "
                + ("(beats it)" if sk["skill"] > 0 else "(does not beat it)"),
            ]
    lines += [
        "",
        "Means over the cutoffs. Coverage: share of cutoffs whose actual fell inside the interval "
        "(about 80 % and 90 % when calibrated; a point forecast covers only when exactly right). "
        "Pinball and CRPS: lower is better, in the metric's units; a point forecast's CRPS is its "
        "absolute error. Point: the simulator's P50, a naive forecast's own number.",
    ]
    return "\n".join(lines) + "\n"


def run(
    crm, cfg: Any, outdir: Path | str, published: Path | str | None = None
) -> dict[str, Any] | None:
    """The backtest the config asks for (None when it asks for none); writes its files into outdir.
    `published`: where outdir's files end up when outdir is a staging folder (named in reports)."""
    s = settings(cfg)
    if s is None:
        return None
    check(crm, s)
    outdir = Path(outdir)
    shown = Path(published) if published is not None else outdir
    if not s.rolling:
        one = backtest_one(crm, cfg, s.cutoffs[0], s, outdir, shown)
        print(_terminal_one(one, crm.name))
        return one["result"]
    tables = []
    for c in s.cutoffs:
        sub = Path("rolling") / str(c.date())
        one = backtest_one(crm, cfg, c, s, outdir / sub, shown / sub)
        t = one["table"].copy()
        t["open_deals"] = one["open_deals"]
        t["stale_left_out"] = one["left_out"]["stale"]
        t["pipeline_won_p50"] = one["from_pipeline"]["p50"]
        tables.append(t)
        print(f"  cutoff {c.date()}: " + _line(one["result"]))
    table = pd.concat(tables, ignore_index=True)
    summary = rolling_summary(table, s.horizon_days)
    summary["rows"] = json.loads(table.to_json(orient="records"))
    _csv(table, outdir / "rolling_backtest.csv")
    (outdir / "rolling_backtest.json").write_text(_json(summary))
    text = markdown(summary, crm.name)
    (outdir / "rolling_backtest.md").write_text(text)

    rolling_plot(table, crm.name, s.horizon_days, outdir / "rolling_backtest.png")
    scores_plot(summary, crm.name, outdir / "rolling_scores.png")

    html_report.write(
        outdir,
        f"# Rolling backtest of {crm.name}\n\n{text}\n"
        "![forecasts and actuals by cutoff](rolling_backtest.png)\n\n"
        "![scores by cutoff](rolling_scores.png)\n\n"
        "Each cutoff's own report (its scores and the fit at that date): "
        "`rolling/<cutoff>/report.html`.\n",
    )
    print(text)
    return summary


def _line(result: dict[str, Any]) -> str:
    parts = []
    for m, e in result["metrics"].items():
        f = amount if m == "won_value" else (lambda v: f"{v:,.0f}")
        fs = _fmt(m == "won_value")
        sk = result.get("skill", {}).get(m, {})
        parts.append(
            f"{LABELS[m]} actual {f(e['actual'])}, P50 {f(e['p50'])} "
            f"(P10-P90 {f(e['p10'])}..{f(e['p90'])}) {'covered' if e['covered'] else 'MISSED'}, "
            f"CRPS {fs(e['crps'])}"
            + (
                f" vs {fs(sk['crps_best_naive'])} ({FORECAST_LABELS[sk['against']]})"
                if sk.get("against")
                else ""
            )
        )
    return "; ".join(parts)


def score_table(result: dict[str, Any]) -> str:
    """The single cutoff's scores per metric and forecast, for the terminal."""
    lines = []
    for m, e in result["metrics"].items():
        f = _fmt(m == "won_value")
        lines.append(
            f"  {LABELS[m]} (actual {f(e['actual'])}): forecast: P50 [P10..P90] in80 in90 | "
            "pinball P10/P50/P90 | CRPS"
        )
        entries = [("simulator", e)] + [
            (n, ne["metrics"][m] if ne["available"] else None) for n, ne in result["naive"].items()
        ]
        for n, s in entries:
            label = FORECAST_LABELS[n]
            if s is None:
                lines.append(f"    {label}: not available ({result['naive'][n]['why']})")
                continue
            lines.append(
                f"    {label}: {f(s['p50'])} [{f(s['p10'])}..{f(s['p90'])}] "
                f"{'yes' if s['covered'] else 'no'} {'yes' if s['covered_90'] else 'no'} | "
                + "/".join(f(s[f"pinball_p{q}"]) for q in scoring.PINBALL)
                + f" | {f(s['crps'])}"
            )
        sk = result["skill"][m]
        if sk["against"]:
            lines.append(
                f"    skill against {FORECAST_LABELS[sk['against']]}: {sk['skill']:+.2f} "
                "(1 - CRPS_sim / CRPS_naive; > 0 beats it)"
            )
    return "\n".join(lines)


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
        score_table(r),
    ]
    return "\n".join(lines)
