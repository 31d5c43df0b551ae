"""Optimisation with Optuna's Python API (experiment=optimise_budget, optimise_target; docs/sweeps.md).

A study searches config keys (`optimise.space`) for the best values of one or more objectives: a
metric's statistic over a trial's replications, or the share of replications that reach a value
(P(bookings >= target)). Limits on other metrics (`optimise.constraints`) are given to Optuna as
constraint values, so its samplers rank a trial that breaks them after every trial that keeps them;
a hard monthly budget (`optimise.budget_limit_month`, the channels' budgets added up) is checked
before a trial runs, and a trial over it is not simulated at all. Each trial runs `replications` on
the run's executor (local processes or Ray), with the same seed and replication indices as every
other trial (common random numbers), so two trials differ by their parameters, not by luck.

Single-objective studies may prune: after every `prune_every` replications the partial objective is
reported, and Optuna's median pruner stops a trial below the median of earlier trials at that point.

Reproducible and resumable: the i-th finished trial is proposed by a sampler seeded with (seed, i),
and every result of a trial lives in the study's storage (SQLite in the run folder by default). A
search stopped part-way and run again into the same folder continues where it stopped and ends with
the same trials and the same files as one that never stopped. Trials run one after another (the
parallelism is within a trial, over its replications), which is what makes this hold.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf

from sim import html_report, metric_registry, money, plots
from sim.compose import resolve
from sim.config import (
    ConfigError,
    OptimiseSettings,
    RunSettings,
    Scenario,
    StudyConstraint,
    StudyObjective,
    effective_workers,
)
from sim.executors import map_ordered
from sim.experiment import RunResult, versions
from sim.metrics import scalar_metrics
from sim.model import simulate_replication
from sim.report import format_metric, scenario_yaml, span, summary_json, to_csv
from sim.runfolder import staged
from sim.stats import strict, summarise

__all__ = ["STUDY_FILE", "label", "pareto_mask", "run", "storage_url"]

STUDY_FILE = "study.db"
# proposals over the budget limit are not simulated and do not count as trials; a search proposes
# at most this many times n_trials in all, so a space almost wholly over the limit still ends
MAX_PROPOSALS = 10
WORST = 1e300  # the intermediate value of a trial whose limits are broken so far (pruning)
# run settings that never change results: a study may be resumed with other values of these
NOT_FINGERPRINTED = ("executor", "workers", "progress", "overwrite", "tables")


def label(o: StudyObjective) -> str:
    """An objective's column name: `arr_end.mean`, or `bookings.share_at_least` for P(X >= v)."""
    return f"{o.metric}.share_at_least" if o.at_least is not None else f"{o.metric}.{o.stat}"


def _clabel(c: StudyConstraint) -> str:
    return f"{c.metric}.{c.stat}"


def _describe(o: StudyObjective) -> str:
    what = (
        f"P({o.metric} >= {format_metric(o.metric, o.at_least)})"
        if o.at_least is not None
        else f"{o.stat} of {o.metric}"
    )
    return f"{'maximise' if o.direction == 'maximize' else 'minimise'} {what}"


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "config error: optimise: Optuna is not installed; pip install 'salesim[optimise]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the SQLite storage's migrations
    return optuna


# --- one trial ----------------------------------------------------------------------------------


def _metrics(sc: Scenario, reps: list[int]) -> list[dict[str, float]]:
    """Every scalar metric of each replication (run in a worker: only numbers travel back)."""
    out = []
    for r in reps:
        rec = simulate_replication(sc, r)
        c = sc.costs
        out.append(
            scalar_metrics(
                rec, c.gross_margin, c.overhead, c.known, c.clv_years, c.discount_rate_year
            )
        )
    return out


def objective_value(o: StudyObjective, x: np.ndarray) -> float:
    """The objective over replications `x` (NaN where undefined; a share counts NaN as a miss)."""
    if o.at_least is not None:
        return float(np.mean(np.nan_to_num(x, nan=-np.inf) >= o.at_least)) if len(x) else math.nan
    v = summarise(x).get(o.stat)
    return math.nan if v is None else float(v)


