"""PPO vs critic-free RLOO, settings that may let RL improve on its SL start, and RL without
SL (issues 5 and 15).

The first three variants sample the same number of sequences per iteration (PPO: 16
queries x 1 sample; RLOO: 8 queries x 2 samples); the issue-15 variants trade queries for
samples per query, learning rate, KL and reward. "LLM calls" counts the judgments the cache
could not answer. Dev metric: greedy decoding on the run's dev queries, at the start and
every `--eval-every` iterations. Needs a run with an SL bridge (`--sl`, default
RUN/bridge-sl/model):

    python experiments/rl_compare.py --run runs/email-subject-bm25 --iterations 30 \
        --variants "SL + RLOO x4, lr 1e-4" "SL + PPO, lr 1e-4"

Each variant trains into `OUT/<run name>/<variant>/` and resumes there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ragbridge.bridge import rl_stage as rl
from ragbridge.bridge.rl import RLConfig
from ragbridge.llms import load_llm
from ragbridge.rundir import RunDir

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "SL + PPO (value head)": ("sl", {"algorithm": "ppo", "rollout_queries": 16,
                                     "samples_per_query": 1}),
    "SL + RLOO (critic-free, 2 samples)": ("sl", {"algorithm": "rloo", "rollout_queries": 8,
                                                  "samples_per_query": 2}),
    "RL only: PPO from MiniLM, no SL": ("minilm-fid", {"algorithm": "ppo",
                                                       "rollout_queries": 16,
                                                       "samples_per_query": 1}),
    # issue 15: settings under which RL may improve on its SL start
    "SL + RLOO x4, lr 1e-5": ("sl", {"algorithm": "rloo", "rollout_queries": 8,
                                     "samples_per_query": 4, "learning_rate": 1e-5}),
    "SL + RLOO x4, lr 1e-4": ("sl", {"algorithm": "rloo", "rollout_queries": 8,
                                     "samples_per_query": 4, "learning_rate": 1e-4}),
    "SL + RLOO x4, lr 1e-4, metric + likelihood gain": (
        "sl", {"algorithm": "rloo", "rollout_queries": 8, "samples_per_query": 4,
               "learning_rate": 1e-4, "likelihood_weight": 0.2}),
    "SL + PPO, lr 1e-4": ("sl", {"algorithm": "ppo", "rollout_queries": 32,
                                 "samples_per_query": 1, "learning_rate": 1e-4}),
    "SL + RLOO x4, lr 1e-4, kl 0.2": ("sl", {"algorithm": "rloo", "rollout_queries": 8,
                                             "samples_per_query": 4, "learning_rate": 1e-4,
                                             "kl_coef": 0.2}),
}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def _plot(histories: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.6))
    for name, history in histories.items():
        steps = history["steps"]
        left.plot([s["iteration"] for s in steps], [s["reward"] for s in steps],
                  linewidth=0.9, label=name)
        middle.plot([s["iteration"] for s in steps], [s["kl"] for s in steps], linewidth=0.9)
        right.plot([d["iteration"] for d in history["dev"]],
                   [d["metric"] for d in history["dev"]], marker="o")
    left.set(xlabel="iteration", title="rollout reward (metric)")
    middle.set(xlabel="iteration", title="KL to the start bridge")
    right.set(xlabel="iteration", title="dev metric (greedy)")
    left.legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="draw rollouts from the first N train queries (those with silver: "
                             "their judgments are cached)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS)[:3],
                        choices=list(VARIANTS))
    parser.add_argument("--sl", type=Path, default=None,
                        help="the SL bridge to start from (default RUN/bridge-sl/model)")
    parser.add_argument("--llm", default="smollm2")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rl_compare"))
    args = parser.parse_args()
    out = args.out / args.run.name
    llm = load_llm(args.llm)
    histories = {}
    for name in args.variants:
        start, settings = VARIANTS[name]
        begin = str(args.sl or args.run / "bridge-sl" / "model") if start == "sl" else start
        config = rl.RLStageConfig(start=begin, out=out / _slug(name), dev_limit=args.dev,
                                  train_limit=args.train_limit,
                                  trainer=RLConfig(iterations=args.iterations,
                                                   eval_every=args.eval_every, **settings))
        histories[name] = rl.run(RunDir(args.run), config, llm).history
    lines = [f"{args.run.name}: {args.iterations} iterations, {args.dev} dev queries, "
             f"LLM `{args.llm}`", "",
             "| variant | dev at start | dev by evaluation | best dev | passages (last dev) "
             "| KL at end | LLM calls | seconds |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, history in histories.items():
        dev = history["dev"]
        later = " / ".join(f"{d['metric']:.1f}" for d in dev[1:])
        lines.append(
            f"| {name} | {dev[0]['metric']:.1f} | {later} | "
            f"{max(d['metric'] for d in dev):.1f} | {dev[-1]['mean_passages']:.2f} | "
            f"{history['steps'][-1]['kl']:.3f} | {history['llm_calls']} | "
            f"{history['seconds']:.0f} |")
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "histories.json").write_text(json.dumps(histories, indent=1))
    _plot(histories, out / "curves.png", f"{args.run.name}: PPO vs RLOO vs RL-only")


if __name__ == "__main__":
    main()
