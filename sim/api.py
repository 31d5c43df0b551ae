"""The Python API for notebooks: `simulate(["motion=plg", "replications=50"])`."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from sim.cli import CONFIG_DIR, resolve
from sim.config import ConfigError, RunSettings
from sim.experiment import RunResult, run_scenario
from sim.report import write_outputs


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The composed config for these overrides, exactly as `salesim` would see it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
        return compose(config_name="config", overrides=list(overrides or []))


def setup_of(overrides: list[str]) -> str:
    """The report's setup line for these overrides, as the `salesim` command writes it."""
    from sim.report import setup_text

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    return setup_text(cfg.hydra.runtime.choices, list(overrides))


def simulate(
    overrides: list[str] | DictConfig | None = None,
    outdir: str | Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Run a scenario and return its summary (the summary.json dict) and tables as data frames.

    `overrides` are command-line style overrides or an already composed config. Nothing is written
    unless `outdir` is given. Raises sim.config.ConfigError for a bad config.
    """
    cfg = overrides if isinstance(overrides, DictConfig) else compose_config(overrides)
    sc, rs = resolve(cfg)
    if rs.compare is not None or rs.sensitivity is not None:
        if isinstance(overrides, DictConfig):
            raise ConfigError(
                "config error: compare: a comparison re-composes each scenario from overrides; "
                "pass the overrides list (simulate([...])), not a composed config"
            )
        return compare(rs, cfg, list(overrides or []), outdir)
    res = run_scenario(sc, rs.executor, rs.workers)
    if outdir is not None:
        setup = "" if isinstance(overrides, DictConfig) else setup_of(overrides or [])
        write_outputs(res, sc, Path(outdir), rs.tables, setup=setup)
    return res


def compare(
    rs: RunSettings, cfg: DictConfig, base: list[str], outdir: str | Path | None = None
) -> RunResult:
    """Run the scenarios of a `compare` block (or `sensitivity` swings) on common random numbers; the
    result's summary has `scenarios` and `comparisons`, its tables a `scenario` column."""
    from hydra import compose

    from sim.cli import compose_scenario
    from sim.compare import combined, run_planned
    from sim.report import write_compare_outputs

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
        cres = run_planned(
            rs,
            cfg,
            lambda name, own: compose_scenario(compose, base, name, own),
            lambda s, r: run_scenario(s, r.executor, r.workers),
        )
    if outdir is not None:
        write_compare_outputs(cres, Path(outdir), rs.tables, setup=setup_of(base))
    return combined(cres)
