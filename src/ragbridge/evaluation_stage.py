"""The evaluate stage: every available method on one split of a run directory.

Methods: no retrieval, top-1 and top-K in retriever order, each bridge given, and the
silver oracle when the split has been searched (`ragbridge silver --split test`). Writes
`eval-SPLIT.json` (with per-example scores), `eval-SPLIT.md` and `eval-SPLIT.png`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ragbridge.evaluation import (
    MethodResult,
    Selector,
    evaluate_method,
    plot_results,
    results_markdown,
    top_k_selector,
)
from ragbridge.jsonl import atomic_write_text, read_jsonl, write_json
from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates
from ragbridge.rundir import RunDir
from ragbridge.tasks import Task, get_task


def _bridge_selector(path: Path) -> Selector:
    from ragbridge.bridge import Bridge

    bridge = Bridge.from_pretrained(path)

    def select(items: Sequence[Candidates]) -> list[list[int]]:
        return bridge.select_batch([c.example.query for c in items],
                                   [[h.passage for h in c.hits] for c in items])
    return select


def _silver_positions(run: RunDir, split: str) -> dict[str, list[int]]:
    path = run.silver_path(split)
    if not path.exists():
        return {}
    return {str(r["id"]): list(r["silver_positions"]) for r in read_jsonl(path)}


def run_evaluation(run: RunDir, split: str, n: int | None, k: int, llm: CachedLLM,
                   bridges: Mapping[str, Path], task: Task | None = None
                   ) -> list[MethodResult]:
    """Evaluate every method on the first n examples (those with silver, if searched)."""
    task = task or get_task(run.config().get("retrieve", {}).get("task", "qa"))
    items = [replace(c, hits=c.hits[:k]) for c in run.candidates(split)]
    silver = _silver_positions(run, split)
    if silver:
        items = [c for c in items if c.example.id in silver]
    items = items[:n]
    if not items:
        raise ValueError(f"no candidates for split {split!r} in {run.path}")
    methods: dict[str, Selector] = {"no retrieval": top_k_selector(0),
                                    "top-1": top_k_selector(1),
                                    f"top-{k}": top_k_selector(None)}
    methods.update({name: _bridge_selector(path) for name, path in bridges.items()})
    if silver:
        methods["silver oracle"] = lambda chosen: [silver[c.example.id] for c in chosen]
    results = [evaluate_method(name, items, select, task, llm)
               for name, select in methods.items()]
    dataset = run.config().get("retrieve", {}).get("dataset", run.path.name)
    title = f"{dataset} ({split}, {len(items)} examples, K={k})"
    write_json(run.path / f"eval-{split}.json",
               {"title": title, "llm": llm.identity, "metric": task.primary_metric,
                "results": [r.to_dict() for r in results]})
    atomic_write_text(run.path / f"eval-{split}.md",
                      results_markdown(results, title, task.primary_metric) + "\n")
    plot_results(results, run.path / f"eval-{split}.png", title, task.primary_metric)
    run.record(f"evaluate-{split}", {"n": len(items), "k": k, "llm": llm.identity,
                                     "bridges": {k: str(v) for k, v in bridges.items()}})
    return results
