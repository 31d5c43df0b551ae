"""Global sensitivity with SALib (experiment=sobol, experiment=morris; docs/experiments.md).

The inputs are declared apart from each other, as EMA Workbench does: `uncertainties` (what the
market does: deal size, churn, sign-ups) and `levers` (what the company decides: headcount, budgets),
each a config key with a distribution. SALib's sample plan varies them all at once (Sobol: Saltelli's
scheme; Morris: one-at-a-time trajectories through a grid), every sample point is the run's config
with those keys replaced, and every point runs the same replication seeds (common random numbers), so
two points differ only by what their inputs change. The metric of a point is its mean over the
replications; SALib then gives each input's share of the metric's variance (Sobol S1, ST) or its
elementary effects (Morris mu*, sigma), with bootstrap intervals.

Points run on the executor (`executor`, `workers`: local processes or Ray), one task per few points,
each task building its points' scenarios from the run's resolved config; results come back in point
order, so the files are the same whatever ran them.
"""

from __future__ import annotations

import copy
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import html_report, money, plots
from sim.config import ConfigError, GsaSettings, RunSettings, Scenario, config_value, load_run
from sim.executors import map_ordered
from sim.experiment import RunResult, versions
from sim.metric_registry import label
from sim.metrics import scalar_metrics
from sim.model import simulate_replication
from sim.report import format_metric, scenario_yaml, summary_json
from sim.runfolder import staged
from sim.stats import strict

KINDS = {"uncertainties": "uncertainty", "levers": "lever"}
SALIB_DIST = {"uniform": "unif", "normal": "norm", "triang": "triang", "lognorm": "lognorm"}
SOBOL_COLUMNS = ["parameter", "metric", "S1", "S1_conf", "ST", "ST_conf"]
MORRIS_COLUMNS = ["parameter", "metric", "mu_star", "mu_star_conf", "sigma"]
CONF_LEVEL = 0.95


@dataclass(frozen=True)
class Input:
    """One varied config key: `kind` uncertainty or lever, its baseline value, whether it is a whole
    number (rounded at every point), and its distribution as SALib takes it (`dist`, `bounds`)."""

    key: str
    kind: str
    baseline: float
    whole: bool
    dist: str
    bounds: tuple[float, ...]
    text: str  # the distribution in words, for the report


def _whole(baseline, f) -> bool:
    """A whole-number input: its baseline is written as one (headcount, counts) and so is every
    parameter given for its distribution (so `{low: 0.5, high: 1.5}` on a baseline of 1 is not)."""
    if isinstance(baseline, bool) or not isinstance(baseline, int):
        return False
    given = [] if f is None else [v for v in f.model_dump().values() if isinstance(v, float)]
    return all(float(v).is_integer() for v in given)


def _spec(
    key: str, group: str, f, baseline, swing: float, whole: bool
) -> tuple[str, tuple[float, ...], str]:
    """SALib's dist name and bounds for one factor (None: uniform -/+ swing around the baseline).
    A whole-number uniform widens by half a unit each side, so that rounding gives every whole value
    in [low, high] the same chance."""
    if f is None:
        if baseline == 0:
            raise ConfigError(
                f"config error: {group}.{key}: the baseline value is 0, so a relative swing is "
                "empty; give {low: ..., high: ...}"
            )
        lo, hi = sorted((baseline * (1 - swing), baseline * (1 + swing)))
        if whole:
            lo, hi = min(math.floor(lo), baseline - 1), max(math.ceil(hi), baseline + 1)
            lo = max(lo, 0) if baseline > 0 else lo
        dist, low, high, peak = "uniform", lo, hi, None
    else:
        dist, low, high, peak = f.dist, f.low, f.high, f.peak
    if dist == "uniform":
        pad = 0.5 if whole else 0.0
        return "unif", (low - pad, high + pad), f"uniform {low:,g} .. {high:,g}"
    if dist == "triang":  # SALib: [low, high, peak as a fraction of the width]
        return (
            "triang",
            (low, high, (peak - low) / (high - low)),
            (f"triangular {low:,g} .. {high:,g}, peak {peak:,g}"),
        )
    if dist == "normal":
        return "norm", (f.mean, f.sd), f"normal mean {f.mean:,g}, sd {f.sd:,g}"
    return "lognorm", (f.mu, f.sigma), f"lognormal, log mean {f.mu:g}, log sd {f.sigma:g}"


