"""A run directory: every stage reads the artifacts of the one before and writes its own.

`retrieve` records the run's data set, task, retriever and K in `config.json`; every later
stage reads them from `RunDir.settings()` instead of being told again. A stage that writes
into the run holds `RunDir.lock()`, so two processes cannot write the same run at once.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragbridge.jsonl import InputError, read_jsonl, write_json
from ragbridge.records import Candidates

if TYPE_CHECKING:
    from ragbridge.bridge.data import BridgeExample
    from ragbridge.tasks import Task

_VERSIONED = ("ragbridge", "torch", "transformers", "sentence-transformers", "bm25s", "sacrebleu",
              "rouge-score", "llama-cpp-python", "openai")
LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.holder"


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


class RunLockedError(RuntimeError):
    """Another process is writing this run directory."""


@dataclass(frozen=True)
class RunSettings:
    """What `retrieve` fixed for the whole run."""

    dataset: str  # the data set's name
    task: str
    retriever: str
    k: int
    source: str  # what `load_dataset` opens: a prepared name or a folder


class RunDir:
    """`runs/NAME/`: config.json records each stage's settings and the versions used."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    # ---- layout -------------------------------------------------------------------------
    @property
    def candidates_path(self) -> Path:
        """Retrieved candidates of every split."""
        return self.path / "candidates.jsonl"

    def silver_path(self, split: str = "train") -> Path:
        """Silver sequences of a split (train: silver.jsonl, others: silver-SPLIT.jsonl)."""
        return self.path / ("silver.jsonl" if split == "train" else f"silver-{split}.jsonl")

    @property
    def reranker_path(self) -> Path:
        """The tuned point-wise reranker."""
        return self.path / "reranker"

    def bridge_path(self, name: str = "bridge-sl") -> Path:
        """A bridge training folder (`bridge-sl`, `bridge-rl`, ...); the model is in `model/`."""
        return self.path / name

    def eval_path(self, split: str, suffix: str) -> Path:
        """`eval-SPLIT.{json,md,png}`."""
        return self.path / f"eval-{split}.{suffix}"

    def sibling(self, suffix: str) -> RunDir:
        """`NAME-SUFFIX/` beside this run, sharing its candidates and retrieve settings: the
        same queries under another silver utility or search."""
        run = RunDir(self.path.parent / f"{self.path.name}-{suffix}")
        if not run.candidates_path.exists() or "retrieve" not in run.config():
            shutil.copyfile(self.candidates_path, run.candidates_path)
            run.record("retrieve", self.config()["retrieve"])
        return run

    def examples(self, split: str, limit: int | None = None, need_silver: bool = True,
                 informative_only: bool = False) -> list[BridgeExample]:
        """The candidates of `split` with their silver positions where searched (the first
        `limit`; `need_silver`: only the searched ones, and the silver file must exist)."""
        from ragbridge.bridge.data import join_silver
        from ragbridge.silver.records import read_silver

        path = self.silver_path(split)
        if need_silver and not path.exists():
            raise FileNotFoundError(f"{path} missing: run `ragbridge silver --split {split}`")
        records = read_silver(path) if path.exists() else []
        examples = join_silver(self.candidates(split), records, need_silver=need_silver,
                               informative_only=informative_only, source=str(path))
        return examples[:limit]

    # ---- settings -----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The recorded settings so far."""
        file = self.path / "config.json"
        return json.loads(file.read_text()) if file.exists() else {}

    def record(self, stage: str, settings: dict[str, Any]) -> None:
        """Record one stage's settings (with time and versions) in config.json."""
        config = self.config()
        config[stage] = {**settings, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        config["versions"] = package_versions()
        write_json(self.path / "config.json", config)

    def settings(self) -> RunSettings:
        """Data set, task, retriever and K as `retrieve` recorded them."""
        recorded = self.config().get("retrieve")
        if not recorded:
            raise FileNotFoundError(f"{self.path}/config.json has no retrieve stage: run "
                                    "`ragbridge retrieve` first")
        k = recorded.get("k") or max((len(c.hits) for c in self.candidates()), default=0)
        dataset = str(recorded.get("dataset", self.path.name))
        if not recorded.get("task"):  # no silent "qa": a wrong task scores every judgment
            raise InputError(f"{self.path}/config.json: the retrieve stage records no task: "
                             "run `ragbridge retrieve` again")
        return RunSettings(dataset, str(recorded["task"]),
                           str(recorded.get("retriever", "")), int(k),
                           str(recorded.get("source") or recorded.get("dataset_path") or dataset))

    def task(self) -> Task:
        """The run's task."""
        from ragbridge.tasks import get_task

        return get_task(self.settings().task)

    def candidates(self, split: str | None = None) -> list[Candidates]:
        """Candidates from candidates.jsonl, optionally of one split."""
        if not self.candidates_path.exists():
            raise FileNotFoundError(
                f"{self.candidates_path} missing: run `ragbridge retrieve` first")
        records = read_jsonl(self.candidates_path, Candidates.from_dict)
        return [c for c in records if split is None or c.split == split]

    # ---- one writer at a time -----------------------------------------------------------
    @contextmanager
    def lock(self, stage: str) -> Iterator[None]:
        """Hold the run's lock while a stage writes; another holder raises RunLockedError.

        `filelock` on `RUN/.lock` (an OS lock the kernel releases when the holding process
        exits, however it exits, so a crashed run never stays locked); who holds it is in
        `RUN/.lock.holder`, since filelock empties the lock file itself on every attempt.
        """
        import filelock

        holder_file = self.path / HOLDER_FILE
        run_lock = filelock.FileLock(self.path / LOCK_FILE, timeout=0, thread_local=False)
        try:
            run_lock.acquire()
        except filelock.Timeout:
            holder = (holder_file.read_text(encoding="utf-8").strip()
                      if holder_file.exists() else "") or "another process"
            raise RunLockedError(f"{self.path} is in use by {holder}; wait for it to finish "
                                 "or stop it") from None
        try:
            holder_file.write_text(
                f"pid {os.getpid()} on {socket.gethostname()} ({stage}, since "
                f"{datetime.now(timezone.utc).isoformat(timespec='seconds')})\n",
                encoding="utf-8")
            yield
        finally:
            holder_file.unlink(missing_ok=True)
            run_lock.release()
