"""The `salesim` command: a Hydra app that runs a scenario's replications and writes the results."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from sim import sweep
from sim.config import ConfigError, RunSettings, Scenario, load_run

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")
# days: a shorter metrics window gets a warning (the run still goes ahead)
MIN_SENSIBLE_HORIZON = 30

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


def scenario_overrides(base: list[str], own: list[str]) -> list[str]:
    """A compared scenario's overrides: the run's, then its own; a run override of a key the
    scenario sets itself is dropped (the scenario's value wins)."""

    def key(o: str) -> str:
        return o.split("=", 1)[0].lstrip("+~")

    mine = {key(o) for o in own}
    return [o for o in base if key(o) not in mine] + list(own)


def compose_scenario(compose, base: list[str], name: str, own: list[str]):
    """Compose and validate one compared scenario; Hydra's own errors name the scenario."""
    from hydra.errors import HydraException

    try:
        cfg = compose(config_name="config", overrides=scenario_overrides(base, own))
    except HydraException as exc:
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"config error: compare.scenarios.{name} = {own}: {msg}") from None
    return resolve(cfg)


def execute(sc: Scenario, rs: RunSettings):
    """Run the scenario's replications with a progress bar. Heavy imports wait until the config is
    valid, so a rejected run answers in about a second."""
    from sim.experiment import run_scenario

    with tqdm(
        total=sc.replications,
        desc=f"{sc.scenario.name}",
        unit="rep",
        file=sys.stderr,
        disable=not rs.progress,
        leave=False,
    ) as bar:
        return run_scenario(sc, rs.executor, rs.workers, progress=bar.update)


def _abandon(outdir: Path, done: tuple[str, ...] = ("summary.json",)) -> None:
    """Undo what Hydra wrote before we validated: its config subdir, then the run dir if now empty.

    Nothing else is removed, so a `hydra.run.dir` pointing at an existing directory is safe; a
    directory holding one of the `done` files (a finished run) is left alone.
    """
    if not outdir.is_dir() or any((outdir / f).exists() for f in done):
        return
    subdir = HydraConfig.get().output_subdir
    if subdir:
        shutil.rmtree(outdir / subdir, ignore_errors=True)
    if not any(outdir.iterdir()):
        outdir.rmdir()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def app(cfg: DictConfig) -> float | None:
    outdir = Path(HydraConfig.get().runtime.output_dir)
    job = sweep.job_for(cfg, outdir)  # None unless this is a job of `salesim -m` (sim/sweep.py)
    if job is not None and job.complete:
        return job.skip()
    try:
        sc, rs = resolve(cfg)
        objective = sweep.objective_spec(cfg)
    except ConfigError as exc:
        if job is not None:
            return job.fail(exc)
        _abandon(outdir)
        print(str(exc), file=sys.stderr)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.exit(2)
    if sc.horizon_days < MIN_SENSIBLE_HORIZON:
        print(
            f"warning: horizon_days = {sc.horizon_days:g}: the metrics window is shorter than a "
            f"month, so few deals close in it and rates are mostly noise; {MIN_SENSIBLE_HORIZON}+ "
            "days give readable figures",
            file=sys.stderr,
        )
    from sim.report import terminal_table, write_compare_outputs, write_outputs

    try:
        from hydra import compose

        from sim.compare import run_planned

        base = list(HydraConfig.get().overrides.task)
        cres = run_planned(
            rs,
            cfg,
            lambda name, own: compose_scenario(compose, base, name, own),
            lambda s, r: execute(s, r),
        )
        if cres is not None:
            write_compare_outputs(cres, outdir, rs.tables, setup=setup_line())
            summary = cres.summary
        else:
            res = execute(sc, rs)
            write_outputs(res, sc, outdir, rs.tables, setup=setup_line())
            summary = res.summary
    except ConfigError as exc:
        if job is not None:
            return job.fail(exc)
        _abandon(outdir)
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _abandon(outdir)
        print("interrupted: no results written", file=sys.stderr)
        sys.exit(130)
    print(terminal_table(summary))
    print(f"results: {outdir}")
    return job.finish(objective) if job is not None else None


def setup_line() -> str:
    """What made this run's scenario, for the top of report.md (sim.report.setup_text)."""
    from sim.report import setup_text

    hc = HydraConfig.get()
    return setup_text(hc.runtime.choices, hc.overrides.task)


OUTPUT_KEYS = ("hydra.run.dir", "hydra.sweep.dir")


def check_output_dirs(argv: list[str]) -> None:
    """An output folder given on the command line that cannot be created: one line and exit 2,
    before Hydra tries and fails with a traceback. Folders made for the test are removed again."""
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if not sep or key not in OUTPUT_KEYS or "${" in value:
            continue
        path = Path(value).expanduser().absolute()
        made = [p for p in (path, *path.parents) if not p.exists()]
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(
                f"output error: {key} = {value!r}: cannot create the folder ({exc.strerror}); "
                "allowed: a folder you can write to",
                file=sys.stderr,
            )
            sys.exit(2)
        for p in made:  # deepest first
            p.rmdir()


def main() -> None:
    check_output_dirs(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