def violation(c: StudyConstraint, v: float) -> float:
    """Optuna's constraint value: <= 0 when the limit holds (minus the relative slack), else the
    relative excess (a payback of 20 months against 18 gives 0.11); 1 when the metric is undefined."""
    if not math.isfinite(v):
        return 1.0
    parts = []
    if c.max is not None:
        parts.append((v - c.max) / max(abs(c.max), 1e-12))
    if c.min is not None:
        parts.append((c.min - v) / max(abs(c.min), 1e-12))
    return max(parts)


@dataclass(frozen=True)
class Outcome:
    """What a trial produced: its state, values (complete only), constraint values and metrics."""

    state: str  # complete | pruned | over_budget
    values: list[float] | None
    constraints: list[float]
    replications: int
    metrics: dict[str, dict]
    total_budget: float


class Study:
    """The study's settings resolved against the run: the base config, the executor, the labels."""

    def __init__(self, cfg: DictConfig, sc: Scenario, rs: RunSettings) -> None:
        assert rs.optimise is not None
        self.cfg, self.sc, self.rs = cfg, sc, rs
        self.st: OptimiseSettings = rs.optimise
        self.workers = effective_workers(sc, rs)
        self.objectives = self.st.objectives
        self.constraints = self.st.constraints
        self.constrained = bool(self.constraints) or self.st.budget_limit_month is not None
        self.constraint_names = [f"{i}:{_clabel(c)}" for i, c in enumerate(self.constraints)]
        if self.st.budget_limit_month is not None:
            self.constraint_names.append("budget_limit_month")
        self.check()

    def check(self) -> None:
        """Every searched key exists and accepts both ends of its range; every metric is known."""
        for key, p in self.st.space.items():
            if OmegaConf.select(self.cfg, key, default=None) is None:
                raise ConfigError(
                    f"config error: optimise.space.{key}: no such key in the config (a scenario key "
                    "such as team.ae.count or channels.<name>.budget_month)"
                )
            for end in (p.low, p.high):
                self.scenario({key: int(end) if p.is_int else float(end)})
        names = [("objectives", i, o.metric) for i, o in enumerate(self.objectives)]
        names += [("constraints", i, c.metric) for i, c in enumerate(self.constraints)]
        for where, i, m in names:
            if m.split(".")[0] not in metric_registry.METRICS:
                raise ConfigError(
                    f"config error: optimise.{where}[{i}].metric = {m!r}: not a metric "
                    "(docs/metrics.md; e.g. arr_end, bookings, sm_cost, cac_payback_months)"
                )

    def scenario(self, params: dict[str, float]) -> Scenario:
        """The run's config with `params` set (before interpolation, so knobs that feed other keys
        work), validated; a rejected value is a one-line ConfigError naming the key."""
        c = copy.deepcopy(self.cfg)
        for key, v in params.items():
            OmegaConf.update(c, key, v, merge=False)
        try:
            sc, _ = resolve(c)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
            raise ConfigError(f"{exc} (optimise.space: a trial with {shown})") from None
        return sc

    def evaluate(self, params: dict[str, float], report: Callable | None) -> Outcome:
        """Run one trial. `report(value, step) -> bool` (pruning) is called after each chunk of
        `prune_every` replications but the last; True stops the trial as pruned."""
        sc = self.scenario(params)
        total = float(sum(ch.budget_month for ch in sc.channels.values()))
        budget = []
        if self.st.budget_limit_month is not None:
            lim = self.st.budget_limit_month
            budget = [(total - lim) / lim]
            if total > lim:  # hard: not simulated; ranked by Optuna by its excess
                cons = [1.0] * len(self.constraints) + budget
                return Outcome("over_budget", None, cons, 0, {}, total)
        n = sc.replications
        stops = list(range(self.st.prune_every, n, self.st.prune_every)) if report else []
        rows: list[dict[str, float]] = []
        start = 0
        for stop in [*stops, n]:
            rows += map_ordered(_metrics, sc, range(start, stop), self.rs.executor, self.workers)
            start = stop
            if stop < n and report is not None:
                values, cons = self.score(rows)
                # a broken limit reports the worst value: finite, so the pruner's percentiles
                # (which interpolate) stay numbers
                bad = -WORST if self.objectives[0].direction == "maximize" else WORST
                partial = values[0] if max(cons, default=0.0) <= 0 else bad
                if report(partial if math.isfinite(partial) else bad, stop):
                    return Outcome("pruned", None, cons + budget, stop, self.summary(rows), total)
        values, cons = self.score(rows)
        return Outcome("complete", values, cons + budget, n, self.summary(rows), total)

    def score(self, rows: list[dict[str, float]]) -> tuple[list[float], list[float]]:
        """The objectives' values and the constraints' values over the replications so far."""

        def col(m: str) -> np.ndarray:
            if m not in rows[0]:
                raise ConfigError(
                    f"config error: optimise: {m!r} is not a metric of this run (docs/metrics.md)"
                )
            return np.array([r[m] for r in rows], dtype=float)

        values = [objective_value(o, col(o.metric)) for o in self.objectives]
        cons = []
        for c in self.constraints:
            v = summarise(col(c.metric)).get(c.stat)
            cons.append(violation(c, math.nan if v is None else float(v)))
        return values, cons

    @staticmethod
    def summary(rows: list[dict[str, float]]) -> dict[str, dict]:
        df = pd.DataFrame(rows)
        return strict({k: summarise(df[k].to_numpy(dtype=float)) for k in df.columns})


