"""Sweeps (`salesim -m`): each job's record, the score of a preset's objective (`<preset>.objective`,
to name a grid's best job; optimisation itself is sim/optimise.py), and the sweep-level table and
response plots gathered when the sweep ends.

A job writes its own files into its directory (Hydra's callbacks never see job returns, and the
jobs may run on other processes or machines): `summary.json` from the run, then `job.json`
(overrides, a fingerprint of the composed config, the objective) once it is complete, or
`failure.json` (the error line) when its config is rejected. `SweepSummary.on_multirun_end` reads
those files back into `sweep_summary.parquet` / `.csv` and draws the response plots.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.compose import experiment_namespaces
from sim.config import ConfigError
from sim.stats import SUMMARY_KEYS

JOB_FILE = "job.json"
FAILURE_FILE = "failure.json"
SUMMARY_FILE = "summary.json"
TABLE = "sweep_summary"
# Run settings that change how a job runs but never its results (docs/configuration.md): a re-run
# with another executor or worker count still skips the jobs already complete.
NOT_FINGERPRINTED = ("executor", "workers", "progress", "overwrite")


# --- the job side -------------------------------------------------------------------------------


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)


def fingerprint(cfg: DictConfig) -> str | None:
    """SHA-256 of the composed job config (resolved), leaving out the run settings that cannot
    change results. None if the config does not resolve (the run itself will report why)."""
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        return None
    data = {k: v for k, v in data.items() if k not in NOT_FINGERPRINTED}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Objective:
    """What a grid preset's objective maximises: `metric`'s `stat` in `scenario`'s summary, subject to
    upper (`max`) or lower (`min`) limits on other metrics' statistics (the job's return value)."""

    metric: str
    stat: str
    scenario: str | None
    constraints: tuple[dict, ...]
    key: str = "objective"  # where the spec sits in the config, for error messages

    def score(self, summary: dict) -> tuple[float | None, bool]:
        """(value returned to the sweeper, feasible). A feasible job returns the metric itself; one
        that breaks a constraint returns minus its total relative excess (payback 20 months
        against a limit of 18 returns -0.11), which ranks below every feasible job of a
        non-negative metric and above a worse miss, so the search is steered back. An undefined
        constraint metric counts as an excess of 1."""
        scens = summary["scenarios"]
        name = self.scenario or next(iter(scens))
        if name not in scens:
            raise ConfigError(
                f"config error: {self.key}.scenario = {name!r}: the run has scenarios "
                + ", ".join(scens)
            )
        metrics = scens[name]["metrics"]
        for where, m in [("metric", self.metric)] + [
            (f"constraints[{i}].metric", c["metric"]) for i, c in enumerate(self.constraints)
        ]:
            if m not in metrics:
                raise ConfigError(
                    f"config error: {self.key}.{where} = {m!r}: not a metric of this run "
                    "(docs/metrics.md; e.g. arr_end, bookings, cac, cac_payback_months, win_rate)"
                )

        def stat(metric: str, s: str) -> float | None:
            v = metrics[metric].get(s)
            return None if v is None or not math.isfinite(v) else float(v)

        excess = 0.0
        for c in self.constraints:
            v = stat(c["metric"], c["stat"])
            if v is None:
                excess += 1.0
                continue
            if c.get("max") is not None and v > c["max"]:
                excess += (v - c["max"]) / max(abs(c["max"]), 1e-12)
            if c.get("min") is not None and v < c["min"]:
                excess += (c["min"] - v) / max(abs(c["min"]), 1e-12)
        if excess > 0:
            return -excess, False
        return stat(self.metric, self.stat), True


def objective_spec(cfg: DictConfig) -> Objective | None:
    """The `objective:` block of the experiment preset in use (`<preset>.objective`), or None.

    Only maximisation is supported: the penalty for a broken constraint relies on it.
    """
    for ns in experiment_namespaces():
        spec = OmegaConf.select(cfg, f"{ns}.objective", default=None)
        if spec is None:
            continue
        key = f"{ns}.objective"
        spec = OmegaConf.to_container(spec, resolve=True)
        if not isinstance(spec, dict) or "metric" not in spec:
            raise ConfigError(f"config error: {key} = {spec!r}: a mapping with `metric` is needed")
        extra = set(spec) - {"metric", "stat", "direction", "scenario", "constraints"}
        if extra:
            raise ConfigError(
                f"config error: {key}.{sorted(extra)[0]}: unknown key; allowed are metric, stat, "
                "direction, scenario, constraints"
            )
        if spec.get("direction", "maximize") != "maximize":
            raise ConfigError(
                f"config error: {key}.direction = {spec['direction']!r}: only 'maximize' is "
                "supported (the penalty for a broken constraint relies on it)"
            )
        st = spec.get("stat", "mean")
        if st not in SUMMARY_KEYS:
            raise ConfigError(
                f"config error: {key}.stat = {st!r}: allowed are {', '.join(SUMMARY_KEYS)}"
            )
        cons = []
        for i, c in enumerate(spec.get("constraints") or []):
            ck = f"{key}.constraints[{i}]"
            if not isinstance(c, dict) or "metric" not in c or not ({"max", "min"} & set(c)):
                raise ConfigError(
                    f"config error: {ck} = {c!r}: needs `metric` and `max` and/or `min`"
                )
            if c.get("stat", "p50") not in SUMMARY_KEYS:
                raise ConfigError(
                    f"config error: {ck}.stat = {c['stat']!r}: allowed are {', '.join(SUMMARY_KEYS)}"
                )
            for b in ("max", "min"):
                if b in c and (not isinstance(c[b], int | float) or isinstance(c[b], bool)):
                    raise ConfigError(f"config error: {ck}.{b} = {c[b]!r}: a number is required")
            cons.append({"stat": "p50", **c})
        return Objective(spec["metric"], st, spec.get("scenario"), tuple(cons), key)
    return None


@dataclass
class SweepJob:
    """One job of a multirun, seen from inside the job: its directory and overrides.

    `complete` is True when an earlier run of this job directory finished with the same
    overrides and the same composed config (summary.json and job.json present, fingerprints
    equal). Otherwise the markers an earlier run left are removed, so a job that stops part-way
    never looks complete.
    """

    outdir: Path
    overrides: list[str]
    fingerprint: str | None
    complete: bool = False

    def __post_init__(self) -> None:
        rec = _read_json(self.outdir / JOB_FILE)
        self.complete = (
            self.fingerprint is not None
            and (self.outdir / SUMMARY_FILE).is_file()
            and rec is not None
            and sorted(rec.get("overrides", [])) == sorted(self.overrides)
            and rec.get("fingerprint") == self.fingerprint
        )
        if not self.complete:
            for name in (JOB_FILE, FAILURE_FILE):
                (self.outdir / name).unlink(missing_ok=True)

    def skip(self) -> float | None:
        rec = _read_json(self.outdir / JOB_FILE) or {}
        _write_json(self.outdir / JOB_FILE, {**rec, "status": "skipped-complete"})
        print(f"skipped (complete): {self.outdir} [{' '.join(self.overrides)}]")
        return rec.get("objective")

    def fail(self, exc: ConfigError) -> None:
        """Record a rejected config and print the error; the sweep goes on with the other jobs."""
        error = str(exc).strip()
        (self.outdir / JOB_FILE).unlink(missing_ok=True)
        _write_json(
            self.outdir / FAILURE_FILE,
            {"status": "failed", "overrides": self.overrides, "error": error},
        )
        print(f"job failed [{' '.join(self.overrides)}]: {error}", file=sys.stderr)

    def finish(self, objective: Objective | None) -> float | None:
        """Mark the job complete; return the objective value (None when there is no objective)."""
        value, feasible = None, None
        if objective is not None:
            summary = json.loads((self.outdir / SUMMARY_FILE).read_text())
            try:
                value, feasible = objective.score(summary)
            except ConfigError as exc:
                return self.fail(exc)
            shown = "undefined" if value is None else f"{value:,.6g}"
            print(f"objective: {shown} ({'constraints met' if feasible else 'constraint broken'})")
        _write_json(
            self.outdir / JOB_FILE,
            {
                "status": "ok",
                "overrides": self.overrides,
                "fingerprint": self.fingerprint,
                "objective": value,
                "feasible": feasible,
                "objective_spec": None if objective is None else asdict(objective),
            },
        )
        return value


def job_for(cfg: DictConfig, outdir: Path) -> SweepJob | None:
    """The SweepJob of this run if it is a job of `salesim -m`, else None."""
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    return SweepJob(outdir, list(hc.overrides.task), fingerprint(cfg))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- the sweep side -----------------------------------------------------------------------------


def _param(override: str) -> tuple[str, Any]:
    """(column name, value) of one override: `team.ae.count=8` -> ("team.ae.count", 8)."""
    o = OverridesParser.create().parse_overrides([override])[0]
    name = o.key_or_group + (f"@{o.package}" if o.package else "")
    value = o.value()
    if o.is_delete():
        value = "(deleted)"
    elif isinstance(value, list | dict):
        value = o.get_value_element_as_str()
    return name, value


def _natural(p: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p)]


def _is_sweep_job(job_dir: Path, output_subdir: str) -> bool:
    """A directory written by a job of a multirun (not a single run that happens to sit below
    the sweep directory): Hydra records `mode: MULTIRUN` in its hydra.yaml."""
    try:
        text = (job_dir / output_subdir / "hydra.yaml").read_text()
    except OSError:
        return True  # hydra.yaml missing: keep the job rather than lose a row
    return re.search(r"^\s*mode: RUN\s*$", text, re.M) is None


def job_dirs(sweep_dir: Path, output_subdir: str = ".hydra") -> list[Path]:
    """Every job directory under the sweep directory (any `hydra.sweep.subdir` pattern), in
    natural order (2 before 10)."""
    found = {p.parent.parent for p in sweep_dir.rglob(f"{output_subdir}/overrides.yaml")}
    found = {d for d in found if _is_sweep_job(d, output_subdir)}
    return sorted(found, key=lambda d: _natural(d.relative_to(sweep_dir).as_posix()))


def job_rows(job_dir: Path, name: str, output_subdir: str = ".hydra") -> list[dict]:
    """The table rows of one job: one per scenario, or one for a failed or unfinished job."""
    overrides = yaml.safe_load((job_dir / output_subdir / "overrides.yaml").read_text()) or []
    params = dict(_param(o) for o in overrides)
    failure = _read_json(job_dir / FAILURE_FILE)
    summary = _read_json(job_dir / SUMMARY_FILE)
    rec = _read_json(job_dir / JOB_FILE) or {}
    head = {"job": name}
    if failure is not None or summary is None or not rec:
        error = (
            failure["error"]
            if failure
            else "the job stopped before it finished (no job.json), or is still running"
        )
        status = "failed" if failure else "incomplete"
        return [{**head, "scenario": None, "status": status, "error": error, **params}]
    rows = []
    base = summary.get("baseline")
    comparisons = summary.get("comparisons") or {}
    for scen_name, scen in summary["scenarios"].items():
        row = {
            **head,
            "scenario": scen_name,
            "status": rec["status"],
            "error": None,
            **params,
            "objective": rec.get("objective"),
            "feasible": rec.get("feasible"),
            "replications": scen.get("replications"),
        }
        for metric, stats in scen["metrics"].items():
            for st, v in stats.items():
                row[f"{metric}.{st}"] = v
        for metric, diff in (comparisons.get(f"{scen_name} vs {base}") or {}).items():
            for st, v in (diff or {}).items():
                row[f"vs_baseline.{metric}.{st}"] = v
        rows.append(row)
    return rows


def gather(sweep_dir: Path, output_subdir: str = ".hydra"):
    """The sweep table (pandas DataFrame) and the names of its parameter columns."""
    import pandas as pd  # lazy: 0.3 s that `salesim` (which imports this module) pays only at a sweep's end

    rows, params = [], []
    for d in job_dirs(sweep_dir, output_subdir):
        for o in yaml.safe_load((d / output_subdir / "overrides.yaml").read_text()) or []:
            k = _param(o)[0]
            if k not in params:
                params.append(k)
        rows += job_rows(d, d.relative_to(sweep_dir).as_posix(), output_subdir)
    table = pd.DataFrame(rows)
    if table.empty:
        return table, params
    # A swept `replications` shares its column with the run's own count (the same number).
    front = ["job", "scenario", "status", "error", *params, "objective", "feasible"]
    front = [c for c in dict.fromkeys(front + ["replications"]) if c in table]
    table = table[front + [c for c in table.columns if c not in front]]
    for p in params:  # one type per column: numbers stay numbers, anything else becomes text
        num = pd.to_numeric(table[p], errors="coerce")
        if num.notna().sum() == table[p].notna().sum():
            table[p] = num
        else:
            table[p] = table[p].map(lambda v: None if v is None else str(v))
    for c in ("job", "scenario", "status", "error"):
        table[c] = table[c].astype("string")
    if "objective" in table and table["objective"].isna().all():
        table = table.drop(columns=["objective", "feasible"])  # no objective in this sweep
    elif "objective" in table:
        table["objective"] = table["objective"].astype(float)
        table["feasible"] = table["feasible"].astype("boolean")
    return table, params


def write_table(table, sweep_dir: Path) -> list[Path]:
    """sweep_summary.parquet and sweep_summary.csv, each written whole then moved into place."""
    out = []
    for ext in ("parquet", "csv"):
        path = sweep_dir / f"{TABLE}.{ext}"
        tmp = sweep_dir / f".{TABLE}.{ext}.tmp"
        if ext == "parquet":
            table.to_parquet(tmp, index=False)
        else:  # money to cents, like every other CSV salesim writes (the Parquet keeps it all)
            from sim.report import to_csv  # outputs layer; imported where used (start-up)

            to_csv(table, tmp)
        tmp.replace(path)
        out.append(path)
    return out


def write_report(table, params: list[str], figures: list[Path], sweep_dir: Path, currency=None):
    """report.md and report.html of the sweep folder (sim.sweep_plots.report_md), each written
    whole then moved into place."""
    from sim import html_report, money  # lazy, like the figures: the outputs layer
    from sim.sweep_plots import report_md

    with money.using(currency):
        text = report_md(table, params, figures)
    for name, body in (
        ("report.md", text),
        (html_report.FILE, html_report.render(text, sweep_dir)),
    ):
        tmp = sweep_dir / f".{name}.tmp"
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(sweep_dir / name)


class SweepSummary(Callback):
    """Hydra callback (configs/config.yaml, `hydra.callbacks`): when a multirun ends, gather
    every job into the sweep table, draw the response plots, and exit with status 2 if any job
    failed (after writing the table, so scripts notice and users can see which)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        subdir = str(config.hydra.output_subdir or ".hydra")
        if not sweep_dir.is_dir():
            return
        table, params = gather(sweep_dir, subdir)
        if table.empty:
            return
        write_table(table, sweep_dir)
        # lazy: the figures pull in matplotlib, numpy and pandas; Hydra builds this callback for
        # every `salesim` run, so the module itself stays light
        from sim.sweep_plots import response_plots

        try:  # a figure that cannot be drawn must not hide the table or the exit status
            figures = response_plots(table, params, sweep_dir, config.get("currency"))
        except Exception as exc:
            print(f"sweep: no response plot ({type(exc).__name__}: {exc})", file=sys.stderr)
            figures = []
        try:  # report.md and report.html: the table and figures in one file to send
            write_report(table, params, figures, sweep_dir, config.get("currency"))
        except Exception as exc:
            print(f"sweep: no report ({type(exc).__name__}: {exc})", file=sys.stderr)
        by_status = table.drop_duplicates("job")["status"].value_counts()
        print(
            f"sweep: {table['job'].nunique()} jobs ("
            + ", ".join(f"{n} {s}" for s, n in by_status.items())
            + f"), table: {sweep_dir / TABLE}.parquet and .csv"
        )
        for f in figures:
            print(f"sweep figure: {f}")
        if "objective" in table and table["objective"].notna().any():
            best = table.loc[table["objective"].astype(float).idxmax()]
            shown = ", ".join(f"{p}={best[p]}" for p in params if table[p].nunique() > 1)
            print(f"best job: {best['job']} objective {best['objective']:,.6g} ({shown})")
            if not table["feasible"].fillna(False).any():
                print("no job met the objective's constraints: the best is the nearest miss")
        bad = table[table["status"].isin(["failed", "incomplete"])].drop_duplicates("job")
        if len(bad):
            for r in bad.itertuples():
                print(f"job {r.job} {r.status}: {r.error}", file=sys.stderr)
            print(
                f"sweep finished with {len(bad)} of {table['job'].nunique()} jobs not complete",
                file=sys.stderr,
            )
            sys.exit(2)