def inputs_of(rs: RunSettings, base: dict) -> list[Input]:
    """The varied inputs in declaration order (uncertainties, then levers), as `gsa.over` picks."""
    assert rs.gsa is not None
    groups = {"both": ("uncertainties", "levers")}.get(rs.gsa.over, (rs.gsa.over,))
    out = []
    for group in groups:
        for key, f in (getattr(rs, group) or {}).items():
            value = config_value(base, key)
            whole = _whole(value, f)
            dist, bounds, text = _spec(key, group, f, value, rs.gsa.swing, whole)
            out.append(Input(key, KINDS[group], value, whole, dist, bounds, text))
    return out


def problem(inputs: list[Input]) -> dict:
    """SALib's problem dict."""
    return {
        "num_vars": len(inputs),
        "names": [i.key for i in inputs],
        "bounds": [list(i.bounds) for i in inputs],
        "dists": [i.dist for i in inputs],
    }


def sample(settings: GsaSettings, prob: dict, seed: int) -> np.ndarray:
    """SALib's sample plan: Saltelli's scheme on a scrambled Sobol sequence (N*(k+2) points, N*(2k+2)
    with second order), or `trajectories` Morris trajectories of k+1 points. Seeded by the run's seed."""
    try:
        if settings.method == "sobol":
            from SALib.sample import sobol  # lazy: only global sensitivity needs SALib

            return sobol.sample(
                prob, settings.n, calc_second_order=settings.second_order, scramble=True, seed=seed
            )
        from SALib.sample import morris

        return morris.sample(prob, settings.trajectories, num_levels=settings.levels, seed=seed)
    except ValueError as exc:  # e.g. a triangular distribution SALib cannot scale
        text = " ".join(str(exc).split())
        raise ConfigError(f"config error: gsa: SALib rejected the inputs: {text}") from None


def n_points(settings: GsaSettings, k: int) -> int:
    """Sample points of a run with k inputs (the cost formula in docs/experiments.md)."""
    if settings.method == "sobol":
        return settings.n * (2 * k + 2 if settings.second_order else k + 2)
    return settings.trajectories * (k + 1)


def rounded(x: np.ndarray, inputs: list[Input]) -> np.ndarray:
    """The values a point runs with: whole-number keys rounded half up, uniform ones kept in range."""
    p = np.array(x, dtype=float, copy=True)
    for j, inp in enumerate(inputs):
        if inp.whole:
            p[:, j] = np.floor(p[:, j] + 0.5)
            if inp.dist == "unif":
                p[:, j] = np.clip(p[:, j], inp.bounds[0] + 0.5, inp.bounds[1] - 0.5)
    return p


def apply(base: dict, keys: tuple[str, ...], whole: tuple[bool, ...], row) -> dict:
    """The resolved config `base` with each key set to the point's value."""
    data = copy.deepcopy(base)
    for key, w, v in zip(keys, whole, row, strict=True):
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = int(v) if w else float(v)
    return data


@dataclass(frozen=True)
class Plan:
    """What a worker needs to run points: the resolved config, the varied keys, the point values,
    the replications per point and the metrics kept."""

    base: dict
    namespaces: tuple[str, ...]
    keys: tuple[str, ...]
    whole: tuple[bool, ...]
    points: np.ndarray
    replications: int
    metrics: tuple[str, ...]

    def scenario(self, i: int) -> Scenario:
        data = apply(self.base, self.keys, self.whole, self.points[i])
        try:
            sc, _ = load_run(data, self.namespaces)
        except ConfigError as exc:
            where = ", ".join(f"{k}={v:g}" for k, v in zip(self.keys, self.points[i], strict=True))
            raise ConfigError(f"{exc} (at the sample point {where})") from None
        return sc


