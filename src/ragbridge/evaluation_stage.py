"""The evaluate stage: every available method on one split of a run directory.

Methods: no retrieval, top-1 and top-K in retriever order, the point-wise reranker when
`RUN/reranker/` has been trained (`ragbridge train-reranker`; or another run's, given as
`reranker`, since a reranker scores any retriever's candidates), each bridge given, and the
silver oracle when the split has been searched (`ragbridge silver --split test`). The last
bridge given (BGM, when it is the SL+RL one) is compared with the best baseline by a paired
bootstrap. Writes `eval-SPLIT.json` (with per-example scores), `eval-SPLIT.md` and
`eval-SPLIT.png`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ragbridge.evaluation import (
    MethodResult,
    Selector,
    evaluate_method,
    paired_bootstrap,
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


def _reranker_selector(folder: Path) -> Selector:
    from ragbridge.reranker_stage import load_tuned_reranker

    reranker = load_tuned_reranker(folder)

    def select(items: Sequence[Candidates]) -> list[list[int]]:
        return [reranker.select(c.example.query, [h.passage for h in c.hits]) for c in items]
    return select


BASELINES = ("no retrieval", "top-1", "point-wise reranker")


def bootstrap_line(results: Sequence[MethodResult], bridges: Sequence[str]) -> str | None:
    """The last bridge against the best baseline: mean difference and its 95% interval."""
    if not bridges:
        return None
    by_name = {r.method: r for r in results}
    candidate = by_name[bridges[-1]]
    baselines = [r for r in results if r.method in BASELINES or r.method.startswith("top-")]
    best = max(baselines, key=lambda r: r.metric)
    mean, low, high = paired_bootstrap(candidate.scores, best.scores)
    return (f"{candidate.method} vs best baseline ({best.method}): {mean:+.1f} "
            f"[95% CI {low:+.1f}, {high:+.1f}], paired bootstrap over {len(best.scores)} "
            "examples")


def _silver_positions(run: RunDir, split: str) -> dict[str, list[int]]:
    path = run.silver_path(split)
    if not path.exists():
        return {}
    return {str(r["id"]): list(r["silver_positions"]) for r in read_jsonl(path)}


def run_evaluation(run: RunDir, split: str, n: int | None, k: int, llm: CachedLLM,
                   bridges: Mapping[str, Path], task: Task | None = None,
                   reranker: Path | None = None) -> list[MethodResult]:
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
    reranker = reranker or run.path / "reranker"
    if (reranker / "threshold.json").exists():
        methods["point-wise reranker"] = _reranker_selector(reranker)
    methods.update({name: _bridge_selector(path) for name, path in bridges.items()})
    if silver:
        methods["silver oracle"] = lambda chosen: [silver[c.example.id] for c in chosen]
    results = [evaluate_method(name, items, select, task, llm)
               for name, select in methods.items()]
    retrieve = run.config().get("retrieve", {})
    source = f"{retrieve['dataset']}, {retrieve['retriever']}" if "retriever" in retrieve \
        else retrieve.get("dataset", run.path.name)
    title = f"{source} ({split}, {len(items)} examples, K={k})"
    comparison = bootstrap_line(results, list(bridges))
    write_json(run.path / f"eval-{split}.json",
               {"title": title, "llm": llm.identity, "metric": task.primary_metric,
                "bootstrap": comparison, "results": [r.to_dict() for r in results]})
    markdown = results_markdown(results, title, task.primary_metric)
    atomic_write_text(run.path / f"eval-{split}.md",
                      markdown + (f"\n\n{comparison}" if comparison else "") + "\n")
    plot_results(results, run.path / f"eval-{split}.png", title, task.primary_metric)
    run.record(f"evaluate-{split}", {"n": len(items), "k": k, "llm": llm.identity,
                                     "bridges": {k: str(v) for k, v in bridges.items()},
                                     "reranker": str(reranker)})
    return results
