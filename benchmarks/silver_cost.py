"""What each silver strategy costs per query on a given LLM, cold, to size a study (issue 28).

For each search (strategy x utility, and K), the silver stage runs on the first N train
queries of a run, in its own run folder with its own empty response cache, so nothing one
search computed is free for another. Reports per query: prompts generated, references
scored, prompt tokens that reached the model (its own tokenizer; generated and scored prompts
alike) and seconds, then what the study's silver (every split it searches) would take at that rate:

    python benchmarks/silver_cost.py --run runs/qwen/nq-dense-k10 \\
        --llm llamacpp:qwen2.5-coder-0.5b -n 12 --study-queries 1757

A rerun reuses every finished search (its row is kept in OUT/SEARCH/cost.json, with the
seconds it was measured in); an interrupted one resumes from its cache, so its seconds then
cover only the part measured last (marked "resumed").
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragbridge.jsonl import write_json, write_jsonl
from ragbridge.llms import CachedLLM, build_llm
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver
from ragbridge.silver.records import read_silver
from ragbridge.silver.search import SilverConfig

# name -> (strategy, utility, K or None for the run's, extra settings)
SEARCHES: dict[str, tuple[str, str, int | None, dict[str, Any]]] = {
    "singles metric": ("singles", "metric", None, {}),
    "singles likelihood": ("singles", "likelihood", None, {}),
    "singles metric+likelihood": ("singles", "metric+likelihood", None, {}),
    "singles metric+likelihood, repeat-best 3": ("singles", "metric+likelihood", None,
                                                 {"repeat_best": 3}),
    "singles metric+likelihood, K=5": ("singles", "metric+likelihood", 5, {}),
    "greedy metric": ("greedy", "metric", None, {}),
}


def _folder_name(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


class CountingLLM:
    """A backend that sums the prompt tokens of every prompt it is asked to generate from or
    score (the model's own tokenizer where it has one, else whitespace words)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.identity, self.tokens = backend, backend.identity, 0

    def _count(self, prompts: Sequence[str]) -> None:
        model = getattr(self.backend, "backend", lambda: self.backend)()  # a LazyLLM's model
        llama = getattr(model, "model", None)
        for prompt in prompts:
            self.tokens += (len(llama.tokenize(prompt.encode(), add_bos=False))
                            if hasattr(llama, "tokenize") else len(prompt.split()))

    def generate(self, prompts: Sequence[str], settings: Any) -> list[str]:
        self._count(prompts)
        return self.backend.generate(prompts, settings)

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[Any]:
        self._count(prompts)
        return self.backend.score(prompts, references)


def _warm(backend: Any) -> Any:
    """The backend loaded and past its first generation and scoring (model loading and the
    scoring context are one-off costs, not a search's)."""
    from ragbridge.llms.base import GenerationSettings

    backend.generate(["Say yes."], GenerationSettings())
    if hasattr(backend, "score"):
        backend.score(["Say yes."], ["yes"])
    return backend


def measure(source: RunDir, out: Path, name: str, llm_spec: str, n: int) -> dict[str, Any]:
    """One search, cold, on the first `n` train queries (kept in OUT/NAME/cost.json)."""
    strategy, utility, k, extra = SEARCHES[name]
    folder = out / _folder_name(name)
    result_path = folder / "cost.json"
    finished = json.loads(result_path.read_text()) if result_path.exists() else None
    if finished and finished["queries"] == n:
        return finished
    folder.mkdir(parents=True, exist_ok=True)
    run = RunDir(folder)
    resumed = run.silver_path("train").exists()
    if not resumed:
        items = source.candidates("train")[:n]
        if k is not None:
            items = [replace(c, hits=tuple(c.hits[:k])) for c in items]
        write_jsonl(run.candidates_path, (c.to_dict() for c in items))
        run.record("retrieve", {**source.config()["retrieve"], "k": k or source.settings().k})
    counter = CountingLLM(_warm(build_llm(llm_spec)))
    llm = CachedLLM(counter, folder / "llm-cache.sqlite")
    search = SilverConfig(strategy=strategy, utility=utility, max_length=2,
                          judge_top_k=False, batch_queries=4, **extra)
    started = time.perf_counter()
    silver.run(run, silver.SilverStageConfig(limit=n, search=search), llm)
    seconds = time.perf_counter() - started
    records = read_silver(run.silver_path("train"))
    result = {"search": name, "queries": len(records), "k": k or source.settings().k,
              "generated": llm.stats.calls, "scored": llm.stats.scored,
              "prompt tokens": counter.tokens,
              "seconds": round(seconds, 1), "resumed": resumed,
              "mean silver": round(sum(r["score"] for r in records) / len(records), 2),
              "mean length": round(sum(len(r["silver"]) for r in records) / len(records), 2)}
    write_json(result_path, result)
    llm.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run with retrieved candidates")
    parser.add_argument("--llm", required=True)
    parser.add_argument("-n", type=int, default=12, help="train queries per search")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: RUN-silver-cost-LLM beside the run")
    parser.add_argument("--study-queries", type=int, default=1000,
                        help="queries the study's silver searches, to extrapolate to")
    parser.add_argument("--searches", nargs="*", default=list(SEARCHES), choices=list(SEARCHES))
    args = parser.parse_args()
    source = RunDir(args.run)
    out = args.out or args.run.parent / f"{args.run.name}-silver-cost-{_folder_name(args.llm)}"
    rows = [measure(source, out, name, args.llm, args.n) for name in args.searches]
    write_json(out / "silver-cost.json", {"llm": args.llm, "run": str(args.run), "n": args.n,
                                          "study queries": args.study_queries, "rows": rows})
    header = (f"| search ({args.run.name}, {args.llm}, {args.n} train queries) | K | prompts/q |"
              f" scored/q | prompt tokens/q | s/q | mean silver | length | study silver "
              f"({args.study_queries} q) |")
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for row in rows:
        per_query = row["seconds"] / row["queries"]
        hours = per_query * args.study_queries / 3600
        lines.append(
            f"| {row['search']}{' (resumed)' if row['resumed'] else ''} | {row['k']} | "
            f"{row['generated'] / row['queries']:.1f} | {row['scored'] / row['queries']:.1f} | "
            f"{row['prompt tokens'] / row['queries']:.0f} | {per_query:.1f} | "
            f"{row['mean silver']} | {row['mean length']} | {hours:.1f} h |")
    table = "\n".join(lines)
    (out / "silver-cost.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