def _point(plan: Plan, i: int, sc: Scenario | None = None) -> np.ndarray:
    """The metrics (rows) of every replication (columns) of point i: replication r of every point
    uses the same seeds (common random numbers)."""
    sc = sc or plan.scenario(i)
    out = np.empty((len(plan.metrics), plan.replications))
    for r in range(plan.replications):
        m = scalar_metrics(
            simulate_replication(sc, r), sc.costs.gross_margin, sc.costs.allocation, sc.costs.known
        )
        out[:, r] = [m.get(k, math.nan) for k in plan.metrics]
    return out


def _chunk(plan: Plan, items: list[int]) -> list[np.ndarray]:
    return [_point(plan, i) for i in items]


def check_metrics(plan: Plan) -> None:
    """Every metric named in gsa.metrics is one of the run's scalar metrics (checked on one
    replication of the first point, before the sample runs)."""
    sc = plan.scenario(0)
    m = scalar_metrics(
        simulate_replication(sc, 0), sc.costs.gross_margin, sc.costs.allocation, sc.costs.known
    )
    for name in plan.metrics:
        if name not in m:
            raise ConfigError(
                f"config error: gsa.metrics: '{name}' is not a metric of this run "
                "(docs/metrics.md lists them)"
            )


def analyse(
    settings: GsaSettings, prob: dict, x: np.ndarray, y: np.ndarray, seed: int
) -> tuple[pd.DataFrame | None, dict]:
    """SALib's analysis of one metric's point means `y`: the table rows (None when the metric is
    undefined at some point, e.g. CAC with no new customer) and the raw result (S2 for Sobol)."""
    if not np.isfinite(y).all():
        return None, {"skipped": f"undefined at {int((~np.isfinite(y)).sum())} of {len(y)} points"}
    names = prob["names"]
    if settings.method == "sobol":
        from SALib.analyze import sobol

        si = sobol.analyze(
            prob,
            y,
            calc_second_order=settings.second_order,
            num_resamples=settings.resamples,
            conf_level=CONF_LEVEL,
            seed=seed,
        )
        df = pd.DataFrame({"parameter": names} | {c: si[c] for c in SOBOL_COLUMNS[2:]})
        extra = {}
        if settings.second_order:
            extra = {
                "S2": np.nan_to_num(si["S2"]).tolist(),
                "S2_conf": np.nan_to_num(si["S2_conf"]).tolist(),
            }
        return df, extra
    from SALib.analyze import morris

    si = morris.analyze(
        prob,
        x,
        y,
        num_resamples=settings.resamples,
        conf_level=CONF_LEVEL,
        num_levels=settings.levels,
        seed=seed,
    )
    df = pd.DataFrame({"parameter": names} | {c: si[c] for c in [*MORRIS_COLUMNS[2:], "mu"]})
    return df, {}


