"""A Ray actor for the silver search: loads its own LLM once, shares the sqlite cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragbridge.records import Candidates
from ragbridge.silver import SilverConfig, search_batch
from ragbridge.tasks import Task


class SilverWorker:
    """Searches windows of queries; returns (records, LLM calls, cache hits) per window."""

    def __init__(self, task: Task, llm_spec: str, llm_options: dict[str, Any],
                 cache_path: str, config: SilverConfig) -> None:
        import torch

        from ragbridge.llms import load_llm

        torch.set_num_threads(1)
        self.task = task
        self.llm = load_llm(llm_spec, cache_path=Path(cache_path), **llm_options)
        self.config = config

    def search(self, window: list[Candidates]) -> tuple[list[dict[str, Any]], int, int]:
        """One window, as the single-process path would search it."""
        calls, hits = self.llm.stats.calls, self.llm.stats.hits
        records = search_batch(window, self.task, self.llm, self.config)
        return records, self.llm.stats.calls - calls, self.llm.stats.hits - hits
