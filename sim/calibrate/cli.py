"""The `salesim-calibrate` command: read a CRM export, fit a scenario, write calibrated.yaml and a report.

    salesim-calibrate data=maven_crm                 # results/calibrate/<date>/<time>/
    salesim-calibrate data=olist_funnel cutoff=2018-03-31
    salesim-calibrate data=maven_crm backtest.cutoff=2017-06-30 backtest.horizon_days=90

Bad input (a config key, a file, a row) stops the run before anything is written, with one line
naming it, exit status 2 and no traceback (HYDRA_FULL_ERROR=1 shows one). So does a results folder
another run is writing (its lock, sim/runfolder.py) or one that cannot be written (full disk,
read-only, no permission): every file is staged privately and published only when all are written.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim import money, runfolder
from sim.calibrate.importer import (
    CrmData,
    DataSettings,
    check_fittable,
    data_dir,
    load,
    settings_from,
    summary_lines,
)
from sim.calibrate.options import container, date, fit_options
from sim.cli import (
    NO_RUN_FLAGS,
    _flag,
    _refuse,
    _terminate,
    _write_error,
    check_output_dirs,
    overwrite_flag,
)
from sim.cli import _abandon as abandon
from sim.cli import _stop_workers as stop_workers
from sim.compose import CONFIG_DIR
from sim.config import ConfigError, load_scenario

__all__ = ["app", "calibrate", "main", "phase", "prepare"]

# seconds: a phase (load, fit, check, write) still running after this says so on stderr, and how
# long it took when done; quicker phases (a small export) stay quiet
PROGRESS_AFTER = 1.0


@contextlib.contextmanager
def phase(label: str, on: bool) -> Iterator[None]:
    """Show that `label` is under way (a large export loads and fits for minutes with no other
    sign of life): one line on stderr once it has run PROGRESS_AFTER seconds, one when it is done.
    Lines only, no bar: the fit has no steps to count. Off when `on` is false; an error ends the
    phase without a done line, so the error's own line stays the last."""
    if not on:
        yield
        return
    t0 = time.perf_counter()
    said = threading.Event()

    def say() -> None:
        said.set()
        print(f"salesim-calibrate: {label} ...", file=sys.stderr, flush=True)

    timer = threading.Timer(PROGRESS_AFTER, say)
    timer.daemon = True
    if PROGRESS_AFTER > 0:
        timer.start()
    else:  # every phase, said at once (the tests)
        say()
    try:
        yield
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()  # a line being printed right now is finished before anything else is
    if said.is_set():
        took = time.perf_counter() - t0
        print(f"salesim-calibrate: {label}: done in {took:.1f} s", file=sys.stderr, flush=True)


def progress_of(cfg: DictConfig) -> bool:
    """The `progress` key: true or false (a bool, not a number or a word)."""
    on = cfg.get("progress", True)
    if not isinstance(on, bool):
        raise ConfigError(f"config error: progress = {on!r}: allowed are true or false")
    return on


def prepare(cfg: DictConfig) -> tuple[CrmData, pd.Timestamp | None, dict, int]:
    """Validate the config and read the export; every problem becomes a ConfigError line."""
    data = container(cfg, "data")
    if data is None:
        raise ConfigError(
            "config error: data: no data preset chosen; use data=maven_crm or your own"
        )
    settings = settings_from(data)
    cutoff = date(cfg.get("cutoff"), "cutoff")
    opts = fit_options(cfg)
    check = container(cfg, "check") or {}
    reps = check.get("replications", 0)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 0:
        raise ConfigError(f"config error: check.replications = {reps!r}: an integer >= 0")
    bt = container(cfg, "backtest") or {}
    date(bt.get("cutoff"), "backtest.cutoff")
    with phase(f"load: reading {settings.name} ({_size(settings)})", progress_of(cfg)):
        crm = load(settings)
        check_fittable(crm, settings)
    if cutoff is not None and cutoff < crm.opportunities["created_date"].min():
        raise ConfigError(
            f"config error: cutoff = {cutoff.date()}: before the first record "
            f"({crm.opportunities['created_date'].min().date()})"
        )
    return crm, cutoff, opts, reps


def _size(settings: DataSettings) -> str:
    """The export's size on disk, for the load line ("58 MB"; "size ?" if it cannot be read)."""
    try:
        root = data_dir(settings)
        files = [root / settings.opportunities.file]
        if settings.leads is not None:
            files.append(root / settings.leads.file)
        return f"{sum(f.stat().st_size for f in files) / 1e6:.0f} MB"
    except (OSError, AttributeError, TypeError):
        return "size ?"


def _abandon(outdir: Path) -> None:
    """Undo what Hydra wrote before we validated, as salesim does (a finished run is left alone)."""
    abandon(outdir, done=("fit.json", "backtest.json", "rolling_backtest.json"))


def _fail(outdir: Path, exc: Exception) -> None:
    _abandon(outdir)
    print(str(exc), file=sys.stderr)
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise exc
    sys.exit(2)


def _as_published(exc: OSError, outdir: Path) -> OSError:
    """The error with its file named where it would have been published (the private staging
    folder it was written in is gone by the time the user reads the line)."""
    if not exc.filename:
        return exc
    path = Path(exc.filename)
    stage = f".{outdir.absolute().name}.partial-"
    for i, part in enumerate(path.parts):
        if part.startswith(stage):
            return OSError(exc.errno, exc.strerror, str(outdir.joinpath(*path.parts[i + 1 :])))
    return exc