def noise_share(reps: np.ndarray) -> float:
    """How much of the spread of the point means could be replication noise: the mean over points of
    (variance over replications / replications) against the variance of the point means. Under common
    random numbers part of that noise is shared by every point and cancels, so this is an upper
    bound; near 0 the indices describe the inputs, near 1 they describe luck (raise replications)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(reps, axis=1)
        spread = float(np.nanvar(means, ddof=1)) if len(means) > 1 else 0.0
        if reps.shape[1] < 2 or not spread or not math.isfinite(spread):
            return math.nan
        return float(np.nanmean(np.nanvar(reps, axis=1, ddof=1)) / reps.shape[1] / spread)


def run(
    base: dict,
    namespaces: tuple[str, ...],
    sc: Scenario,
    rs: RunSettings,
    outdir: Path | None = None,
    setup: str = "",
    progress: bool = False,
) -> RunResult:
    """Sample, run every point's replications on the executor, analyse each metric with SALib and, if
    `outdir` is given, write sobol.csv or morris.csv, its figure, <method>_points.csv (every point's
    inputs and metric means), report.md and summary.json. `base` is the run's resolved config."""
    assert rs.gsa is not None
    settings = rs.gsa
    inputs = inputs_of(rs, base)
    prob = problem(inputs)
    x = sample(settings, prob, sc.seed)
    plan = Plan(
        base=base,
        namespaces=namespaces,
        keys=tuple(i.key for i in inputs),
        whole=tuple(i.whole for i in inputs),
        points=rounded(x, inputs),
        replications=sc.replications,
        metrics=tuple(settings.metrics),
    )
    for i in range(len(x)):  # every point is a valid scenario before any runs
        plan.scenario(i)
    check_metrics(plan)
    from tqdm import tqdm  # lazy, as in sim.api

    reps = np.empty((len(settings.metrics), len(x), sc.replications))
    with tqdm(
        total=len(x), desc=settings.method, unit="point", file=sys.stderr, disable=not progress
    ) as bar:
        for i, out in enumerate(map_ordered(_chunk, plan, range(len(x)), rs.executor, rs.workers)):
            reps[:, i, :] = out
            bar.update(1)
    with warnings.catch_warnings():  # a point where the metric never applies stays NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(reps, axis=2)
    tables, extra = [], {}
    for j, metric in enumerate(settings.metrics):
        df, more = analyse(settings, prob, x, means[j], sc.seed)
        extra[metric] = more | {"noise_share": noise_share(reps[j])}
        if df is not None:
            df.insert(1, "metric", metric)
            tables.append(df)
    columns = SOBOL_COLUMNS if settings.method == "sobol" else [*MORRIS_COLUMNS, "mu"]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    kind = {i.key: i.kind for i in inputs}
    table["kind"] = table["parameter"].map(kind)
    points = pd.DataFrame(plan.points, columns=list(plan.keys))
    for j, metric in enumerate(settings.metrics):
        points[metric] = means[j]
    summary = strict(
        {
            "seed": sc.seed,
            "versions": versions(),
            "gsa": {
                "method": settings.method,
                "points": len(x),
                "replications": sc.replications,
                "runs": len(x) * sc.replications,
                "settings": settings.model_dump(),
                "inputs": [
                    {"parameter": i.key, "kind": i.kind, "baseline": i.baseline, "dist": i.text}
                    for i in inputs
                ],
                "metrics": {
                    m: {
                        "rows": table[table["metric"] == m]
                        .drop(columns="metric")
                        .to_dict(orient="records"),
                        **extra[m],
                    }
                    for m in settings.metrics
                },
            },
        }
    )
    if outdir is not None:
        name = settings.method
        with staged(Path(outdir)) as stage, money.using(sc.currency):
            table.to_csv(stage / f"{name}.csv", index=False, lineterminator="\n")
            points.to_csv(stage / f"{name}_points.csv", index=False, lineterminator="\n")
            (figure_sobol if name == "sobol" else figure_morris)(table, stage / f"{name}.png")
            text = report_md(summary, table, inputs, setup)
            (stage / "report.md").write_text(text)
            # the verdicts first: each metric's ranking of the inputs
            first = [f"{label(m)} (`{m}`)" for m in settings.metrics]
            html_report.write(stage, text, first=first, config=scenario_yaml(sc))
            (stage / "summary.json").write_text(summary_json(summary))
    reps_df = pd.DataFrame(
        {
            "point": np.repeat(np.arange(len(x)), sc.replications),
            "replication": np.tile(np.arange(sc.replications), len(x)),
        }
        | {m: reps[j].reshape(-1) for j, m in enumerate(settings.metrics)}
    )
    return RunResult(summary, reps_df, pd.DataFrame(), pd.DataFrame(), None, 0)


def _order(table: pd.DataFrame, metric: str, by: str) -> pd.DataFrame:
    return table[table["metric"] == metric].sort_values(by, kind="stable")


KIND_COLOR = {"uncertainty": "#4C72B0", "lever": "#DD8452"}


