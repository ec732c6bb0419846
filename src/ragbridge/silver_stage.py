"""The silver stage: batched, cached, resumable and (optionally) Ray-distributed greedy search.

silver.jsonl holds one record per query in input order, written window by window (a window
is `batch_queries` queries searched together) with one append + fsync each. A resumed run
keeps only whole windows, so it re-forms exactly the windows an uninterrupted run would and
writes an identical file; a killed run loses at most the windows in flight.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates
from ragbridge.rundir import RunDir
from ragbridge.silver import SilverConfig, search_batch
from ragbridge.tasks import Task, get_task


@dataclass
class SilverSummary:
    """What the search found, and what it cost."""

    queries: int
    mean_silver: float
    mean_top_k: float
    mean_empty: float
    mean_length: float
    share_empty: float
    share_repeated: float
    llm_calls: int
    cache_hits: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return dict(self.__dict__)


def completed_records(path: Path, window: int) -> list[dict[str, Any]]:
    """Records of the whole windows already in `path`; truncate anything after them."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    ends: list[int] = []  # byte offset after each good line
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
            ends.append((ends[-1] if ends else 0) + len(line))
    keep = len(records) - len(records) % window
    size = ends[keep - 1] if keep else 0
    if size != os.path.getsize(path):
        with open(path, "r+b") as handle:
            handle.truncate(size)
    return records[:keep]


def _append(path: Path, records: Sequence[dict[str, Any]]) -> None:
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def _windows(items: Sequence[Candidates], size: int) -> list[list[Candidates]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def summarize(records: Sequence[dict[str, Any]], llm_calls: int, cache_hits: int,
              seconds: float) -> SilverSummary:
    """Mean silver vs top-K vs empty score, sequence lengths, share empty and repeated."""
    count = max(len(records), 1)
    return SilverSummary(
        queries=len(records),
        mean_silver=sum(r["score"] for r in records) / count,
        mean_top_k=sum(r["top_k_score"] for r in records) / count,
        mean_empty=sum(r["empty_score"] for r in records) / count,
        mean_length=sum(len(r["silver"]) for r in records) / count,
        share_empty=100.0 * sum(not r["silver"] for r in records) / count,
        share_repeated=100.0 * sum(len(set(r["silver"])) < len(r["silver"])
                                   for r in records) / count,
        llm_calls=llm_calls, cache_hits=cache_hits, seconds=seconds)


def _single_process(windows: list[list[Candidates]], task: Task, llm: CachedLLM,
                    config: SilverConfig,
                    counters: dict[str, int]) -> Iterator[list[dict[str, Any]]]:
    for window in windows:
        records = search_batch(window, task, llm, config)
        counters["calls"], counters["hits"] = llm.stats.calls, llm.stats.hits
        yield records


def _ray_windows(windows: list[list[Candidates]], task: Task, llm_spec: str,
                 llm_options: dict[str, Any], cache_path: Path, config: SilverConfig,
                 workers: int, address: str | None,
                 counters: dict[str, int]) -> Iterator[list[dict[str, Any]]]:
    """Fan windows out over Ray actors (one model each); yield results in input order."""
    import ray

    from ragbridge.silver_worker import SilverWorker

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else workers,
                 include_dashboard=False, log_to_driver=False)
    actor = ray.remote(SilverWorker)
    pool = [actor.remote(task, llm_spec, llm_options, str(cache_path), config)
            for _ in range(workers)]
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


def run_silver(run: RunDir, llm_factory: Callable[[], CachedLLM], llm_spec: str,
               llm_options: dict[str, Any], config: SilverConfig, split: str = "train",
               limit: int | None = None, workers: int = 1,
               ray_address: str | None = None, task: Task | None = None,
               use_ray: bool = False) -> SilverSummary:
    """Search every query of `split` (resuming silver.jsonl) and summarise all records.

    Ray is used for more than one worker, for a cluster address, or when `use_ray` asks.
    """
    task = task or get_task(run.config().get("retrieve", {}).get("task", "qa"))
    items = run.candidates(split)[:limit]
    if config.k:
        items = [replace(c, hits=c.hits[:config.k]) for c in items]
    path = run.silver_path(split)
    done = completed_records(path, config.batch_queries)
    done_ids = [r["id"] for r in done]
    if done_ids != [c.example.id for c in items[:len(done_ids)]]:
        raise ValueError(f"{path} was made from other candidates or settings; move it away")
    pending = _windows(items[len(done):], config.batch_queries)
    counters = {"calls": 0, "hits": 0}
    started = time.perf_counter()
    if workers > 1 or ray_address or use_ray:
        cache_path = llm_options.pop("cache_path")
        results = _ray_windows(pending, task, llm_spec, llm_options, cache_path, config,
                               workers, ray_address, counters)
    else:
        results = _single_process(pending, task, llm_factory(), config, counters)
    records = list(done)
    columns = (TextColumn("[bold]silver[/bold]"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns) as progress:
        bar = progress.add_task("silver", total=len(items), completed=len(done), info="")
        for window_records in results:
            _append(path, window_records)
            records += window_records
            elapsed = time.perf_counter() - started
            rate = (len(records) - len(done)) / elapsed if elapsed else 0.0
            progress.update(bar, completed=len(records),
                            info=f"{rate:.2f} q/s · LLM calls {counters['calls']} · "
                                 f"cache hits {counters['hits']}")
    summary = summarize(records, counters["calls"], counters["hits"],
                        time.perf_counter() - started)
    stage = "silver" if split == "train" else f"silver-{split}"
    run.record(stage, {**asdict(config), "split": split, "limit": limit, "workers": workers,
                       "llm": llm_spec, "summary": summary.to_dict()})
    return summary