# --- the study ----------------------------------------------------------------------------------


def storage_url(st: OptimiseSettings, outdir: Path | None) -> str | None:
    """Where the study lives: `optimise.storage` (a database URL, or a file path for SQLite), by
    default <run folder>/study.db; None (in memory) for an API run that writes no folder."""
    if st.storage is not None:
        if "://" in st.storage:
            return st.storage
        path = Path(st.storage).expanduser().absolute()
    elif outdir is not None:
        path = Path(outdir).absolute() / STUDY_FILE
    else:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"config error: optimise.storage = {str(path)!r}: cannot create its folder "
            f"({exc.strerror}); allowed: a file in a folder you can write to"
        ) from None
    return f"sqlite:///{path}"


def fingerprint(cfg: DictConfig) -> str:
    """SHA-256 of the resolved config less what may change between a run and its resumption
    (`optimise.n_trials`, how the run executes): a study resumes only under the same question."""
    data = OmegaConf.to_container(cfg, resolve=True)
    data = {k: v for k, v in data.items() if k not in NOT_FINGERPRINTED and k != "hydra"}
    data["optimise"] = {k: v for k, v in data["optimise"].items() if k != "n_trials"}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _sampler(
    optuna: Any, st: OptimiseSettings, i: int, constraints_func: Callable | None, skipped: int = 0
) -> Any:
    """The sampler that proposes the i-th finished trial, seeded with (seed, i): the same trial
    whether or not the search was interrupted before it. `skipped` trials over the budget limit
    extend TPE's random start, so it models `n_startup_trials` trials that ran."""
    seed = int(np.random.SeedSequence([st.seed, i]).generate_state(1)[0])
    kw = {"constraints_func": constraints_func} if constraints_func is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if st.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if st.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(
                population_size=st.population_size, seed=seed, **kw
            )
        return optuna.samplers.TPESampler(
            n_startup_trials=st.n_startup_trials + skipped, multivariate=True, seed=seed, **kw
        )


def _distributions(optuna: Any, st: OptimiseSettings) -> dict[str, Any]:
    d = optuna.distributions
    out = {}
    for key, p in st.space.items():
        if p.is_int:
            out[key] = d.IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        else:
            out[key] = d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return out


def _constraints_attr(trial: Any) -> list[float]:
    return list(trial.user_attrs.get("constraints", []))


