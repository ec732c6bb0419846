"""Model and checkpoint folders written so that a crash at any moment leaves a usable one.

`save_folder` writes into `.NAME.part`, marks it complete, moves the old `NAME` aside to
`.NAME.old`, renames the new one in and only then deletes the old one. `recover_folder`
finishes an interrupted swap (the complete new folder wins, else the old one comes back), so
there is always a folder to load. Writers and readers of one folder take its lock
(`.NAME.lock`, `filelock`): a load never sees a swap half done, and never finishes one under a
writer's feet.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

COMPLETE = ".complete"


def _part(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.part")


def _aside(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")


def _lock(folder: Path) -> FileLock:
    """The lock writers and readers of `folder` share: one object per folder in a process,
    re-entrant within a thread, exclusive between threads and between processes."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(folder.with_name(f".{folder.name}.lock"), is_singleton=True)


@contextmanager
def reading(folder: str | Path) -> Iterator[Path]:
    """Hold `folder` for reading: an interrupted swap is finished first, and no writer swaps
    it until the block ends."""
    folder = Path(folder)
    with _lock(folder):
        _recover(folder)
        yield folder


def recover_folder(folder: Path) -> None:
    """Finish a swap that a crash interrupted; clean up leftovers of a finished one."""
    with _lock(Path(folder)):
        _recover(Path(folder))


def _recover(folder: Path) -> None:
    part, aside = _part(folder), _aside(folder)
    if not folder.exists():
        if (part / COMPLETE).exists():
            part.rename(folder)
        elif aside.exists():
            aside.rename(folder)
    if folder.exists():
        shutil.rmtree(aside, ignore_errors=True)


def save_folder(folder: Path, write: Callable[[Path], None]) -> Path:
    """Write a folder with `write(path)` and put it in place of `folder` atomically enough:
    at every moment either the old or the new complete folder can be recovered."""
    folder = Path(folder)
    part, aside = _part(folder), _aside(folder)
    with _lock(folder):
        _recover(folder)
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        write(part)
        (part / COMPLETE).touch()
        if folder.exists():
            folder.rename(aside)
        part.rename(folder)
        shutil.rmtree(aside, ignore_errors=True)
    return folder


def latest_checkpoint(out: Path, marker: str = "state.json") -> Path | None:
    """The newest complete `OUT/checkpoint-N/` (one holding `marker`), or None."""
    for candidate in out.glob(".checkpoint-*.old"):
        recover_folder(candidate.with_name(candidate.name[1:-len(".old")]))
    done = sorted((p for p in out.glob("checkpoint-*") if (p / marker).exists()),
                  key=lambda p: int(p.name.split("-")[1]))
    return done[-1] if done else None


def prune_checkpoints(out: Path, keep: Path) -> None:
    """Delete every `OUT/checkpoint-N/` but `keep`, and what crashed saves left behind (their
    `.checkpoint-N.part` folders: a bridge's weights each)."""
    for older in [*out.glob("checkpoint-*"), *out.glob(".checkpoint-*.part")]:
        if older != keep:
            shutil.rmtree(older, ignore_errors=True)
    for lock in out.glob(".checkpoint-*.lock"):
        if lock.name != f".{keep.name}.lock":
            lock.unlink(missing_ok=True)
