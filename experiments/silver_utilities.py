"""Which silver makes the better bridge? The silver search under each utility, and the SL
bridge trained on each, on the same train and dev queries (issue 14).

For each utility (metric, likelihood, metric+likelihood) the script makes a run directory
beside the given one (`RUN-<utility>`, sharing its candidates), searches silver on the first
`--train` train and `--dev` dev queries, trains the default SL bridge on the train silver and
evaluates it on dev (no retrieval, top-1, top-K, the bridge, the silver oracle). The table:
share of informative searches, mean silver length, share empty, LLM work and seconds per
query (searching the train queries), then the SL bridge's dev metric beside top-1 and top-K,
and how varied its dev choices are.

    python experiments/silver_utilities.py --run runs/study/email-subject-bm25 --train 200 --dev 100

Every stage resumes and every LLM judgment is cached: rerunning continues or only reports.
The cost columns count the judgments each search asked for (prompts generated for and
references scored, whether the cache or the model answered them): run after the study,
most are answered from its cache, so measured seconds would say nothing about cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ragbridge.bridge import sl_stage as sl
from ragbridge.bridge.sl import SLConfig
from ragbridge.evaluation import stage as evaluate
from ragbridge.llms import CachedLLM, load_llm
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver
from ragbridge.silver.search import SilverConfig

UTILITIES = ("metric", "likelihood", "metric+likelihood")


def asked(run: RunDir, stage: silver.SilverStageConfig, llm: CachedLLM) -> dict[str, int]:
    """The judgments a search of `stage` asks for: the same search again in a scratch run
    (every answer now comes from the cache), counting prompts generated for and references
    scored. A resumed search's own counters only see the records it wrote."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = RunDir(Path(scratch) / run.path.name)
        shutil.copyfile(run.candidates_path, fresh.candidates_path)
        fresh.record("retrieve", run.config()["retrieve"])
        before = (llm.stats.calls + llm.stats.hits, llm.stats.scored + llm.stats.score_hits)
        silver.run(fresh, stage, llm)
        return {"generations": llm.stats.calls + llm.stats.hits - before[0],
                "scores": llm.stats.scored + llm.stats.score_hits - before[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--utilities", nargs="+", default=list(UTILITIES), choices=UTILITIES)
    parser.add_argument("--max-length", type=int, default=2)
    parser.add_argument("--strategy", default="singles", choices=("greedy", "singles"))
    parser.add_argument("--epochs", type=int, default=SLConfig.epochs)
    parser.add_argument("--llm", default="smollm2-fp32")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/silver_utilities"))
    args = parser.parse_args()
    llm = load_llm(args.llm)
    rows: list[dict[str, Any]] = []
    for utility in args.utilities:
        run = RunDir(args.run).sibling(f"{args.strategy}-{utility.replace('+', '-')}")
        found = {}
        for split, limit in (("train", args.train), ("dev", args.dev)):
            search = SilverConfig(utility=utility, max_length=args.max_length,
                                  strategy=args.strategy, judge_top_k=split != "train")
            stage = silver.SilverStageConfig(split=split, limit=limit, search=search)
            summary = silver.run(run, stage, llm)
            found[split] = {**summary.to_dict(), **asked(run, stage, llm)}
            print(f"{run.path.name} {split}: {summary.queries} queries, "
                  f"{summary.seconds:.0f} s", flush=True)
        trained = sl.run(run, sl.SLStageConfig(dev_limit=args.dev,
                                               trainer=SLConfig(epochs=args.epochs)), llm)
        report = evaluate.run(run, evaluate.EvaluateConfig(
            split="dev", n=args.dev, bridges=(f"SL bridge={trained.model}",)), llm)
        by_method = {r.method: r for r in report.results}
        bridge = by_method["SL bridge"]
        train = found["train"]
        rows.append({
            "utility": utility, "train": train, "dev_silver": found["dev"],
            "informative": train["share_informative"], "mean_length": train["mean_length"],
            "empty": train["share_empty"],
            "generations_per_query": train["generations"] / max(train["queries"], 1),
            "scores_per_query": train["scores"] / max(train["queries"], 1),
            "sl_train_examples": trained.train, "metric": report.metric,
            "results": {r.method: {"metric": r.metric, "passages": r.passages,
                                   "distinct": r.diversity.distinct,
                                   "most_common_share": r.diversity.most_common_share}
                        for r in report.results},
            "comparison": report.comparison.line() if report.comparison else None,
            "bridge_dev": bridge.metric, "bridge_distinct": bridge.diversity.distinct,
            "bridge_most_common": bridge.diversity.most_common_share})
    k = RunDir(args.run).settings().k
    metric = rows[0]["metric"] if rows else "metric"
    lines = [f"{args.run.name}: silver on {args.train} train / {args.dev} dev queries per "
             f"utility ({args.strategy} search, max length {args.max_length}), SL bridge "
             f"({SLConfig.family}, "
             f"{args.epochs} epochs) on its train silver, LLM `{llm.identity}`", "",
             "| utility | informative % | mean length | empty % | generations / query "
             "| likelihoods / query | SL train | dev top-1 | dev top-"
             f"{k} | dev silver oracle | dev SL bridge | bridge distinct | bridge most "
             "common % |", "|---|" + "---:|" * 12]
    for row in rows:
        results = row["results"]
        lines.append(
            f"| {row['utility']} | {row['informative']:.0f} | {row['mean_length']:.2f} | "
            f"{row['empty']:.0f} | {row['generations_per_query']:.1f} | "
            f"{row['scores_per_query']:.1f} | "
            f"{row['sl_train_examples']} | {results['top-1']['metric']:.1f} | "
            f"{results[f'top-{k}']['metric']:.1f} | "
            f"{results.get('silver oracle', {}).get('metric', float('nan')):.1f} | "
            f"{row['bridge_dev']:.1f} | {row['bridge_distinct']} | "
            f"{row['bridge_most_common']:.0f} |")
    lines += ["", f"dev metric: {metric}; the silver oracle is each utility's own dev silver "
                  "(the same queries); generations and likelihoods per query count what each "
                  "search asked for on train, cached or not"]
    table = "\n".join(lines)
    print(table)
    out = args.out / f"{args.run.name}-{args.strategy}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
