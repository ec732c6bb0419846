"""The silver stage: batched, cached, resumable and (optionally) Ray-distributed greedy search.

`RUN/silver.jsonl` (other splits: `silver-SPLIT.jsonl`) holds one record per query in input
order, written window by window (a window is `batch_queries` queries searched together) with
one append + fsync each. A resumed run keeps only whole windows, so it re-forms exactly the
windows an uninterrupted run would and writes an identical file; a killed run loses at most
the windows in flight. Only a torn *last* line is cut; a bad line anywhere else is an error.
The settings the file was made with are kept beside it (`*.settings.json`): a resume with
other settings (K, max length, repeats, metric, LLM, window) refuses and names what changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.jsonl import InputError, write_json
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Candidates
from ragbridge.rundir import RunDir
from ragbridge.silver.records import candidates_mismatch, cost_path, read_silver, settings_path
from ragbridge.silver.search import SilverConfig, SilverSummary, search_batch, summarize


@dataclass(frozen=True)
class SilverStageConfig:
    """Which queries are searched, where, and the search itself."""

    split: str = field(default="train", metadata={"help": "Split to search"})
    limit: int | None = field(default=None, metadata={"help": "At most this many queries"})
    workers: int = field(default=1, metadata={"help": "Ray workers (1: no Ray)"})
    ray_address: str | None = field(default=None, metadata={"help": "Existing Ray cluster"})
    search: SilverConfig = field(default_factory=SilverConfig)


def _earlier_cost(path: Path, done: int) -> dict[str, float]:
    """What the earlier runs of `path` cost: over how many records (`queries`, which can
    exceed `done` when a resume cut a torn window) and for how many of them it is known
    (`costed`); nothing when starting afresh or when the cost file is missing."""
    file = cost_path(path)
    if done and file.exists():
        cost = json.loads(file.read_text())
        return {"costed": cost["queries"], **cost}
    return {"queries": 0, "costed": 0, "calls": 0, "hits": 0, "seconds": 0.0}


def _total_cost(earlier: dict[str, float], counters: dict[str, int], done: int, records: int,
                seconds: float) -> dict[str, float]:
    """The cost of all `records`: the earlier runs' plus this run's. Known (`costed`) for the
    earlier runs' records and those written beyond them (a record redone after a cut was
    already paid for by the run that first wrote it)."""
    return {"queries": records,
            "costed": int(earlier["costed"]) + max(0, records - max(done,
                                                                    int(earlier["queries"]))),
            "calls": int(earlier["calls"]) + counters["calls"],
            "hits": int(earlier["hits"]) + counters["hits"],
            "seconds": round(earlier["seconds"] + seconds, 1)}


def search_settings(run_dir: RunDir, config: SilverStageConfig, llm: CachedLLM,
                    judge: Judge) -> dict[str, Any]:
    """Everything that shapes the records: a resume must use the same."""
    settings = {"k": run_dir.settings().k, "max_length": config.search.max_length,
                "allow_repeats": config.search.allow_repeats, "metric": judge.metric,
                "utility": judge.utility_name, "strategy": config.search.strategy,
                "min_improvement": config.search.min_improvement,
                "batch_queries": config.search.batch_queries, "llm": llm.identity,
                "task": judge.task.name, "judge_top_k": config.search.judge_top_k}
    if config.search.repeat_best > 1:  # recorded only when used: older files stay resumable
        settings["repeat_best"] = config.search.repeat_best
    if config.search.top_k_margin is not None:
        settings["top_k_margin"] = config.search.top_k_margin
    return settings


def completed_records(path: Path, records: list[dict[str, Any]], window: int,
                      total: int | None = None) -> list[dict[str, Any]]:
    """Of the `records` read from `path`, those of whole windows (the last, shorter window
    too when the file holds all `total` records); truncate anything after them."""
    if not path.exists():
        return []
    keep = len(records) if len(records) == total else len(records) - len(records) % window
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    size = sum(len(line) + 1 for line in lines[:keep])
    if size != os.path.getsize(path):
        with open(path, "r+b") as handle:
            handle.truncate(size)
    return records[:keep]


def _check_resume(path: Path, settings: dict[str, Any], done: int) -> None:
    file = settings_path(path)
    if file.exists():
        earlier = json.loads(file.read_text())
        changed = [f"{key} {earlier.get(key)!r} -> {settings.get(key)!r}"
                   for key in [*settings, *(k for k in earlier if k not in settings)]
                   if earlier.get(key) != settings.get(key)]
        if changed and done:
            raise InputError(f"{path} was made with other settings ({'; '.join(changed)}): "
                             "rerun with the same settings to resume, or move it away")
    elif done:
        raise InputError(f"{path} has records but no {file.name}: its settings are unknown, "
                         "so it cannot be resumed safely; move it away")


def _check_candidates(path: Path, records: Sequence[dict[str, Any]],
                      items: Sequence[Candidates]) -> None:
    """Refuse a resume on candidates other than those the records were searched on."""
    if [str(r["id"]) for r in records] != [c.example.id for c in items[:len(records)]]:
        raise InputError(f"{path} was made from other candidates (other query ids); "
                         "move it away")
    for number, (record, item) in enumerate(zip(records, items, strict=False), start=1):
        reason = candidates_mismatch(record, item)
        if reason:
            raise InputError(f"{path}:{number}: {record['id']!r} was {reason}; the candidates "
                             "changed since: move the file away to search again")


def _append(path: Path, records: Sequence[dict[str, Any]]) -> None:
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def _windows(items: Sequence[Candidates], size: int) -> list[list[Candidates]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _single_process(windows: list[list[Candidates]], judge: Judge, config: SilverConfig,
                    counters: dict[str, int]) -> Iterator[list[dict[str, Any]]]:
    llm = judge.llm
    for window in windows:
        calls, hits = llm.stats.calls, llm.stats.hits
        records = search_batch(window, judge, config)
        counters["calls"] += llm.stats.calls - calls
        counters["hits"] += llm.stats.hits - hits
        yield records


def _ray_windows(windows: list[list[Candidates]], judge: Judge, config: SilverConfig,
                 workers: int, address: str | None,
                 counters: dict[str, int]) -> Iterator[list[dict[str, Any]]]:
    """Fan windows out over Ray actors (one model each); yield results in input order."""
    import ray

    from ragbridge.silver.worker import SilverWorker

    recipe = judge.llm.recipe
    if recipe is None:
        raise ValueError("Ray workers rebuild the LLM from its spec: load it with "
                         "ragbridge.load_llm to search with several workers")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else workers,
                 include_dashboard=False, log_to_driver=False)
    actor = ray.remote(SilverWorker)
    pool = [actor.remote(judge.task, recipe, judge.metric, config) for _ in range(workers)]
    futures = [pool[i % workers].search.remote(window) for i, window in enumerate(windows)]
    try:
        for future in futures:
            records, calls, hits = ray.get(future)
            counters["calls"] += calls
            counters["hits"] += hits
            yield records
    finally:
        for worker in pool:
            ray.kill(worker)
        if started_here:
            ray.shutdown()


def run(run_dir: RunDir, config: SilverStageConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None, use_ray: bool = False) -> SilverSummary:
    """Search every query of the split (resuming its silver file) and summarise all records.

    Ray is used for more than one worker, for a cluster address, or when `use_ray` asks.
    """
    search = config.search
    judge = Judge(run_dir.task(), llm, search.metric, utility=search.utility)
    items = run_dir.candidates(config.split)[:config.limit]
    path = run_dir.silver_path(config.split)
    settings = search_settings(run_dir, config, llm, judge)
    with run_dir.lock(f"silver {config.split}"):
        # check everything before cutting anything: a refused resume leaves the file whole
        written = read_silver(path, allow_torn_end=True) if path.exists() else []
        _check_resume(path, settings, len(written))
        _check_candidates(path, written, items)
        done = completed_records(path, written, search.batch_queries, len(items))
        write_json(settings_path(path), settings)
        pending = _windows(items[len(done):], search.batch_queries)
        counters = {"calls": 0, "hits": 0}
        earlier = _earlier_cost(path, len(done))
        started = time.perf_counter()
        if config.workers > 1 or config.ray_address or use_ray:
            results = _ray_windows(pending, judge, search, config.workers, config.ray_address,
                                   counters)
        else:
            results = _single_process(pending, judge, search, counters)
        records = list(done)
        report(progress, f"silver {config.split}", len(records), len(items))
        for window_records in results:
            _append(path, window_records)
            records += window_records
            elapsed = time.perf_counter() - started
            write_json(cost_path(path), _total_cost(earlier, counters, len(done),
                                                    len(records), elapsed))
            rate = (len(records) - len(done)) / elapsed if elapsed else 0.0
            report(progress, f"silver {config.split}", len(records), len(items),
                   f"{rate:.2f} q/s · LLM calls {counters['calls']} · "
                   f"cache hits {counters['hits']}")
        # the cost of every record, also of those an interrupted run wrote (counted by the
        # runs that wrote them: a cache hit here may have been a model call there)
        cost = _total_cost(earlier, counters, len(done), len(records),
                           time.perf_counter() - started)
        summary = summarize(records, int(cost["calls"]), int(cost["hits"]), cost["seconds"],
                            costed=int(cost["costed"]))
        stage = "silver" if config.split == "train" else f"silver-{config.split}"
        run_dir.record(stage, {**settings, "split": config.split, "limit": config.limit,
                               "workers": config.workers, "summary": summary.to_dict()})
    return summary
