"""The `salesim` command: a Hydra app that runs a scenario's replications and writes the results."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim import runfolder, sweep
from sim.compose import CONFIG_DIR, resolve, setup_text
from sim.config import ConfigError

__all__ = ["Terminated", "app", "check_output_dirs", "claim_output", "main"]

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
    except KeyboardInterrupt as exc:
        _stop_workers()
        _abandon(outdir)
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}): no results written", file=sys.stderr)
        sys.exit(128 + signum)
    except OSError as exc:
        if job is not None:
            return job.fail(_write_error(outdir, exc))
        _abandon(outdir)
        print(str(_write_error(outdir, exc)), file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if job is None:
            raise
        # a job that crashed (not a rejected value) is recorded like a rejected one, and the sweep
        # goes on, so its table still gathers every job that finished
        return job.fail(ConfigError(f"job crashed: {type(exc).__name__}: {exc}"))
    finally:
        runfolder.release_all()
    print(terminal_table(summary, sc.currency))
    print(f"results: {outdir}")
    return job.finish(objective) if job is not None else None


def _write_error(outdir: Path, exc: OSError) -> ConfigError:
    """One line for a results folder that cannot be written (full disk, read-only, no permission)."""
    where = exc.filename or outdir
    return ConfigError(
        f"output error: cannot write {where} ({exc.strerror or type(exc).__name__}); nothing was "
        "published: free space or choose a folder you can write to (hydra.run.dir=...)"
    )


def _stop_workers() -> None:
    """End the process pool of an interrupted run, so no worker outlives it."""
    executors = sys.modules.get("sim.executors")
    if executors is not None:
        executors.stop_workers()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (SIGINT): `signum` gives the exit status 128+n."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


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


# Hydra flags after which no run happens (help, the composed config, shell completion)
NO_RUN_FLAGS = (
    "-h", "--help", "--hydra-help", "--version", "-i", "--info", "-c", "--cfg",
    "-sc", "--shell-completion", "-m", "--multirun",
)  # fmt: skip
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0", "null")


def _flag(argv: list[str], key: str) -> str | None:
    """The last value given to `key` on the command line (`key=v`, `+key=v`, `++key=v`), or None."""
    value = None
    for arg in argv:
        k, sep, v = arg.lstrip("+").partition("=")
        if sep and k == key:
            value = v
    return value


def overwrite_flag(argv: list[str]) -> bool:
    """`overwrite=...` from the command line (false when absent); anything but a yes/no word is one
    config error line, exit 2, before Hydra starts (salesim and salesim-calibrate alike)."""
    raw = _flag(argv, "overwrite")
    if raw is not None and raw.lower() not in TRUE_WORDS + FALSE_WORDS:
        _refuse(f"config error: overwrite = {raw!r}: allowed are true or false")
    return raw is not None and raw.lower() in TRUE_WORDS


def claim_output(argv: list[str]) -> list[str]:
    """Before Hydra writes anything: lock this run's results folder, so no other run writes there.

    The default folder (results/DATE/TIME) gets a `-2`, `-3` suffix when that folder exists or
    another run holds it; the chosen folder is passed to Hydra as `hydra.run.dir`. A folder given
    with `hydra.run.dir` that another live run holds, or that holds a complete run (summary.json),
    is refused with one line and exit 2, unless `overwrite=true`. Returns the argv to hand Hydra.
    """
    if any(a.partition("=")[0] in NO_RUN_FLAGS for a in argv):
        return argv
    overwrite = overwrite_flag(argv)
    given = _flag(argv, "hydra.run.dir")
    if given is not None and "${" in given:
        return argv  # an interpolated folder: Hydra resolves it; the write itself still locks
    try:
        if given is None:
            folder = runfolder.claim_default(Path("results"))
            return [*argv, f"hydra.run.dir={folder.as_posix()}"]
        folder = Path(given).expanduser()
        runfolder.hold(folder)
    except runfolder.FolderBusy as exc:
        _refuse(
            f"output error: hydra.run.dir = {given!r}: another run (pid {exc.pid or '?'}) is "
            "writing there; wait for it or choose another folder"
        )
    except OSError as exc:
        _refuse(
            f"output error: hydra.run.dir = {given!r}: cannot lock the folder "
            f"({exc.strerror}: {exc.filename}); allowed: a folder you can write to"
        )
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        _refuse(
            f"output error: hydra.run.dir = {given!r}: the folder is not writable "
            "(permission denied or read-only); allowed: a folder you can write to"
        )
    if (folder / runfolder.DONE_FILE).exists():
        if not overwrite:
            _refuse(
                f"output error: hydra.run.dir = {given!r}: holds a complete run "
                f"({runfolder.DONE_FILE}); choose another folder, or add overwrite=true to replace it"
            )
        old = runfolder.set_aside(folder)
        if old is not None:  # the old run comes back if the new one is not published
            atexit.register(runfolder.settle, folder, old)
    return argv


def config_dirs(argv: list[str]) -> list[Path]:
    """The folders given with --config-dir / -cd (either `--config-dir X` or `--config-dir=X`)."""
    found = []
    for i, arg in enumerate(argv):
        flag, sep, value = arg.partition("=")
        if flag in ("--config-dir", "-cd"):
            if not sep:
                value = argv[i + 1] if i + 1 < len(argv) else ""
            if value:
                found.append(Path(value).expanduser())
    return found


def check_yaml(folders: list[Path]) -> None:
    """Every YAML file under the user's config folders parses (no duplicate keys, no tabs, closed
    brackets): otherwise one line naming the file and line, and exit 2, instead of Hydra's
    traceback. A file that cannot be read (permissions) is reported the same way."""
    if not folders:
        return
    import yaml  # lazy: only when --config-dir is given

    class Strict(yaml.SafeLoader):
        """Rejects a key given twice in one mapping, as Hydra does."""

    def mapping(loader: Strict, node: yaml.MappingNode) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for folder in folders:
        if not folder.is_dir():
            continue  # Hydra reports a missing config folder itself
        for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
            try:
                yaml.load(path.read_text(), Loader=Strict)  # noqa: S506 (a SafeLoader subclass)
            except OSError as exc:
                _refuse(f"config error: {path}: cannot read the file ({exc.strerror})")
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"{path}, line {mark.line + 1}" if mark else str(path)
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                ctx, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
                also = f" ({ctx}, line {cmark.line + 1})" if ctx and cmark else ""
                _refuse(f"config error: {where}: malformed YAML: {problem}{also}")


# flags that bring config files other than salesim's own, which might set `hydra.mode`
CONFIG_FLAGS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp")


def mode_is_default(argv: list[str]) -> bool:
    """Whether `hydra.mode` can only be unset: the command line neither sets it nor brings config
    files of its own (salesim's configs never set it; tests/test_startup.py holds them to that)."""
    for arg in argv:
        key = arg.lstrip("+~").partition("=")[0]
        if key == "hydra.mode" or key in CONFIG_FLAGS:
            return False
    return True


def _run_app() -> None:
    """Run the Hydra app. Before composing the config for the run, Hydra composes it once more only
    to read `hydra.mode` (`Hydra.get_mode`; unset, it falls back to a run, or to a multirun with
    -m). When the mode can only be unset (`mode_is_default`), that probe answers None without
    composing: about a tenth of a second of every command's start-up."""
    if not mode_is_default(sys.argv[1:]):
        app()
        return
    from hydra._internal.hydra import Hydra  # loaded already by `hydra.main`

    probe = Hydra.get_mode
    Hydra.get_mode = _unset_mode
    try:
        app()
    finally:
        Hydra.get_mode = probe


def _unset_mode(self: object, config_name: str | None, overrides: list[str]) -> None:
    """`Hydra.get_mode` when the mode is unset (see `_run_app`)."""
    return None


def _refuse(line: str) -> None:
    runfolder.release_all()
    print(line, file=sys.stderr)
    sys.exit(2)


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    atexit.register(runfolder.release_all)  # however the run ends, its lock file goes
    check_output_dirs(sys.argv[1:])
    check_yaml(config_dirs(sys.argv[1:]))
    sys.argv[1:] = claim_output(sys.argv[1:])
    _run_app()


if __name__ == "__main__":
    main()
