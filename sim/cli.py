"""The `salesim` command: a Hydra app that runs a scenario's replications and writes the results."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim import sweep
from sim.compose import CONFIG_DIR, resolve, setup_text
from sim.config import ConfigError

__all__ = ["app", "check_output_dirs", "main"]

# days: a shorter metrics window gets a warning (the run still goes ahead)
MIN_SENSIBLE_HORIZON = 30


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
    # lazy: the engine and the figures pull in numpy, pandas, simpy and matplotlib (about a second),
    # which a rejected config or `--help` never needs
    from sim import api
    from sim.report import terminal_table

    try:
        summary = api.run(
            cfg, outdir, list(HydraConfig.get().overrides.task), setup_line(), rs.progress
        ).summary
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
    """What made this run's scenario, for the top of report.md (sim.compose.setup_text)."""
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
