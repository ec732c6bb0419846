"""`BridgedRAG`: retriever -> selector (the bridge) -> frozen LLM, as one object for
application code."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.llms import CachedLLM
from ragbridge.records import Example, Passage
from ragbridge.retrievers import Retriever
from ragbridge.selectors import Selector
from ragbridge.tasks import Task


@dataclass
class Answer:
    """What `BridgedRAG.answer` returns: the LLM's answer, the passages it saw, timings."""

    query: str
    answer: str
    passages: list[Passage]
    positions: list[int]  # 0-based positions in the retrieved candidates, in prompt order
    candidates: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return {"query": self.query, "answer": self.answer, "positions": self.positions,
                "passages": [p.to_dict() for p in self.passages],
                "candidates": [p.to_dict() for p in self.candidates],
                "timings_ms": self.timings_ms}


class BridgedRAG:
    """Retrieve K candidates, let the selector (a bridge, or any `Selector`) choose the
    sequence, ask the frozen LLM."""

    def __init__(self, retriever: Retriever, selector: Selector, llm: CachedLLM, task: Task,
                 k: int = 5) -> None:
        self.retriever = retriever
        self.selector = selector
        self.llm = llm
        self.task = task
        self.k = k

    @classmethod
    def from_run(cls, run: str | Path, bridge: str | Path | None = None,
                 llm_spec: str | None = None) -> BridgedRAG:
        """The pipeline of a run directory: its data set, retriever and K, its best bridge
        (`bridge-rl/model`, else `bridge-sl/model`), and `llm_spec`, else the LLM `ragbridge
        fit` recorded, else the default LLM."""
        from ragbridge.bridge import Bridge
        from ragbridge.data import load_dataset
        from ragbridge.llms import DEFAULT_LLM, load_llm
        from ragbridge.retrievers import build_retriever
        from ragbridge.rundir import RunDir

        run_dir = RunDir(Path(run))
        settings = run_dir.settings()
        folder = Path(bridge) if bridge else best_bridge_folder(run_dir.path)
        dataset = load_dataset(settings.source)
        fitted = run_dir.config().get("fit-llm", {})  # the LLM `ragbridge fit` used
        llm = (load_llm(llm_spec) if llm_spec else
               load_llm(fitted["spec"], base_url=fitted.get("base_url")) if fitted else
               load_llm(DEFAULT_LLM))
        return cls(build_retriever(settings.retriever, dataset.corpus()),
                   Bridge.from_pretrained(folder), llm, run_dir.task(), k=settings.k)

    def answer(self, query: str, group: str | None = None) -> Answer:
        """Answer one query (group: restrict retrieval, e.g. to one email author)."""
        return self.answer_batch([query], [group])[0]

    def answer_batch(self, queries: Sequence[str],
                     groups: Sequence[str | None] | None = None) -> list[Answer]:
        """Answer many queries; retrieval, bridge and LLM each run once, batched."""
        groups = list(groups) if groups is not None else [None] * len(queries)
        examples = [Example(f"query-{n}", q, group=g)
                    for n, (q, g) in enumerate(zip(queries, groups, strict=True))]
        started = time.perf_counter()
        hits = self.retriever.retrieve(examples, self.k)
        retrieved = time.perf_counter()
        candidates = [[h.passage for h in found] for found in hits]
        chosen = self.selector.select_batch(list(queries), candidates)
        bridged = time.perf_counter()
        prompts = [self.task.build_prompt(e, [c[p] for p in positions])
                   for e, c, positions in zip(examples, candidates, chosen, strict=True)]
        outputs = self.llm.generate(prompts, self.task.generation)
        done = time.perf_counter()
        share = 1000.0 / max(len(queries), 1)
        timings = {"retrieve": (retrieved - started) * share,
                   "select": (bridged - retrieved) * share, "llm": (done - bridged) * share}
        return [Answer(q, output.strip(), [c[p] for p in positions], positions, c,
                       dict(timings))
                for q, c, positions, output in zip(queries, candidates, chosen, outputs,
                                                   strict=True)]


def best_bridge_folder(run: Path) -> Path:
    """`RUN/bridge-rl/model` if RL has run, else `RUN/bridge-sl/model`."""
    for folder in (run / "bridge-rl" / "model", run / "bridge-sl" / "model"):
        if (folder / "bridge_config.json").exists():
            return folder
    raise FileNotFoundError(f"no trained bridge under {run}: run `ragbridge train-sl` first")
