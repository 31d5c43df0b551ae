"""Results folders that two runs never share: a lock per folder, private staging, atomic publishing.

A run holds `<parent>/.<name>.lock` (an flock, with the owner's pid inside for messages) while it
writes `<parent>/<name>`. The kernel drops the flock when its process dies, so a lock left by a
killed run is stale and the next run takes it over. Files are written into a private staging folder
beside the target (`.<name>.partial-<pid>-<random>`), then published with renames: the staging
folder replaces the target whole when the target holds only a run's own files, else file by file
with summary.json last. Either way a reader sees the old run, no run, or the new run, never a mix.

Standard library only: the `salesim` command uses it before Hydra starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DONE_FILE",
    "FolderBusy",
    "claim_default",
    "hold",
    "holder",
    "lock_path",
    "release_all",
    "staged",
]

# the file a complete run writes last: its presence marks a folder as holding a finished run
DONE_FILE = "summary.json"
# what Hydra writes into a run folder before the run starts (its config record), and a sweep job's
# own markers: a folder holding only these and a run's files may be replaced whole
HYDRA_FILES = (".hydra", "job.json", "failure.json")

_held: dict[Path, int] = {}  # lock path -> open descriptor, for the locks this process holds


class FolderBusy(RuntimeError):
    """Another live process holds the folder's lock (its pid is `pid`, 0 if unknown)."""

    def __init__(self, folder: Path, pid: int) -> None:
        super().__init__(f"{folder}: another run (pid {pid or '?'}) is writing there")
        self.folder, self.pid = folder, pid


def lock_path(folder: Path) -> Path:
    """`<parent>/.<name>.lock`: beside the folder, so publishing can swap the folder under it."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def holder(folder: Path) -> int:
    """The pid written in the folder's lock file (0 if none or unreadable)."""
    try:
        return int(lock_path(folder).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def hold(folder: Path) -> None:
    """Take the folder's lock for this process (re-entrant) or raise FolderBusy. Released by
    `release_all` or when the process ends, whichever is first."""
    path = lock_path(folder)
    if path in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusy(Path(folder), holder(folder)) from None
        # the previous owner may have unlinked the file between our open and our flock: then we
        # hold a lock on a file nobody else can see, so start again on the current one
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[path] = fd


def release_all() -> None:
    """Drop every lock this process holds and remove the lock files."""
    for path, fd in list(_held.items()):
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        del _held[path]


def claim_default(base: Path, now: dt.datetime | None = None) -> Path:
    """A fresh results folder `base/DATE/TIME`, locked for this process: if that folder exists or
    another run holds it (runs started in the same second), `TIME-2`, `TIME-3`, ..."""
    now = now or dt.datetime.now()
    stem = base / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    for n in range(1, 10_000):
        folder = stem if n == 1 else stem.with_name(f"{stem.name}-{n}")
        if folder.exists():
            continue
        try:
            hold(folder)
        except FolderBusy:
            continue
        if folder.exists():  # made between our look and our lock
            release_all()
            continue
        return folder
    raise FolderBusy(stem, 0)


@contextlib.contextmanager
def staged(outdir: Path, done: str = DONE_FILE) -> Iterator[Path]:
    """A private staging folder beside `outdir` (holding `outdir`'s lock); on success its files are
    published into `outdir` (see the module docstring), `done` (the file that marks the folder
    complete) last. On any error or interrupt the staging folder is removed and `outdir` keeps
    what it had."""
    outdir = Path(outdir).absolute()
    hold(outdir)
    stage = outdir.parent / f".{outdir.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        yield stage
        _publish(stage, outdir, done)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _publish(stage: Path, outdir: Path, done: str) -> None:
    if not outdir.exists():
        stage.rename(outdir)
        return
    ours = {p.name for p in stage.iterdir()} | set(HYDRA_FILES)
    present = {p.name for p in outdir.iterdir()}
    if present <= ours:
        # only a run's files: carry Hydra's record over, then swap the folders (two renames; in
        # between the folder is briefly absent, never half old and half new)
        for name in present & set(HYDRA_FILES):
            if not (stage / name).exists():
                (outdir / name).rename(stage / name)
        old = outdir.parent / f".{outdir.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        outdir.rename(old)
        stage.rename(outdir)
        shutil.rmtree(old, ignore_errors=True)
        return
    # the folder holds other things too (e.g. hydra.run.dir=. in a project folder): never move
    # those; replace our files one by one, the old completion marker first and the new one last
    (outdir / done).unlink(missing_ok=True)
    _merge(stage, outdir, done)


def _merge(src: Path, dst: Path, done: str) -> None:
    """Move src's files into dst one by one (`done` last); subfolders are merged, not replaced,
    so files of others inside them stay."""
    for f in sorted(src.iterdir(), key=lambda p: p.name == done):
        target = dst / f.name
        if f.is_dir() and target.is_dir():
            _merge(f, target, done)
        else:
            f.replace(target)


RUN_SUFFIXES = (".json", ".md", ".html", ".parquet", ".csv", ".png")


def set_aside(folder: Path) -> Path | None:
    """Before a run replaces a complete run (overwrite=true): move the old run to a hidden sibling,
    so nothing of the new run (not even Hydra's .hydra record) lands beside the old files. Only a
    folder holding nothing but a run's files is moved; returns where it went, or None."""
    folder = Path(folder).absolute()
    entries = list(folder.iterdir())
    if not all(p.name in HYDRA_FILES or p.suffix in RUN_SUFFIXES for p in entries):
        return None
    old = folder.parent / f".{folder.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    folder.rename(old)
    return old


def settle(folder: Path, old: Path) -> None:
    """After the run: drop the old run if the new one was published, else put the old one back
    (removing what the unfinished run left, which is at most Hydra's record)."""
    folder = Path(folder).absolute()
    if (folder / DONE_FILE).exists():
        shutil.rmtree(old, ignore_errors=True)
        return
    if folder.exists():
        if any(p.name not in HYDRA_FILES for p in folder.iterdir()):
            return  # not only what we know: leave both for the user
        shutil.rmtree(folder)
    old.rename(folder)


def is_space_error(exc: OSError) -> bool:
    """A full disk or quota: the run's files could not be written."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)
