"""Does SL learn more from the utilities the silver search already paid for? (issue 14)

The silver search judged every candidate alone and the empty sequence before it chose; SL
imitates only the argmax. `SLConfig.utility_targets` (weight w) mixes into the first
decision's target, with weight w, softmax(utility / temperature) over those K+1 judged
options. This trains one SL bridge per weight on the same silver (into
`RUN/bridge-sl-targets-W-T/`, resumable), keeps each one's best epoch by the dev metric, and
reports on all of dev: the metric of its choices (judged by the frozen LLM; the silver
search already asked most of these prompts, so they come from the cache), exact match with
the dev silver, the share of the most common sequence, distinct sequences, and a paired
bootstrap of each weight against weight 0 (plain SL):

    RUN=runs/study/email-subject-bm25-singles-metric-likelihood
    python experiments/utility_targets.py --run $RUN --weights 0 0.5 1 --temperature 5

Writes `benchmarks/results/utility_targets/RUN-NAME.json`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from ragbridge.bridge import Bridge
from ragbridge.bridge import sl_stage as sl
from ragbridge.bridge.sl import SLConfig, silver_exact_match
from ragbridge.evaluation.scoring import Diversity, paired_bootstrap
from ragbridge.judge import Judge
from ragbridge.llms import load_llm
from ragbridge.recipes import SMOLLM2 as DEMO_LLM
from ragbridge.rundir import RunDir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--temperature", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--llm", default=DEMO_LLM)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/utility_targets"))
    args = parser.parse_args()
    run = RunDir(args.run)
    llm = load_llm(args.llm)
    judge = Judge(run.task(), llm)
    dev = run.examples("dev")  # the dev queries the silver search judged
    rows, scores = [], {}
    for weight in args.weights:
        out = run.bridge_path(f"bridge-sl-targets-{weight:g}-{args.temperature:g}")
        trained = sl.run(run, sl.SLStageConfig(dev_limit=len(dev), out=out, trainer=SLConfig(
            epochs=args.epochs, utility_targets=weight,
            utility_temperature=args.temperature)), llm)
        bridge = Bridge.from_pretrained(trained.model)
        chosen = bridge.generate([e.query for e in dev], [e.passages for e in dev])
        scores[weight] = judge.metrics([e.item for e in dev], chosen)
        diversity = Diversity.of(chosen)
        rows.append({
            "weight": weight, "temperature": args.temperature,
            "best_epoch": trained.history["best_epoch"],
            "metric": sum(scores[weight]) / len(dev),
            "exact_match": silver_exact_match(chosen, dev),
            "most_common_share": diversity.most_common_share,
            "most_common": list(Counter(tuple(c) for c in chosen).most_common(1)[0][0]),
            "distinct": diversity.distinct, "mean_passages": diversity.mean_length,
            "llm_calls_so_far": llm.stats.calls})  # generations not in the cache
    base = args.weights[0]
    print(f"{args.run.name}: {len(dev)} dev queries, temperature {args.temperature:g}, "
          f"{args.epochs} epochs; difference against weight {base:g}")
    print("| weight | best epoch | dev metric | exact match % | most common % | distinct | "
          "passages | difference [95% interval] |\n|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        mean, low, high = paired_bootstrap(scores[row["weight"]], scores[base])
        row["difference"] = {"mean": mean, "low": low, "high": high}
        print(f"| {row['weight']:g} | {row['best_epoch']} | {row['metric']:.2f} | "
              f"{row['exact_match']:.0f} | {row['most_common_share']:.0f} | {row['distinct']} "
              f"| {row['mean_passages']:.2f} | {mean:+.2f} [{low:+.2f}, {high:+.2f}] |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.run.name}.json").write_text(json.dumps(
        {"run": str(args.run), "dev": len(dev), "epochs": args.epochs, "rows": rows,
         "scores": {str(w): s for w, s in scores.items()}}, indent=1))


if __name__ == "__main__":
    main()
