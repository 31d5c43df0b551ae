"""The Python API and the one orchestration of a run.

    from sim import simulate
    res = simulate(["motion=plg", "replications=50"])

`run(cfg, outdir)` runs whatever a composed config asks for (one scenario, a comparison, or
sensitivity swings) and writes its files; the `salesim` command wraps it and `simulate` calls it, so
the two write identical files for the same overrides.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from sim import capacity_plan
from sim.compare import combined, run_planned
from sim.compose import (
    compose_config,
    experiment_namespaces,
    resolve,
    scenario_composer,
    setup_of,
)
from sim.config import ConfigError, RunSettings, Scenario, check_size, effective_workers
from sim.experiment import RunResult, run_scenario
from sim.report import write_compare_outputs, write_outputs

__all__ = ["compose_config", "run", "simulate"]


def execute(sc: Scenario, rs: RunSettings, progress: bool = False) -> RunResult:
    """Run one scenario's replications on its executor, with a progress bar on stderr if asked."""
    with tqdm(
        total=sc.replications,
        desc=f"{sc.scenario.name}",
        unit="rep",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    ) as bar:
        return run_scenario(sc, rs.executor, effective_workers(sc, rs), progress=bar.update)


# what a run can do besides one scenario; the first three each run alone, in this order of precedence
SEARCHES = (
    ("gsa", "global sensitivity runs alone"),
    ("plan", "a capacity plan runs alone"),
    ("optimise", "an optimisation runs alone"),
)


def _one_search(rs: RunSettings) -> None:
    """Refuse, in one line naming the others, a global sensitivity, capacity plan or optimisation
    asked for together with anything else a run can do (never one silently ignored)."""
    for key, rule in SEARCHES:
        if getattr(rs, key) is None:
            continue
        others = [
            k
            for k in ("compare", "sensitivity", "gsa", "plan", "optimise")
            if k != key and getattr(rs, k) is not None
        ]
        if others:
            raise ConfigError(f"config error: {key}: {rule}; remove {' / '.join(others)}")


def run(
    cfg: DictConfig,
    outdir: str | Path | None = None,
    overrides: list[str] | None = None,
    setup: str = "",
    progress: bool = False,
) -> RunResult:
    """Run what `cfg` asks for and, if `outdir` is given, write its files there; `setup` heads
    report.md. A comparison or sensitivity run re-composes each scenario from `overrides` (the run's
    own) plus the scenario's, so it needs them; its result stacks every scenario's tables under the
    joint summary. Raises ConfigError for a bad config."""
    sc, rs = resolve(cfg)
    for line in check_size(sc, rs):  # refuses (ConfigError) what cannot fit, before any work
        print(line, file=sys.stderr)
    _one_search(rs)
    if rs.gsa is not None:  # experiment=sobol / morris: global sensitivity (sim.gsa)
        from sim import gsa  # lazy: SALib is imported only for global sensitivity

        base = OmegaConf.to_container(cfg, resolve=True)
        return gsa.run(
            base, experiment_namespaces(), sc, rs, outdir and Path(outdir), setup, progress
        )
    if rs.plan is not None:  # experiment=capacity_plan: a search over plans (sim.capacity_plan)
        base = OmegaConf.to_container(cfg, resolve=True)
        return capacity_plan.run(
            base, experiment_namespaces(), sc, rs, outdir and Path(outdir), setup, progress
        )
    if rs.optimise is not None:  # experiment=optimise_*: an Optuna study (sim.optimise)
        from sim import optimise  # lazy: imports Optuna only when asked for

        return optimise.run(cfg, sc, rs, outdir and Path(outdir), setup, progress)
    if (rs.compare is not None or rs.sensitivity is not None) and overrides is None:
        raise ConfigError(
            "config error: compare: a comparison re-composes each scenario from overrides; "
            "pass the overrides list (simulate([...])), not a composed config"
        )
    cres = run_planned(
        rs, cfg, scenario_composer(list(overrides or [])), lambda s, r: execute(s, r, progress)
    )
    if cres is not None:
        if outdir is not None:
            write_compare_outputs(cres, Path(outdir), rs.tables, setup=setup)
        return combined(cres)
    res = execute(sc, rs, progress)
    if outdir is not None:
        write_outputs(res, sc, Path(outdir), rs.tables, setup=setup)
    return res


def simulate(
    overrides: list[str] | DictConfig | None = None,
    outdir: str | Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Run a scenario and return its summary (the summary.json dict) and tables as data frames.

    `overrides` are command-line style overrides or an already composed config. Nothing is written
    unless `outdir` is given. Raises sim.config.ConfigError for a bad config.
    """
    if isinstance(overrides, DictConfig):
        return run(overrides, outdir, progress=progress)
    overrides = list(overrides or [])
    setup = setup_of(overrides) if outdir is not None else ""
    return run(compose_config(overrides), outdir, overrides, setup, progress)
