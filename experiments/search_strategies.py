"""The paper's greedy silver search against the cheaper `singles` search, on the same queries
(issue 15): what each costs per query, how often they agree, and the dev metric of an SL
bridge trained on each.

Both search the first `--train` train queries (and `--dev` dev queries, for the dev silver
the SL stage reports sequence agreement on) of a run under one utility, each in its own run
directory beside the given one that shares its candidates:

    python experiments/search_strategies.py --run runs/email-subject-bm25 \\
        --utility likelihood --train 100 --dev 100

LLM work is counted from a fresh start of each search (the cache may already hold the
single-candidate judgments both share; then the second search costs less: the table shows
what each search asked of the LLM and what it had to compute).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ragbridge.bridge import sl_stage as sl
from ragbridge.bridge.sl import SLConfig
from ragbridge.evaluation import stage as evaluate
from ragbridge.llms import load_llm
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver
from ragbridge.silver.records import read_silver
from ragbridge.silver.search import SilverConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--utility", default="likelihood")
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--max-length", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=SLConfig.epochs)
    parser.add_argument("--llm", default="smollm2-fp32")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search_strategies"))
    args = parser.parse_args()
    llm = load_llm(args.llm)
    found: dict[str, dict[str, Any]] = {}
    for strategy in ("greedy", "singles"):
        run = RunDir(args.run).sibling(f"{strategy}-{args.utility.replace('+', '-')}-"
                                       f"{args.train}")
        summaries = {}
        for split, limit in (("train", args.train), ("dev", args.dev)):
            search = SilverConfig(utility=args.utility, strategy=strategy,
                                  max_length=args.max_length, judge_top_k=split != "train")
            calls, scored = llm.stats.calls, llm.stats.scored
            hits, score_hits = llm.stats.hits, llm.stats.score_hits
            summary = silver.run(run, silver.SilverStageConfig(split=split, limit=limit,
                                                               search=search), llm)
            summaries[split] = {**summary.to_dict(),
                                "asked": (llm.stats.calls - calls) + (llm.stats.hits - hits)
                                + (llm.stats.scored - scored)
                                + (llm.stats.score_hits - score_hits),
                                "computed": (llm.stats.calls - calls)
                                + (llm.stats.scored - scored)}
        trained = sl.run(run, sl.SLStageConfig(dev_limit=args.dev,
                                               trainer=SLConfig(epochs=args.epochs)), llm)
        report = evaluate.run(run, evaluate.EvaluateConfig(
            split="dev", n=args.dev, bridges=(f"SL bridge={trained.model}",)), llm)
        by_method = {r.method: r for r in report.results}
        found[strategy] = {"summaries": summaries, "metric": report.metric,
                           "records": {r["id"]: r for r in read_silver(run.silver_path())},
                           "bridge": by_method["SL bridge"].metric,
                           "top1": by_method["top-1"].metric,
                           "distinct": by_method["SL bridge"].diversity.distinct}
    greedy, singles = found["greedy"]["records"], found["singles"]["records"]
    shared = sorted(set(greedy) & set(singles))
    same = sum(greedy[i]["silver_positions"] == singles[i]["silver_positions"] for i in shared)
    first = sum(greedy[i]["silver_positions"][:1] == singles[i]["silver_positions"][:1]
                for i in shared)
    metric = found["greedy"]["metric"]
    lines = [f"{args.run.name}: {args.utility} silver on {len(shared)} train queries (max "
             f"length {args.max_length}), SL bridges on each, {args.dev} dev queries, LLM "
             f"`{llm.identity}`", "",
             "| search | LLM judgments asked / query | computed / query | s / query | mean "
             f"silver {metric} | mean silver utility | mean length | dev SL bridge {metric} "
             "| bridge distinct |", "|---|" + "---:|" * 8]
    for strategy, row in found.items():
        train = row["summaries"]["train"]
        records = list(row["records"].values())
        utility = sum(r["utility_score"] for r in records) / max(len(records), 1)
        lines.append(f"| {strategy} | {train['asked'] / max(train['queries'], 1):.1f} | "
                     f"{train['computed'] / max(train['queries'], 1):.1f} | "
                     f"{train['seconds'] / max(train['queries'], 1):.1f} | "
                     f"{train['mean_silver']:.1f} | {utility:.3f} | {train['mean_length']:.2f} "
                     f"| {row['bridge']:.1f} | {row['distinct']} |")
    lines += ["", f"sequence agreement: {same}/{len(shared)} identical, {first}/{len(shared)} "
                  f"same first passage; dev top-1 {found['greedy']['top1']:.1f}"]
    table = "\n".join(lines)
    print(table)
    out = args.out / f"{args.run.name}-{args.utility.replace('+', '-')}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(
        {s: {k: v for k, v in row.items() if k != "records"} for s, row in found.items()}
        | {"identical": same, "same_first": first, "queries": len(shared)}, indent=1))


if __name__ == "__main__":
    main()
