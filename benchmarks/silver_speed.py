"""What the silver search costs, and what batching, the cache and Ray buy — one run, same queries.

Runs `ragbridge`'s silver stage on the first N nq-wiki train queries (dense top-K) as
(a) one prompt at a time, (b) batched, (c) batched again over the warm cache, (d) Ray with
1 and with 2 workers; each cold run starts from an empty response cache. Reports wall time,
LLM calls, cache hits, speed-up against (a), whether every run found the same sequences,
and the silver-vs-top-K gap:

    python benchmarks/silver_speed.py -n 32
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ragbridge.data import load_dataset
from ragbridge.jsonl import write_jsonl
from ragbridge.llms import DEFAULT_LLM, load_llm
from ragbridge.records import Candidates
from ragbridge.retrievers import build_retriever
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver
from ragbridge.silver.search import SilverConfig, SilverSummary

# name -> (LLM batch size, queries per window, Ray workers, reuse the cache of this run)
SETTINGS: dict[str, tuple[int, int, int, str | None]] = {
    "(a) one prompt at a time": (1, 1, 1, None),
    "(b) batched": (8, 16, 1, None),
    "(c) batched, warm cache": (8, 16, 1, "(b) batched"),
    "(d) Ray, 1 worker": (8, 16, 0, None),
    "(d) Ray, 2 workers": (8, 16, 2, None),
}


def _candidates(n: int, k: int) -> list[Candidates]:
    dataset = load_dataset("nq-wiki")
    examples = dataset.examples("train")[:n]
    hits = build_retriever("dense", dataset.corpus()).retrieve(examples, k)
    return [Candidates(e, tuple(h), "train", "dense") for e, h in zip(examples, hits, strict=True)]


def _run(folder: Path, items: list[Candidates], llm_spec: str, batch_size: int, window: int,
         workers: int, cache: Path) -> tuple[SilverSummary, list[list[int]]]:
    run = RunDir(folder)
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))
    run.record("retrieve", {"task": "qa", "dataset": "nq-wiki", "retriever": "dense",
                            "k": len(items[0].hits)})
    config = silver.SilverStageConfig(workers=max(workers, 1),
                                      search=SilverConfig(batch_queries=window))
    summary = silver.run(run, config, load_llm(llm_spec, batch_size=batch_size,
                                               cache_path=cache), use_ray=workers != 1)
    records = [json.loads(line) for line in (folder / "silver.jsonl").read_text().splitlines()]
    return summary, [r["silver"] for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=32, help="train queries")
    parser.add_argument("-k", type=int, default=5, help="candidates per query")
    parser.add_argument("--llm", default=DEFAULT_LLM)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/silver_speed"))
    args = parser.parse_args()
    scratch = args.out / "runs"
    shutil.rmtree(scratch, ignore_errors=True)
    items = _candidates(args.n, args.k)
    rows: list[dict[str, object]] = []
    sequences: dict[str, list[list[int]]] = {}
    caches: dict[str, Path] = {}
    for name, (batch_size, window, workers, warm_from) in SETTINGS.items():
        slug = name.split(")")[0].strip("(") + str(workers)
        cache = caches[warm_from] if warm_from else scratch / f"cache-{slug}.sqlite"
        caches[name] = cache
        summary, sequences[name] = _run(scratch / slug, items, args.llm, batch_size, window,
                                        workers, cache)
        rows.append({"setting": name, **summary.to_dict()})
        print(f"{name}: {summary.seconds:.0f} s, {summary.llm_calls} LLM calls", flush=True)
    reference = sequences["(a) one prompt at a time"]
    base = rows[0]["seconds"]
    lines = [f"{args.n} nq-wiki train queries, dense top-{args.k}, LLM `{args.llm}`, "
             "greedy silver search (max length 5, repeats allowed)", "",
             "| setting | seconds | LLM calls | cache hits | calls/query | speed-up | "
             "same sequences as (a) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        same = sum(a == b for a, b in zip(sequences[row["setting"]], reference, strict=True))
        lines.append(f"| {row['setting']} | {row['seconds']:.1f} | {row['llm_calls']} | "
                     f"{row['cache_hits']} | {row['llm_calls'] / args.n:.1f} | "
                     f"{base / max(row['seconds'], 1e-9):.2f}x | {same}/{args.n} |")
    first = rows[0]
    lines += ["", "| silver score | top-K score | empty score | mean length | empty % | "
              "repeated % |", "|---:|---:|---:|---:|---:|---:|",
              f"| {first['mean_silver']:.1f} | {first['mean_top_k']:.1f} | "
              f"{first['mean_empty']:.1f} | {first['mean_length']:.2f} | "
              f"{first['share_empty']:.1f} | {first['share_repeated']:.1f} |"]
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