def search(
    cfg: DictConfig,
    sc: Scenario,
    rs: RunSettings,
    outdir: Path | None,
    say: Callable[[str], None] = print,
) -> tuple[Study, list]:
    """Create or resume the study and run trials until `n_trials` have finished; returns the
    study's settings and its finished trials in order."""
    optuna = _import_optuna()
    study_def = Study(cfg, sc, rs)
    st = study_def.st
    url = storage_url(st, outdir)
    # Optuna 5 takes constraints from the trial (set_constraint); Optuna 4 from the sampler
    native = hasattr(optuna.trial.Trial, "set_constraint")
    cfunc = _constraints_attr if study_def.constrained and not native else None
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=st.prune_startup_trials, n_warmup_steps=0)
        if st.pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=url,
        study_name=sc.scenario.name,
        directions=[o.direction for o in st.objectives],
        sampler=_sampler(optuna, st, 0, cfunc),
        pruner=pruner,
        load_if_exists=True,
    )
    fp = fingerprint(cfg)
    old = study.user_attrs.get("salesim_fingerprint")
    if old is None:
        study.set_user_attr("salesim_fingerprint", fp)
    elif old != fp:
        raise ConfigError(
            f"config error: optimise.storage = {url!r}: its study {sc.scenario.name!r} was run "
            "with another config (search space, objectives, constraints or scenario differ); "
            "choose another run folder or optimise.storage to start a new study"
        )
    TS = optuna.trial.TrialState
    for t in study.get_trials(deepcopy=False, states=(TS.RUNNING, TS.WAITING)):
        study.tell(t.number, state=TS.FAIL)  # stopped by an interrupt: proposed again below
    finished = study.get_trials(deepcopy=False, states=(TS.COMPLETE, TS.PRUNED))
    if finished:
        say(
            f"optimise: resuming study {sc.scenario.name!r} ({len(finished)} proposals done, {url})"
        )
    dists = _distributions(optuna, st)
    done = len(finished)
    over = sum(t.user_attrs.get("status") == "over_budget" for t in finished)
    while done - over < st.n_trials:
        if done >= MAX_PROPOSALS * st.n_trials:
            say(
                f"optimise: stopped after {done} proposals, {over} of them over the budget limit "
                "(optimise.budget_limit_month): narrow the budget ranges or raise the limit"
            )
            break
        study.sampler = _sampler(optuna, st, done, cfunc, over)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = study.ask(fixed_distributions=dists)
        params = {k: trial.params[k] for k in st.space}

        def report(value: float, step: int, trial=trial) -> bool:
            trial.report(value, step)
            return trial.should_prune()

        out = study_def.evaluate(params, report if st.pruning else None)
        trial.set_user_attr("index", done)
        trial.set_user_attr("status", out.state)
        trial.set_user_attr("replications", out.replications)
        trial.set_user_attr("total_budget_month", out.total_budget)
        trial.set_user_attr("metrics", out.metrics)
        if study_def.constrained:
            trial.set_user_attr("constraints", out.constraints)
            if native:
                for name, v in zip(study_def.constraint_names, out.constraints, strict=True):
                    trial.set_constraint(name, v)
        if out.state == "complete":
            study.tell(trial, out.values)
        else:
            study.tell(trial, state=TS.PRUNED)
        over += out.state == "over_budget"
        say(_trial_line(study_def, done, done - over + 1, out, params))
        done += 1
    trials = sorted(
        study.get_trials(deepcopy=False, states=(TS.COMPLETE, TS.PRUNED)),
        key=lambda t: t.user_attrs.get("index", t.number),
    )
    return study_def, trials


def _trial_line(s: Study, i: int, ran: int, out: Outcome, params: dict[str, float]) -> str:
    shown = ", ".join(f"{k.split('.')[-2] if '.' in k else k}={v:g}" for k, v in params.items())
    head = f"trial {i}" + ("" if out.state == "over_budget" else f" [{ran}/{s.st.n_trials}]")
    head += f" ({shown}): "
    if out.state == "over_budget":
        lim = format_metric("sm_cost", s.st.budget_limit_month)
        return (
            head + f"over the budget limit ({format_metric('sm_cost', out.total_budget)} > {lim})"
        )
    if out.state == "pruned":
        return head + f"pruned after {out.replications} replications"
    vals = ", ".join(
        f"{label(o)} {_fmt(o, v)}" for o, v in zip(s.objectives, out.values or [], strict=True)
    )
    ok = max(out.constraints, default=0.0) <= 0
    return head + vals + ("" if not s.constrained else " (feasible)" if ok else " (infeasible)")


def _fmt(o: StudyObjective, v: float) -> str:
    return f"{v:.0%}" if o.at_least is not None else format_metric(o.metric, v)


# --- results ------------------------------------------------------------------------------------


