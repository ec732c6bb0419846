"""A Ray actor for the silver search: rebuilds the LLM from its recipe, shares the cache."""

from __future__ import annotations

from typing import Any

from ragbridge.judge import Judge
from ragbridge.records import Candidates
from ragbridge.silver.search import SilverConfig, search_batch
from ragbridge.tasks import Task


class SilverWorker:
    """Searches windows of queries; returns (records, LLM calls, cache hits) per window."""

    def __init__(self, task: Task, recipe: dict[str, Any], metric: str,
                 config: SilverConfig) -> None:
        import torch

        from ragbridge.llms import load_llm

        torch.set_num_threads(1)
        self.judge = Judge(task, load_llm(**recipe), metric, utility=config.utility)
        self.config = config

    def search(self, window: list[Candidates]) -> tuple[list[dict[str, Any]], int, int]:
        """One window, as the single-process path would search it."""
        llm = self.judge.llm
        calls, hits = llm.stats.calls, llm.stats.hits
        records = search_batch(window, self.judge, self.config)
        return records, llm.stats.calls - calls, llm.stats.hits - hits
