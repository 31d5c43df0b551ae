"""Composing configs: the Hydra config folder, its resolvers, and a validated scenario from overrides.

The `salesim` command, the Python API, sweeps and the validation checks all compose configs the same
way through this module, so none of them imports another to borrow it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config import ConfigError, RunSettings, Scenario, load_run

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")

# Arithmetic for configs that derive one value from another, e.g. the M/M/c preset's
# horizon_days: ${div:${mmc.leads},${mmc.arrival_rate}}.
for _name, _fn in {
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
}.items():
    OmegaConf.register_new_resolver(_name, _fn, replace=True)


def experiment_namespaces() -> tuple[str, ...]:
    """Top-level keys that hold an experiment preset's own knobs (`mmc.servers`): one per file in
    configs/experiment/, named like it. They feed interpolations and are not scenario keys."""
    return tuple(sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")))


def resolve(cfg: DictConfig) -> tuple[Scenario, RunSettings]:
    """Resolve interpolations and validate; every problem becomes a ConfigError."""
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigError(
            f"config error: {key}: {msg}" if key else f"config error: {msg}"
        ) from None
    return load_run(data, experiment_namespaces())


def compose_config(overrides: list[str] | None = None, hydra: bool = False) -> DictConfig:
    """The composed config for these overrides, exactly as `salesim` would see it (`hydra`: with the
    `hydra` node, whose runtime choices name the presets picked)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
        return compose(
            config_name="config", overrides=list(overrides or []), return_hydra_config=hydra
        )


def scenario_overrides(base: list[str], own: list[str]) -> list[str]:
    """A compared scenario's overrides: the run's, then its own; a run override of a key the
    scenario sets itself is dropped (the scenario's value wins)."""

    def key(o: str) -> str:
        return o.split("=", 1)[0].lstrip("+~")

    mine = {key(o) for o in own}
    return [o for o in base if key(o) not in mine] + list(own)


def compose_scenario(
    compose: Callable[..., DictConfig], base: list[str], name: str, own: list[str]
) -> tuple[Scenario, RunSettings]:
    """Compose and validate one compared scenario; Hydra's own errors name the scenario."""
    try:
        cfg = compose(config_name="config", overrides=scenario_overrides(base, own))
    except HydraException as exc:
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"config error: compare.scenarios.{name} = {own}: {msg}") from None
    return resolve(cfg)


def scenario_composer(base: list[str]) -> Callable[[str, list[str]], tuple[Scenario, RunSettings]]:
    """`compose(name, own)` for a comparison outside a Hydra app: each compared scenario is composed
    from the config folder with the run's overrides `base` and its own."""

    def one(name: str, own: list[str]) -> tuple[Scenario, RunSettings]:
        if GlobalHydra.instance().is_initialized():  # inside a Hydra app: its own search path
            return compose_scenario(compose, base, name, own)
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="salesim"):
            return compose_scenario(compose, base, name, own)

    return one


# Overrides that change how a run executes or where it writes, never its results: left out of the
# setup line, so the files are identical whichever executor ran them.
RUN_ONLY = ("hydra", "executor", "workers", "progress", "tables")


def setup_text(choices, overrides) -> str:
    """'Setup: company `x`, motion `y`; overrides `...`.': the presets chosen and the overrides that
    shape the scenario (RUN_ONLY ones left out)."""
    picks = [f"{g} `{choices[g]}`" for g in ("company", "motion", "experiment") if choices.get(g)]
    task = [o for o in overrides if o.lstrip("+~").split("=")[0].split(".")[0] not in RUN_ONLY]
    return (
        "Setup: "
        + ", ".join(picks)
        + (f"; overrides `{' '.join(task)}`" if task else "; no overrides")
        + "."
    )


def setup_of(overrides: list[str]) -> str:
    """The report's setup line for these overrides, as the `salesim` command writes it."""
    cfg = compose_config(overrides, hydra=True)
    return setup_text(cfg.hydra.runtime.choices, list(overrides))