def table(s: Study, trials: list) -> pd.DataFrame:
    """One row per finished trial: its parameters, state, objective and constraint values,
    feasibility, and whether it is the best (one objective) or on the Pareto front (several)."""
    rows = []
    for t in trials:
        a = t.user_attrs
        m = a.get("metrics") or {}
        row: dict[str, Any] = {"trial": a.get("index", t.number), "state": a.get("status")}
        row |= {k: t.params[k] for k in s.st.space}
        row["total_budget_month"] = a.get("total_budget_month")
        row["replications"] = a.get("replications")
        vals = t.values if a.get("status") == "complete" else None
        for j, o in enumerate(s.objectives):
            row[label(o)] = vals[j] if vals is not None else math.nan
        for c in s.constraints:
            v = (m.get(c.metric) or {}).get(c.stat)
            row[_clabel(c)] = math.nan if v is None else v
        cons = a.get("constraints") or []
        row["violation"] = float(sum(max(v, 0.0) for v in cons))
        row["feasible"] = a.get("status") == "complete" and row["violation"] <= 0
        rows.append(row)
    df = pd.DataFrame(rows)
    labels = [label(o) for o in s.objectives]
    if len(s.objectives) == 1:
        df["best"] = False
        b = best_index(df, s)
        if b is not None:
            df.loc[b, "best"] = True
    else:
        df["pareto"] = pareto_mask(df, labels, [o.direction for o in s.objectives])
    return df


def best_index(df: pd.DataFrame, s: Study) -> int | None:
    """Row of the best feasible trial (the first on a tie), or None if no trial is feasible."""
    ok = df[df["feasible"] & df[label(s.objectives[0])].notna()]
    if not len(ok):
        return None
    col = label(s.objectives[0])
    asc = s.objectives[0].direction == "minimize"
    return int(ok.sort_values([col, "trial"], ascending=[asc, True], kind="stable").index[0])


def pareto_mask(df: pd.DataFrame, cols: list[str], directions: list[str]) -> np.ndarray:
    """Feasible trials no other feasible trial beats on every objective (and strictly on one)."""
    ok = df["feasible"].to_numpy(dtype=bool) & df[cols].notna().all(axis=1).to_numpy()
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    x = df[cols].to_numpy(dtype=float) * sign  # every objective to minimise
    mask = np.zeros(len(df), dtype=bool)
    for i in np.flatnonzero(ok):
        others = x[ok]
        dominated = np.any(np.all(others <= x[i], axis=1) & np.any(others < x[i], axis=1))
        mask[i] = not dominated
    return mask


def _params_text(row: pd.Series, s: Study) -> str:
    return ", ".join(f"{k} = {_param_fmt(k, row[k])}" for k in s.st.space)


def _overrides(row: pd.Series, s: Study) -> str:
    """The trial as command-line overrides: `team.ae.count=9 channels.events.budget_month=110000`."""
    return " ".join(
        f"{k}={int(row[k]) if s.st.space[k].is_int or float(row[k]).is_integer() else row[k]}"
        for k in s.st.space
    )


def _param_fmt(key: str, v: float) -> str:
    if key.endswith("budget_month"):
        return money.text(f"{v:,.0f}", False) if abs(v) < 1e6 else format_metric("sm_cost", v)
    return f"{v:g}"