def calibrate(
    crm: CrmData, cutoff, opts: dict, reps: int, outdir: Path, progress: bool = False
) -> Path:
    """Fit, check and write every output; returns calibrated.yaml. `progress`: a line on stderr
    per slow phase (see `phase`)."""
    # lazy: fitting pulls in scipy.stats and statsmodels, the report matplotlib (about a second
    # together), which a rejected option or a bad CRM file never needs
    from sim.calibrate.fit import FitError, fit
    from sim.calibrate.report import simulate_check, write_outputs

    n_seg = crm.opportunities["segment"].nunique()
    with phase(f"fit: {len(crm.opportunities)} deals, {n_seg} segment(s)", progress):
        try:
            cal = fit(crm, cutoff, **opts)
        except FitError as exc:  # the data admit no fit: one line, like a bad key
            raise ConfigError(str(exc)) from None
    scenario = {**cal.scenario(), "currency": crm.currency}  # what its amounts are in
    try:
        load_scenario(scenario)  # calibrated.yaml must be a scenario salesim accepts
    except ConfigError as exc:  # the fit's fault, not a key the user wrote: say so in one line
        first, *more = str(exc).splitlines()
        raise ConfigError(
            f"fit error: the fit of {crm.name} gives a scenario salesim refuses "
            f"({first.removeprefix('config error: ')}"
            + (f"; {len(more)} more" if more else "")
            + "); try fit.classes=[1] or a longer export"
        ) from None
    with phase(
        f"check: simulating {reps} replications of the fitted scenario", progress and reps > 0
    ):
        check = simulate_check(cal, scenario, reps) if reps else None
    with phase(f"write: report and plots into {outdir}", progress):
        return write_outputs(crm, cal, scenario, check, outdir)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="calibrate")
def app(cfg: DictConfig) -> None:
    outdir = Path(HydraConfig.get().runtime.output_dir)
    try:
        crm, cutoff, opts, reps = prepare(cfg)
    except ConfigError as exc:
        _fail(outdir, exc)
    print("\n".join(summary_lines(crm)))
    try:
        # lazy, as in calibrate(); the "Backtest" section of docs/calibration.md
        from sim.calibrate import backtest

        bt = backtest.settings(cfg)
        if bt is not None:  # a cutoff, cutoffs or rolling.first is set
            # staged like the calibration's files: a failed write publishes nothing
            done = "rolling_backtest.json" if bt.rolling else "backtest.json"
            with (
                runfolder.staged(outdir, done=done) as stage,
                phase("backtest", progress_of(cfg)),
                money.using(crm.currency),
            ):
                backtest.run(crm, cfg, stage, published=outdir)
            runfolder.release_all()
            print(f"results: {outdir}")
            return
        path = calibrate(crm, cutoff, opts, reps, outdir, progress_of(cfg))
    except ConfigError as exc:
        _fail(outdir, exc)
    except OSError as exc:  # full disk, read-only folder, no permission: nothing was published
        _fail(outdir, _write_error(outdir, _as_published(exc, outdir)))
    except runfolder.FolderBusy as exc:  # an interpolated hydra.run.dir another run took meanwhile
        _fail(outdir, ConfigError(f"output error: {exc}; wait for it or choose another folder"))
    except KeyboardInterrupt as exc:
        stop_workers()
        _abandon(outdir)
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}): no results written", file=sys.stderr)
        sys.exit(128 + signum)
    print((outdir / "summary.txt").read_text(), end="")
    print(f"calibrated scenario: {path}")
    print(f"run it: salesim --config-dir {outdir} experiment=calibrated")
    print(f"results: {outdir}")


DEFAULT_BASE = Path("results/calibrate")  # hydra.run.dir's default in configs/calibrate.yaml


FINISHED = ("fit.json", "backtest.json", "rolling_backtest.json")  # what a finished run leaves


def claim_output(argv: list[str]) -> list[str]:
    """Before Hydra writes anything: lock this run's results folder (sim/runfolder.py), so a second
    calibration or backtest aimed at it stops with one line and exit 2 instead of a traceback when
    both publish. The default folder results/calibrate/DATE/TIME gets a `-2`, `-3` suffix when
    taken. A folder holding a finished calibration or backtest is refused unless `overwrite=true`
    (then the new run's files replace the old ones when it is published)."""
    if any(a.partition("=")[0] in NO_RUN_FLAGS for a in argv):
        return argv
    overwrite = overwrite_flag(argv)
    given = _flag(argv, "hydra.run.dir")
    if given is not None and "${" in given:
        return argv  # an interpolated folder: Hydra resolves it; publishing still locks
    try:
        if given is None:
            folder = runfolder.claim_default(DEFAULT_BASE)
            return [*argv, f"hydra.run.dir={folder.as_posix()}"]
        folder = Path(given).expanduser()
        runfolder.hold(folder)
        done = [f for f in FINISHED if (folder / f).exists()]
        if done and not overwrite:
            _refuse(
                f"output error: hydra.run.dir = {given!r}: holds a finished run ({done[0]}); "
                "choose another folder, or add overwrite=true to replace it"
            )
    except runfolder.FolderBusy as exc:
        _refuse(
            f"output error: {exc.folder}: another run (pid {exc.pid or '?'}) is writing there; "
            "wait for it or choose another folder (hydra.run.dir=...)"
        )
    except OSError as exc:
        _refuse(
            f"output error: hydra.run.dir = {str(given or DEFAULT_BASE)!r}: cannot lock the folder "
            f"({exc.strerror}: {exc.filename}); allowed: a folder you can write to"
        )
    return argv


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    atexit.register(runfolder.release_all)  # however the run ends, its lock file goes
    check_output_dirs(sys.argv[1:])
    sys.argv[1:] = claim_output(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
