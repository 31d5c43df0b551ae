"""The Python API for notebooks: `simulate(["motion=plg", "replications=50"])`."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from sim.cli import CONFIG_DIR, resolve
from sim.experiment import RunResult, run_scenario
from sim.report import write_outputs


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The composed config for these overrides, exactly as `salesim` would see it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
        return compose(config_name="config", overrides=list(overrides or []))


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
    res = run_scenario(sc, rs.executor.kind, rs.workers)
    if outdir is not None:
        write_outputs(res, sc, Path(outdir), rs.tables)
    return res