def report_md(s: Study, df: pd.DataFrame, url: str | None, setup: str = "") -> str:
    st, sc = s.st, s.sc
    multi = len(s.objectives) > 1
    lines = ["# Optimisation", ""]
    if setup:
        lines += [setup, ""]
    goal = "; ".join(_describe(o) for o in s.objectives)
    limits = [
        f"{_clabel(c)} "
        + " and ".join(
            f"{op} {format_metric(c.metric, v)}"
            for op, v in (("<=", c.max), (">=", c.min))
            if v is not None
        )
        for c in s.constraints
    ]
    if st.budget_limit_month is not None:
        limits.append(
            f"channels' budgets added up <= {format_metric('sm_cost', st.budget_limit_month)} "
            "a month (hard: a trial over it is not run)"
        )
    n_ok = int(df["feasible"].sum())
    states = df["state"].value_counts()
    lines += [
        f"Objective{'s' if multi else ''}: {goal}. Constraints: "
        + ("; ".join(limits) if limits else "none")
        + ".",
        "",
        f"Search: {len(df)} proposals of Optuna's {st.sampler.upper()} sampler (seed {st.seed}), "
        f"{sc.replications} replications a trial (fewer if pruned) on common random numbers "
        f"(seed {sc.seed}); "
        f"{span(sc.horizon_days)} window after a {span(sc.warmup_days)} warm-up. "
        + ", ".join(
            f"{n} {k.replace('_', ' ')}" + (" (not run)" if k == "over_budget" else "")
            for k, n in states.items()
        )
        + f"; {n_ok} met every constraint.",
        "",
    ]
    space = "; ".join(
        f"{k} from {_param_fmt(k, p.low)} to {_param_fmt(k, p.high)}"
        + (f" in steps of {_param_fmt(k, p.step)}" if p.step else "")
        + (" (log scale)" if p.log else "")
        for k, p in st.space.items()
    )
    lines += [f"Searched: {space}.", ""]
    if not multi:
        b = best_index(df, s)
        o = s.objectives[0]
        lines += ["## Best trial", ""]
        if b is None:
            ran = df.assign(skipped=df["state"] != "complete")
            near = ran.sort_values(["skipped", "violation", "trial"]).iloc[0]
            lines.append(
                f"No trial met the constraints. The nearest miss was trial {int(near['trial'])} "
                f"({_params_text(near, s)}). Widen the search space or relax a limit."
            )
        else:
            r = df.loc[b]
            lines.append(
                f"Trial {int(r['trial'])}: {_params_text(r, s)}. {label(o)} "
                f"{_fmt(o, r[label(o)])}"
                + "".join(
                    f"; {_clabel(c)} {format_metric(c.metric, r[_clabel(c)])}"
                    for c in s.constraints
                )
                + f"; channels' budgets {format_metric('sm_cost', r['total_budget_month'])} a month."
            )
            lines += [
                "",
                "Check it with many replications (and compare it with today's plan on the same "
                "seed) before acting on it:",
                "",
                "```sh",
                f"salesim replications=200 {_overrides(r, s)}",
                "```",
            ]
        lines += ["", "![trials](optimisation.png)", ""]
    else:
        front = df[df["pareto"]].sort_values([label(o) for o in s.objectives])
        lines += [
            "## Pareto front",
            "",
            "Trials that meet every constraint and that no other such trial beats on every "
            "objective: each is a best trade-off; choose by what the extra cost buys.",
            "",
        ]
        cols = ["trial", *st.space, *(label(o) for o in s.objectives)]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---:|" * len(cols))
        for _, r in front.iterrows():
            cells = [str(int(r["trial"]))] + [_param_fmt(k, r[k]) for k in st.space]
            cells += [_fmt(o, r[label(o)]) for o in s.objectives]
            lines.append("| " + " | ".join(cells) + " |")
        if not len(front):
            lines.append("| (no trial met the constraints) |")
        lines += ["", "![Pareto front](pareto.png)", "", "![trials](optimisation.png)", ""]
    lines += [
        "## Reading it",
        "",
        "Each trial's figures carry the noise of its replications, and the best of many noisy "
        "trials is a little optimistic (the winner's curse). Before acting on a trial, run it "
        "again with many replications and compare it with today's plan on common random numbers. "
        "Every trial is in trials.csv / trials.parquet; "
        + ("the front in pareto.csv; " if multi else "")
        + "best.yaml holds the answer.",
        "",
        f"Study storage: `{url or 'in memory'}` (study {sc.scenario.name!r}). Run the same command "
        "into the same folder (hydra.run.dir=..., with overwrite=true once the run is complete) "
        "to resume an interrupted search or to add trials (optimise.n_trials=...).",
        "",
    ]
    return "\n".join(lines)