def figure_sobol(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric: each input's first-order (S1, light) and total (ST, dark) Sobol index
    with its bootstrap 95 % interval, largest ST on top; lever names in orange, uncertainties blue."""
    plt = plots.mpl().pyplot
    metrics = list(dict.fromkeys(table["metric"])) or ["(none)"]
    k = max(1, table["parameter"].nunique())
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(6.5 * len(metrics), 1.4 + 0.5 * k), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        t = _order(table, metric, "ST")
        y = np.arange(len(t))
        for col, off, color in (("ST", 0.18, "#2F4B7C"), ("S1", -0.18, "#A0B7D8")):
            ax.barh(y + off, t[col], height=0.36, color=color, label=col)
            ax.errorbar(
                t[col], y + off, xerr=t[f"{col}_conf"], fmt="none", ecolor="k", capsize=2, lw=0.8
            )
        ax.set_yticks(y, list(t["parameter"]), fontsize=8)
        for tick, kind in zip(ax.get_yticklabels(), t["kind"], strict=True):
            tick.set_color(KIND_COLOR.get(kind, "k"))
        ax.axvline(0, color="k", lw=0.8)
        ax.axvline(1, color="grey", ls=":", lw=0.8)  # all of the variance
        # indices are shares (0..1), but small samples give estimates and whiskers past either end:
        # shown, not clipped, so a reader sees the sample is too small
        ends = pd.concat([t["S1"] - t["S1_conf"], t["ST"] - t["ST_conf"]]) if len(t) else None
        tops = pd.concat([t["S1"] + t["S1_conf"], t["ST"] + t["ST_conf"]]) if len(t) else None
        ax.set_xlim(
            min(-0.05, float(ends.min()) * 1.05) if ends is not None else -0.05,
            max(1.05, float(tops.max()) * 1.05) if tops is not None else 1.05,
        )
        ax.set_xlabel("share of the variance of the metric's mean")
        ax.set_title(label(metric), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", title="whiskers: 95% bootstrap", title_fontsize=7)
    fig.suptitle(
        "Sobol indices: S1 the input alone, ST with its interactions (blue: uncertainty, orange: lever)",
        fontsize=11,
    )
    plots.save(fig, path)


def figure_morris(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric: each input's mu* (mean absolute elementary effect, with its bootstrap
    95 % interval) against sigma (their spread: non-linearity or interactions), with the lines
    sigma = 0.5 mu* and sigma = mu* that split near-linear from interacting inputs."""
    plt = plots.mpl().pyplot
    metrics = list(dict.fromkeys(table["metric"])) or ["(none)"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(9.0 * len(metrics), 5.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        t = _order(table, metric, "mu_star")
        for kind, color in KIND_COLOR.items():
            s = t[t["kind"] == kind]
            ax.errorbar(
                s["mu_star"], s["sigma"], xerr=s["mu_star_conf"], fmt="o", color=color,
                ecolor=color, capsize=2, lw=0.8, label=kind,
            )  # fmt: skip
        top = float(max(t["mu_star"].max(), t["sigma"].max(), 1e-12)) * 1.15 if len(t) else 1.0
        for ratio, style in ((1.0, "--"), (0.5, ":")):
            ax.plot([0, top], [0, ratio * top], color="grey", ls=style, lw=0.8,
                    label=f"sigma = {ratio:g} mu*")  # fmt: skip
        # points are numbered by rank (largest mu* first) and named in a key beside the panel, since
        # inputs with similar effects sit on top of each other
        ranked = t.sort_values("mu_star", ascending=False, kind="stable")
        for n, (_, r) in enumerate(ranked.iterrows(), start=1):
            ax.annotate(str(n), (r["mu_star"], r["sigma"]), fontsize=8, fontweight="bold",
                        xytext=(4, 3), textcoords="offset points")  # fmt: skip
        key = "\n".join(f"{n}  {p}" for n, p in enumerate(ranked["parameter"], start=1))
        ax.text(1.02, 1.0, key, transform=ax.transAxes, fontsize=7.5, va="top", family="monospace")
        ax.set_xlim(0, top)
        high = float((t["sigma"]).max()) * 1.3 if len(t) else top
        ax.set_ylim(0, max(high, 1e-12) if high > 0 else top)
        _, fmt = _title_fmt(metric)
        ax.xaxis.set_major_formatter(fmt)
        ax.yaxis.set_major_formatter(fmt)
        ax.set_xlabel("mu*: mean |elementary effect| (change over the input's whole range)")
        ax.set_ylabel("sigma: spread of the elementary effects")
        ax.set_title(label(metric), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Morris screening: far right matters, high up interacts or bends", fontsize=11)
    plots.save(fig, path)


def _title_fmt(metric: str):
    title, fmt = plots.title_and_format(metric)
    return title, plots._axis_fmt(fmt)


def _num(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.2f}"


def report_md(summary: dict, table: pd.DataFrame, inputs: list[Input], setup: str = "") -> str:
    """report.md: the inputs and their distributions, the indices per metric in words and tables,
    the figure, how to read it and what the run cost."""
    g = summary["gsa"]
    method = g["method"]
    title = "Sobol indices" if method == "sobol" else "Morris screening"
    out = [f"# Global sensitivity: {title}", ""]
    if setup:
        out += [setup, ""]
    out += [
        f"{len(inputs)} inputs varied together, {g['points']} sample points x {g['replications']} "
        f"replications = {g['runs']} runs, every point on the same replication seeds (common random "
        f"numbers, seed {summary['seed']}). A point's metric is its mean over the replications.",
        "",
        "| input | kind | baseline | distribution |",
        "|---|---|---:|---|",
    ]
    out += [f"| {i.key} | {i.kind} | {i.baseline:,g} | {i.text} |" for i in inputs]
    for metric, m in g["metrics"].items():
        out += ["", f"## {label(metric)} (`{metric}`)", ""]
        if "skipped" in m:
            out += [f"Not analysed: the metric is {m['skipped']}.", ""]
            continue
        rows = m["rows"]
        noise = m.get("noise_share")
        if method == "sobol":
            rows = sorted(rows, key=lambda r: -r["ST"])
            top = rows[0]
            out += [
                f"**{top['parameter']}** explains the most: ST {_num(top['ST'])} "
                f"(± {_num(top['ST_conf'])}), alone S1 {_num(top['S1'])}. "
                f"Replication noise could account for at most {_num(noise)} of the variance of the "
                "point means.",
                "",
                "| input | kind | S1 | S1 95% ± | ST | ST 95% ± |",
                "|---|---|---:|---:|---:|---:|",
            ]
            out += [
                f"| {r['parameter']} | {r['kind']} | {_num(r['S1'])} | {_num(r['S1_conf'])} | "
                f"{_num(r['ST'])} | {_num(r['ST_conf'])} |"
                for r in rows
            ]
        else:
            rows = sorted(rows, key=lambda r: -r["mu_star"])
            top = rows[0]
            out += [
                f"**{top['parameter']}** moves it most: mu* {format_metric(metric, top['mu_star'])} "
                f"(± {format_metric(metric, top['mu_star_conf'])}). Replication noise could account "
                f"for at most {_num(noise)} of the variance of the point means.",
                "",
                "| input | kind | mu* | mu* 95% ± | mu (signed) | sigma |",
                "|---|---|---:|---:|---:|---:|",
            ]
            out += [
                f"| {r['parameter']} | {r['kind']} | {format_metric(metric, r['mu_star'])} | "
                f"{format_metric(metric, r['mu_star_conf'])} | {format_metric(metric, r['mu'])} | "
                f"{format_metric(metric, r['sigma'])} |"
                for r in rows
            ]
    out += ["", "## Figure", "", f"![{method}]({method}.png)", "", "## How to read it", ""]
    if method == "sobol":
        out += [
            "S1 is the share of the metric's variance an input explains alone; ST adds every "
            "interaction it takes part in. ST near 0 (within its interval): the input can be fixed "
            "anywhere in its range. ST well above S1: the input matters through others (its effect "
            "depends on them). The S1 add up to at most 1; the gap to 1 is interactions (and noise). "
            "Intervals are SALib's bootstrap over the sample points; a negative S1 or an interval "
            "across 0 means too few points (raise gsa.n).",
        ]
    else:
        out += [
            "mu* is the mean absolute change of the metric when an input moves by a step of its grid, "
            "scaled to the input's whole range; sigma is the spread of those changes. Large mu*, "
            "small sigma: a strong, near-linear input. Large sigma (above the dashed line sigma = "
            "mu*): its effect depends on where the other inputs are (interactions) or bends. Small "
            "both: screen it out. Morris ranks inputs at a fraction of Sobol's runs but does not "
            "apportion variance.",
        ]
    return "\n".join(out) + "\n"
