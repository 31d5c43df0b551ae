"""Capacity plan: the cheapest hires and channel spend found that meet a year's target, with the
probability of meeting it (experiment=capacity_plan, docs/experiments.md).

A plan is a number of steps of each lever (AE, SDR or CSM hires in a month; a channel's monthly
budget) added to the company's own plan. Every plan is run with the same seed and replication
indices (common random numbers), so two plans differ only by what their levers change.

The search is greedy and deterministic, once per goal (the target met in half the replications, then
in `plan.probability` of them): from the company's own plan, it tries one more step of every lever
and keeps the one that raises the goal's score most per dollar of added cost, until the goal is met,
no step raises the score, or `plan.max_steps` steps were taken. The score of a plan is
min(Q, T) + mean(min(X, T)): X the metric per replication, T the target, Q the value that a share
`level` of the replications reach (so Q >= T exactly when the goal is met), both capped at T so that
overshooting earns nothing. Then, if `plan.refine`, it drops single steps while the goal stays met
and the plan gets cheaper. Plans already evaluated are not run again. The chosen plan for a goal is
the cheapest of all evaluated plans that meets it.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import html_report, money, plots
from sim.config import ConfigError, PlanSettings, RunSettings, Scenario, load_run
from sim.executors import map_ordered
from sim.experiment import RunResult, versions
from sim.metrics import month_weights, scalar_metrics
from sim.model import simulate_replication
from sim.records import MONTH_DAYS
from sim.report import format_metric, scenario_yaml, span, summary_json
from sim.runfolder import staged
from sim.stats import strict, summarise

BUDGET_KEY = "budget_month"  # the channel key a budget lever adds to
ROLES = ("sdr", "ae", "csm")


@dataclass(frozen=True)
class Lever:
    """A lever resolved against the company: what it adds to (`role` hires in `month`, or
    `channel`'s budget), in units of `step`, at most `units` of them."""

    name: str
    role: str | None
    channel: str | None
    month: int
    step: float
    units: int

    def amount(self, k: int) -> float:
        return k * self.step


@dataclass(frozen=True)
class Evaluation:
    """One plan's replications: its lever steps, costs (means over replications) and the metric."""

    units: tuple[int, ...]
    values: np.ndarray  # the target metric, one per replication
    metrics: pd.DataFrame  # every scalar metric, one row per replication (plus total_cost)
    cost: float  # the cost the search minimises (plan.cost), mean over replications
    total_cost: float
    sm_cost: float

    def hits(self, target: float) -> int:
        return int((np.nan_to_num(self.values, nan=-np.inf) >= target).sum())


def levers_of(settings: PlanSettings, sc: Scenario) -> list[Lever]:
    """Resolve each lever's target (explicit `role`/`channel`, else from its name) against the
    company; an unknown one is a one-line ConfigError."""
    out = []
    for name, lv in settings.levers.items():
        role, channel = lv.role, lv.channel
        if role is None and channel is None:
            m = re.fullmatch(r"(.+)_(hires|budget)", name)
            if m and m.group(2) == "hires" and m.group(1) in ROLES:
                role = m.group(1)
            elif m and m.group(2) == "budget":
                channel = m.group(1)
            else:
                raise ConfigError(
                    f"config error: plan.levers.{name}: unknown lever; name it <role>_hires "
                    f"(role: {', '.join(ROLES)}) or <channel>_budget (channels: "
                    f"{', '.join(sorted(sc.channels)) or 'none'}), or give role: or channel:"
                )
        if channel is not None and channel not in sc.channels:
            raise ConfigError(
                f"config error: plan.levers.{name}: channel {channel!r} is not one of the "
                f"company's channels ({', '.join(sorted(sc.channels)) or 'none'})"
            )
        if role is not None and lv.step != int(lv.step):
            raise ConfigError(
                f"config error: plan.levers.{name}.step = {lv.step:g}: hires come in whole people"
            )
        if role is not None and lv.month * MONTH_DAYS >= sc.warmup_days + sc.horizon_days:
            raise ConfigError(
                f"config error: plan.levers.{name}.month = {lv.month}: after the end of the run "
                f"(months 0..{math.ceil((sc.warmup_days + sc.horizon_days) / MONTH_DAYS) - 1})"
            )
        out.append(Lever(name, role, channel, lv.month, lv.step, int(lv.max // lv.step + 1e-9)))
    return out


def apply(base: dict, levers: list[Lever], units: tuple[int, ...]) -> dict:
    """The resolved config `base` with each lever's steps added to the company's own plan."""
    data = copy.deepcopy(base)
    for lv, k in zip(levers, units, strict=True):
        if not k:
            continue
        if lv.role is not None:
            role = data.setdefault("team", {}).setdefault(lv.role, {})
            hires = list(role.get("hires") or [])
            hires += [0] * (lv.month + 1 - len(hires))
            hires[lv.month] += int(lv.amount(k))
            role["hires"] = hires
        else:
            ch = data["channels"][lv.channel]
            ch[BUDGET_KEY] = float(ch[BUDGET_KEY]) + lv.amount(k)
    return data


def _replication(sc: Scenario, r: int) -> dict[str, float]:
    rec = simulate_replication(sc, r)
    m = scalar_metrics(rec, sc.costs.gross_margin, sc.costs.allocation, sc.costs.known)
    lo, hi = rec.window
    c = rec.columns["costs"]
    total = 0.0
    if len(c["amount"]):
        w = month_weights(int(c["month"].max()) + 1, lo, hi)
        total = float((c["amount"] * w[c["month"]]).sum())
    m["total_cost"] = total  # every cost of the window (S&M, CSMs, ...), not only S&M
    return m


def _chunk(shared: tuple[tuple[Scenario, ...], int], items: list[int]) -> list[dict[str, float]]:
    scs, reps = shared
    return [_replication(scs[i // reps], i % reps) for i in items]


class Search:
    """Evaluates plans (each once, cached) and runs the greedy search per goal."""

    def __init__(
        self,
        base: dict,
        namespaces: tuple[str, ...],
        sc: Scenario,
        rs: RunSettings,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        assert rs.plan is not None
        self.base, self.namespaces, self.sc, self.rs = base, namespaces, sc, rs
        self.settings: PlanSettings = rs.plan
        self.levers = levers_of(self.settings, sc)
        self.target = self.settings.target.value
        self.metric = self.settings.target.metric
        self.cache: dict[tuple[int, ...], Evaluation] = {}
        self.order: list[tuple[int, ...]] = []  # evaluation order
        self.found_by: dict[tuple[int, ...], str] = {}
        self.progress = progress
        self.base_cost = math.nan  # today's plan's cost, once evaluated

    def scenario(self, units: tuple[int, ...]) -> Scenario:
        sc, _ = load_run(apply(self.base, self.levers, units), self.namespaces)
        return sc

    def evaluate(self, plans: list[tuple[int, ...]], by: str) -> list[Evaluation]:
        """Evaluate the plans not seen yet, all in one batch on the executor, and return all."""
        new = [u for u in dict.fromkeys(plans) if u not in self.cache]
        if new:
            scs = tuple(self.scenario(u) for u in new)
            n = self.sc.replications
            rows = []
            for row in map_ordered(
                _chunk, (scs, n), range(n * len(new)), self.rs.executor, self.rs.workers
            ):
                rows.append(row)
                if self.progress:
                    self.progress(1)
            for j, u in enumerate(new):
                m = pd.DataFrame(rows[j * n : (j + 1) * n])
                cost_col = "total_cost" if self.settings.cost == "total" else "sm_cost"
                self.cache[u] = Evaluation(
                    units=u,
                    values=m[self.metric].to_numpy(dtype=float),
                    metrics=m,
                    cost=float(m[cost_col].mean()),
                    total_cost=float(m["total_cost"].mean()),
                    sm_cost=float(m["sm_cost"].mean()),
                )
                self.order.append(u)
                self.found_by[u] = by
        return [self.cache[u] for u in plans]

    def meets(self, e: Evaluation, level: float) -> bool:
        return e.hits(self.target) >= math.ceil(level * len(e.values) - 1e-9)

    def score(self, e: Evaluation, level: float) -> float:
        """min(Q, T) + mean(min(X, T)), Q the value a share `level` of the replications reach."""
        x = np.sort(np.nan_to_num(e.values, nan=-np.inf))[::-1]
        k = max(1, math.ceil(level * len(x) - 1e-9))
        capped = np.minimum(x, self.target)
        return float(min(x[k - 1], self.target) + np.where(np.isfinite(capped), capped, 0).mean())

    def greedy(self, level: float, by: str) -> None:
        """Add the step with the best score gain per dollar until the goal is met or stuck."""
        u = tuple(0 for _ in self.levers)
        (e,) = self.evaluate([u], by)
        for _ in range(self.settings.max_steps):
            if self.meets(e, level):
                break
            cands = [self._moved(u, i, +1) for i, lv in enumerate(self.levers) if u[i] < lv.units]
            if not cands:
                break
            here = self.score(e, level)
            best, best_key = None, None
            for c in self.evaluate(cands, by):
                gain = self.score(c, level) - here
                if gain <= 0:
                    continue
                dc = c.cost - e.cost
                key = (math.inf if dc <= 0 else gain / dc, gain)
                if best_key is None or key > best_key:  # ties: the earlier lever
                    best, best_key = c, key
            if best is None:
                break
            u, e = best.units, best
        if not (self.settings.refine and self.meets(e, level)):
            return
        while True:  # drop single steps while the goal holds and the plan gets cheaper
            cands = [self._moved(u, i, -1) for i in range(len(u)) if u[i] > 0]
            ok = [c for c in self.evaluate(cands, f"{by} refine") if self.meets(c, level)]
            ok = [c for c in ok if c.cost < e.cost]
            if not ok:
                return
            e = min(ok, key=lambda c: c.cost)
            u = e.units

    @staticmethod
    def _moved(u: tuple[int, ...], i: int, d: int) -> tuple[int, ...]:
        return tuple(k + d if j == i else k for j, k in enumerate(u))


def goals(settings: PlanSettings) -> dict[str, float]:
    """The two goals by name: p50 (half the replications) and p<probability> (e.g. p80)."""
    return {"p50": 0.5, f"p{100 * settings.probability:g}": settings.probability}


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share k / n."""
    from scipy.stats import binomtest  # heavy (~1 s): loaded by capacity plans only, not every run

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def table(search: Search) -> pd.DataFrame:
    """Every evaluated plan in evaluation order: levers, costs, the metric, P(hit) and its interval,
    which goals it meets, whether it is on the cost/probability frontier and which goal chose it."""
    rows = []
    gs = goals(search.settings)
    for i, u in enumerate(search.order):
        e = search.cache[u]
        n, k = len(e.values), e.hits(search.target)
        lo, hi = wilson(k, n)
        v = e.values[np.isfinite(e.values)]
        row: dict = {"evaluation": i, "found_by": search.found_by[u]}
        row |= {lv.name: lv.amount(k_) for lv, k_ in zip(search.levers, u, strict=True)}
        row |= {
            "cost": e.cost,
            "total_cost": e.total_cost,
            "sm_cost": e.sm_cost,
            f"{search.metric}_p10": float(np.percentile(v, 10)) if len(v) else math.nan,
            f"{search.metric}_p50": float(np.median(v)) if len(v) else math.nan,
            f"{search.metric}_p90": float(np.percentile(v, 90)) if len(v) else math.nan,
            f"{search.metric}_mean": float(v.mean()) if len(v) else math.nan,
            "replications": n,
            "hits": k,
            "p_hit": k / n,
            "p_hit_ci95_low": lo,
            "p_hit_ci95_high": hi,
        }
        row |= {f"meets_{g}": search.meets(e, level) for g, level in gs.items()}
        rows.append(row)
    df = pd.DataFrame(rows)
    df["on_frontier"] = frontier_mask(df)
    for g in gs:
        i = chosen(df, g)
        df[f"chosen_{g}"] = df.index == i
    return df


def frontier_mask(df: pd.DataFrame) -> np.ndarray:
    """Plans no cheaper-or-equal plan beats on P(hit): by cost, each raises the best P(hit) so far."""
    mask = np.zeros(len(df), dtype=bool)
    best = -1.0
    for i in df.sort_values(["cost", "evaluation"], kind="stable").index:
        if df.at[i, "p_hit"] > best:
            mask[i] = True
            best = df.at[i, "p_hit"]
    return mask


def chosen(df: pd.DataFrame, goal: str) -> int | None:
    """Row of the cheapest evaluated plan that meets `goal` (the first evaluated on a tie)."""
    ok = df[df[f"meets_{goal}"]]
    if not len(ok):
        return None
    return int(ok.sort_values(["cost", "evaluation"], kind="stable").index[0])


def describe(row: pd.Series, levers: list[Lever]) -> str:
    """'+2 AE hires in month 0, +$50,000/month paid_search budget' or 'the company's own plan'."""
    parts = []
    for lv in levers:
        a = row[lv.name]
        if not a:
            continue
        if lv.role is not None:
            parts.append(
                f"+{a:g} {lv.role.upper()} hire{'s' if a != 1 else ''} in month {lv.month}"
            )
        else:
            parts.append(f"+{money.amount(a)}/month {lv.channel} budget")
    return ", ".join(parts) or "the company's own plan"


def _money(v: float) -> str:
    return format_metric("sm_cost", v)


def sentence(row: pd.Series, goal: str, level: float, search: Search) -> str:
    """The answer for one goal, in words."""
    n = int(row["replications"])
    return (
        f"**{goal.upper()}** (target met in at least {level:.0%} of replications): "
        f"{describe(row, search.levers)}; cost {_money(row['cost'])} "
        f"({_money(row['cost'] - search.base_cost)} over the company's own plan). It meets the "
        f"target in {row['p_hit']:.0%} of {n} replications, 95 % interval "
        f"{row['p_hit_ci95_low']:.0%}-{row['p_hit_ci95_high']:.0%}; median "
        f"{search.metric} {format_metric(search.metric, row[f'{search.metric}_p50'])}."
    )


def report_md(search: Search, df: pd.DataFrame, setup: str = "") -> str:
    s, sc = search.settings, search.sc
    gs = goals(s)
    n_lev = len(search.levers)
    lines = ["# Capacity plan", ""]
    if setup:
        lines += [setup, ""]
    cost_name = (
        "total cost of the forecast window (S&M, CSMs and every other cost line)"
        if s.cost == "total"
        else "S&M cost of the forecast window"
    )
    lines += [
        f"Target: {search.metric} >= {format_metric(search.metric, search.target)} in the "
        f"{span(sc.horizon_days)} window after a {span(sc.warmup_days)} warm-up. Cost minimised: "
        f"the {cost_name}, mean over replications. {len(df)} plans evaluated, "
        f"{sc.replications} replications each (seed {sc.seed}, common random numbers).",
        "",
        "## The cheapest plans found",
        "",
    ]
    base = df.iloc[0]
    lines.append(
        f"Today (the company's own plan): meets the target in {base['p_hit']:.0%} of "
        f"{int(base['replications'])} replications (95 % interval {base['p_hit_ci95_low']:.0%}-"
        f"{base['p_hit_ci95_high']:.0%}); median {search.metric} "
        f"{format_metric(search.metric, base[f'{search.metric}_p50'])}; cost {_money(base['cost'])}."
    )
    lines.append("")
    for g, level in gs.items():
        i = chosen(df, g)
        if i is None:
            best = df.loc[df["p_hit"].idxmax()]
            lines.append(
                f"- **{g.upper()}**: no evaluated plan meets the target in {level:.0%} of "
                f"replications; the best reached {best['p_hit']:.0%} "
                f"({describe(best, search.levers)}). Raise the levers' max or plan.max_steps."
            )
        else:
            lines.append("- " + sentence(df.loc[i], g, level, search))
    lines += [
        "",
        "## Frontier: cheapest plan for each probability of hitting the target",
        "",
        f"| cost | added cost | plan | P(hit) | 95 % interval | median {search.metric} | chosen |",
        "|---:|---:|---|---:|---|---:|---|",
    ]
    for _, r in df[df["on_frontier"]].sort_values("cost").iterrows():
        lines.append(
            f"| {_money(r['cost'])} | {_money(r['cost'] - search.base_cost)} | "
            f"{describe(r, search.levers)} | {r['p_hit']:.0%} | {r['p_hit_ci95_low']:.0%}-"
            f"{r['p_hit_ci95_high']:.0%} | {format_metric(search.metric, r[f'{search.metric}_p50'])} | "
            f"{', '.join(g for g in gs if r[f'chosen_{g}'])} |"
        )
    lines += [
        "",
        "![capacity plan](capacity_plan.png)",
        "",
        "## How the plans were found",
        "",
        f"Levers ({n_lev}): "
        + "; ".join(
            f"{lv.name} (steps of "
            + (
                f"{lv.step:g} {lv.role.upper()} hire{'s' if lv.step != 1 else ''} in month {lv.month}"
                if lv.role
                else f"{money.amount(lv.step)}/month on {lv.channel}"
            )
            + f", up to {lv.units})"
            for lv in search.levers
        )
        + ".",
        "",
        "A greedy search per goal, deterministic: from today's plan, try one more step of every "
        "lever on the same replications and keep the step with the largest gain in score per dollar "
        "of added cost, where the score is min(Q, target) + mean(min(metric, target)) and Q is the "
        "value the goal's share of replications reaches; stop when the goal is met, no step "
        f"helps, or after {s.max_steps} steps"
        + (
            "; then drop single steps while the goal holds and the plan gets cheaper"
            if s.refine
            else ""
        )
        + ". The chosen plan is the cheapest evaluated plan meeting the goal. It is a heuristic: "
        "a cheaper plan may exist among combinations the search did not try (every evaluated plan "
        "is in capacity_plan.csv). P(hit) is the share of replications at or above the target; "
        "its interval is the 95 % Wilson score interval. Plans differ by a few replications near "
        "the threshold, so read neighbouring plans on the frontier as equally good within noise.",
        "",
        f"Work: {len(df)} plans x {sc.replications} replications = {len(df) * sc.replications} "
        "replication runs.",
        "",
    ]
    return "\n".join(lines)


def figure(search: Search, df: pd.DataFrame, path: Path) -> None:
    """Cost against P(hit) for every evaluated plan, the frontier highlighted, chosen plans marked."""
    plt = plots.mpl().pyplot
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    err = np.vstack([df["p_hit"] - df["p_hit_ci95_low"], df["p_hit_ci95_high"] - df["p_hit"]])
    ax.errorbar(
        df["cost"], df["p_hit"], yerr=err, fmt="o", color="0.6", ms=4, elinewidth=0.6,
        alpha=0.7, label="evaluated plan (95 % interval)",
    )  # fmt: skip
    f = df[df["on_frontier"]].sort_values("cost")
    ax.step(f["cost"], f["p_hit"], where="post", color="C0", lw=2, label="frontier")
    ax.plot(f["cost"], f["p_hit"], "o", color="C0", ms=6)
    gs = goals(search.settings)
    for (g, level), colour in zip(gs.items(), ("C2", "C3"), strict=True):
        ax.axhline(level, color=colour, ls=":", lw=1)
        i = chosen(df, g)
        if i is None:
            continue
        r = df.loc[i]
        ax.plot(r["cost"], r["p_hit"], "*", color=colour, ms=16, mec="k", label=f"chosen {g}")
        ax.annotate(
            describe(r, search.levers).replace(", ", "\n"),
            (r["cost"], r["p_hit"]),
            xytext=(8, -6 if g == "p50" else 6),
            textcoords="offset points",
            fontsize=7,
            va="top" if g == "p50" else "bottom",
        )
    plots._money(ax, "x")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("cost of the plan (mean over replications)")
    ax.set_ylabel(f"P({search.metric} >= {format_metric(search.metric, search.target)})")
    ax.set_title("Capacity plan: cost against probability of hitting the target")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    plots.save(fig, path)


def run(
    base: dict,
    namespaces: tuple[str, ...],
    sc: Scenario,
    rs: RunSettings,
    outdir: Path | None = None,
    setup: str = "",
    progress: bool = False,
) -> RunResult:
    """Search for each goal's cheapest plan and, if `outdir` is given, write capacity_plan.csv/.parquet,
    capacity_plan.png, replications (today's plan and the chosen ones), report.md and summary.json.
    `base` is the run's resolved config (a plain dict); `namespaces` as for sim.config.load_run.
    Amounts (plans, costs) are in the scenario's currency."""
    with money.using(sc.currency):  # amounts in the scenario's currency
        assert rs.plan is not None
        if not sc.costs.known:
            raise ConfigError(
                "config error: costs.known = False: a capacity plan minimises cost, so it needs the "
                "company's costs"
            )
        from tqdm import tqdm  # lazy, as in sim.api

        with tqdm(desc="capacity_plan", unit="rep", file=sys.stderr, disable=not progress) as bar:
            search = Search(base, namespaces, sc, rs, progress=bar.update)
            for g, level in goals(rs.plan).items():
                search.greedy(level, g)
        df = table(search)
        search.base_cost = search.cache[search.order[0]].cost
        names = {"today": 0} | {
            f"plan_{g}": i for g in goals(rs.plan) if (i := chosen(df, g)) is not None
        }
        reps = []
        scen = {}
        for name, i in names.items():
            e = search.cache[search.order[i]]
            m = e.metrics.copy()
            m.insert(0, "replication", range(len(m)))
            m.insert(0, "scenario", name)
            reps.append(m)
            scen[name] = {
                "replications": sc.replications,
                "horizon_days": sc.horizon_days,
                "warmup_days": sc.warmup_days,
                "start_date": sc.start_date.isoformat(),
                "plan": {
                    lv.name: lv.amount(k) for lv, k in zip(search.levers, e.units, strict=True)
                },
                "metrics": {k: summarise(m[k].to_numpy(dtype=float)) for k in e.metrics.columns},
            }
        summary = {
            "seed": sc.seed,
            "versions": versions(),
            "scenarios": scen,
            "capacity_plan": {
                "target": {"metric": search.metric, "value": search.target},
                "probability": rs.plan.probability,
                "cost": rs.plan.cost,
                "evaluations": len(df),
                "chosen": {
                    g: _row_dict(df.loc[i], search)
                    for g in goals(rs.plan)
                    if (i := chosen(df, g)) is not None
                },
            },
        }
        summary = strict(summary)
        replications = pd.concat(reps, ignore_index=True)
        if outdir is not None:
            with staged(Path(outdir)) as stage:
                df.to_csv(stage / "capacity_plan.csv", index=False, lineterminator="\n")
                df.to_parquet(stage / "capacity_plan.parquet", index=False)
                if rs.tables in ("parquet", "both"):
                    replications.to_parquet(stage / "replications.parquet", index=False)
                if rs.tables in ("csv", "both"):
                    replications.to_csv(
                        stage / "replications.csv", index=False, lineterminator="\n"
                    )
                figure(search, df, stage / "capacity_plan.png")
                text = report_md(search, df, setup)
                (stage / "report.md").write_text(text)
                html_report.write(stage, text, config=scenario_yaml(search.sc))
                (stage / "summary.json").write_text(summary_json(summary))
        return RunResult(summary, replications, pd.DataFrame(), pd.DataFrame(), None, 0)


def _row_dict(row: pd.Series, search: Search) -> dict:
    keys = [lv.name for lv in search.levers] + [
        "cost",
        "total_cost",
        "sm_cost",
        f"{search.metric}_p50",
        "p_hit",
        "p_hit_ci95_low",
        "p_hit_ci95_high",
        "replications",
    ]
    out = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in keys}
    return out | {
        "plan": describe(row, search.levers),
        "added_cost": row["cost"] - search.base_cost,
    }