def figure(s: Study, df: pd.DataFrame, path: Path) -> None:
    """Each objective by trial (feasible filled, infeasible hollow, best so far for one objective),
    then the first objective against each searched parameter."""
    plt = plots.mpl().pyplot
    keys = list(s.st.space)
    n = len(s.objectives) + len(s.constraints) + len(keys)
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    flat = axes.ravel()
    done = df[df["state"] == "complete"]
    ok, bad = done[done["feasible"]], done[~done["feasible"]]
    for j, o in enumerate(s.objectives):
        ax, col = flat[j], label(o)
        ax.plot(ok["trial"], ok[col], "o", color="C0", ms=5, label="feasible")
        if len(bad):
            ax.plot(bad["trial"], bad[col], "o", mfc="none", color="C3", ms=5, label="infeasible")
        if len(s.objectives) == 1 and len(ok):
            best = ok[col].cummax() if o.direction == "maximize" else ok[col].cummin()
            ax.step(ok["trial"], best, where="post", color="C2", lw=1.5, label="best so far")
        skipped = df[df["state"] != "complete"]
        for t in skipped["trial"]:
            ax.axvline(t, color="0.85", lw=0.8, zorder=0)
        ax.set_xlabel("trial (grey lines: pruned or over budget)" if len(skipped) else "trial")
        ax.set_title(_describe(o), fontsize=9)
        _axis(ax, o, "y")
        ax.legend(fontsize=7)
    for j, c in enumerate(s.constraints):
        ax, col = flat[len(s.objectives) + j], _clabel(c)
        ran = df[df["state"] != "over_budget"]
        ax.plot(ran["trial"], ran[col], "o", color="C1", ms=5)
        for v in (c.max, c.min):
            if v is not None:
                ax.axhline(v, color="C3", ls="--", lw=1, label=f"limit {v:g}")
        ax.set_title(f"{col} by trial (the limit dashed)", fontsize=9)
        ax.set_xlabel("trial")
        ax.grid(alpha=0.3)
    o = s.objectives[0]
    first = len(s.objectives) + len(s.constraints)
    for j, k in enumerate(keys):
        ax = flat[first + j]
        ax.plot(ok[k], ok[label(o)], "o", color="C0", ms=5)
        if len(bad):
            ax.plot(bad[k], bad[label(o)], "o", mfc="none", color="C3", ms=5)
        ax.set_xlabel(k, fontsize=8)
        ax.set_title(f"{label(o)} against {k.split('.')[-2] if '.' in k else k}", fontsize=9)
        _axis(ax, o, "y")
        if k.endswith("budget_month"):
            plots._money(ax, "x")
            ax.xaxis.set_major_locator(plots.mpl().ticker.MaxNLocator(4))
    for ax in flat[n:]:
        ax.axis("off")
    fig.suptitle(
        f"Optimisation: {int((df['state'] != 'over_budget').sum())} trials run, "
        f"{int(df['feasible'].sum())} meet the constraints",
        fontsize=11,
    )
    plots.save(fig, path)


def _axis(ax: Any, o: StudyObjective, axis: str) -> None:
    if o.at_least is not None:
        from matplotlib.ticker import PercentFormatter

        getattr(ax, f"{axis}axis").set_major_formatter(PercentFormatter(1.0))
    elif metric_registry.fmt(o.metric) == "money":
        plots._money(ax, axis)
    ax.grid(alpha=0.3)


def pareto_figure(s: Study, df: pd.DataFrame, path: Path) -> None:
    """The first objective (up) against the second (across): every completed trial, the
    infeasible ones hollow, the Pareto front joined and labelled with trial numbers."""
    plt = plots.mpl().pyplot
    oy, ox = s.objectives[0], s.objectives[1]
    cy, cx = label(oy), label(ox)
    fig, ax = plt.subplots(figsize=(8, 5.2))
    done = df[df["state"] == "complete"]
    ok, bad = done[done["feasible"] & ~done["pareto"]], done[~done["feasible"]]
    ax.plot(ok[cx], ok[cy], "o", color="0.6", ms=5, label="feasible trial")
    if len(bad):
        ax.plot(bad[cx], bad[cy], "o", mfc="none", color="C3", ms=5, label="infeasible trial")
    f = df[df["pareto"]].sort_values(cx)
    ax.step(f[cx], f[cy], where="post", color="C0", lw=1.5)
    ax.plot(f[cx], f[cy], "o", color="C0", ms=7, label="Pareto front")
    for _, r in f.iterrows():
        ax.annotate(
            str(int(r["trial"])), (r[cx], r[cy]), xytext=(4, 4), textcoords="offset points",
            fontsize=7,
        )  # fmt: skip
    _axis(ax, oy, "y")
    _axis(ax, ox, "x")
    ax.set_ylabel(_describe(oy))
    ax.set_xlabel(_describe(ox))
    ran = int((df["state"] != "over_budget").sum())
    ax.set_title(f"Pareto front: {len(f)} of the {ran} trials run (labels: trial numbers)")
    ax.legend(fontsize=8)
    plots.save(fig, path)


def _best_record(s: Study, df: pd.DataFrame, i: int, trials: list) -> dict:
    r = df.loc[i]
    return strict(
        {
            "trial": int(r["trial"]),
            "params": {k: (int(r[k]) if s.st.space[k].is_int else float(r[k])) for k in s.st.space},
            "values": {label(o): float(r[label(o)]) for o in s.objectives},
            "constraints": {_clabel(c): r[_clabel(c)] for c in s.constraints},
            "total_budget_month": r["total_budget_month"],
            "replications": int(r["replications"]),
        }
    )


def run(
    cfg: DictConfig,
    sc: Scenario,
    rs: RunSettings,
    outdir: Path | None = None,
    setup: str = "",
    progress: bool = False,
) -> RunResult:
    """Run (or resume) the study and, if `outdir` is given, write trials.csv/.parquet, best.yaml,
    optimisation.png, pareto.csv and pareto.png (several objectives), report.md and summary.json
    there; the study's SQLite file sits in `outdir` too unless `optimise.storage` says otherwise."""
    with money.using(sc.currency):
        s, trials = search(cfg, sc, rs, outdir, say=print)
        url = storage_url(s.st, outdir)
        df = table(s, trials)
        multi = len(s.objectives) > 1
        chosen = (
            list(df.index[df["pareto"]])
            if multi
            else [b for b in [best_index(df, s)] if b is not None]
        )
        by_index = {t.user_attrs.get("index", t.number): t for t in trials}
        scen = {}
        for i in chosen:
            t = by_index[int(df.at[i, "trial"])]
            scen[f"trial_{int(df.at[i, 'trial'])}"] = {
                "replications": int(df.at[i, "replications"]),
                "horizon_days": sc.horizon_days,
                "warmup_days": sc.warmup_days,
                "start_date": sc.start_date.isoformat(),
                "params": {k: df.at[i, k] for k in s.st.space},
                "metrics": t.user_attrs.get("metrics") or {},
            }
        records = [_best_record(s, df, i, trials) for i in chosen]
        best = {"pareto": records} if multi else {"best": records[0] if records else None}
        study_info = {
            "study": sc.scenario.name,
            "storage": url,
            "sampler": s.st.sampler,
            "seed": s.st.seed,
            "trials": len(df),
            "feasible": int(df["feasible"].sum()),
            "objectives": [
                {"name": label(o), "direction": o.direction, "at_least": o.at_least}
                for o in s.objectives
            ],
            **best,
        }
        summary = strict(
            {"seed": sc.seed, "versions": versions(), "scenarios": scen, "optimise": study_info}
        )
        if outdir is not None:
            with staged(Path(outdir)) as stage:
                to_csv(df, stage / "trials.csv")
                df.to_parquet(stage / "trials.parquet", index=False)
                (stage / "best.yaml").write_text(
                    yaml.safe_dump(strict({k: v for k, v in study_info.items()}), sort_keys=False)
                )
                if multi:
                    to_csv(df[df["pareto"]], stage / "pareto.csv")
                    pareto_figure(s, df, stage / "pareto.png")
                figure(s, df, stage / "optimisation.png")
                text = report_md(s, df, url, setup)
                (stage / "report.md").write_text(text)
                html_report.write(
                    stage, text, first=["Best trial", "Pareto front"], config=scenario_yaml(sc)
                )
                (stage / "summary.json").write_text(summary_json(summary))
        if not chosen:
            print("optimise: no trial met the constraints (report.md names the nearest miss)")
        for r in records:
            vals = ", ".join(f"{k} {v:,.6g}" for k, v in r["values"].items())
            ps = ", ".join(f"{k}={v:g}" for k, v in r["params"].items())
            print(f"{'pareto' if multi else 'best'} trial {r['trial']}: {vals} ({ps})")
        # the trials table stands where a plain run has its replications
        return RunResult(summary, df, pd.DataFrame(), pd.DataFrame(), None, 0)
