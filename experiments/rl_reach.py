"""What RL from a bridge can reach: its samples, and the KL it would pay for a sequence (no LLM).

RL samples sequences from the policy and charges each `kl_coef` x its log-ratio to the start
(`ragbridge.bridge.rl`). When the policy has moved onto a sequence the start rarely emits, that
log-ratio is about minus the start's log-probability of it. This prints, for one or more
bridges on a run's train queries:

- what they sample at each temperature (mean length, share empty, share with a repeat);
- the start's mean log-probability of a few target sequences (the top passage once, the top
  passage five times, each email's best-scoring RL-only shape `<pX> <p1> <p1> <p1> <p1>`)
  and the reward that `kl_coef` takes for them, against the task metric's 0..1 scale.

    python experiments/rl_reach.py --run runs/exp/email-rl-explore \
        "SL=runs/exp/email-rl-explore/bridge-sl/model" "fresh=minilm-fid"
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ragbridge.bridge import Bridge, build_bridge, is_family
from ragbridge.bridge.sl import SLConfig
from ragbridge.rundir import RunDir

TARGETS = {"<p1>": lambda k: [0], "<p1> x5": lambda k: [0] * 5,
           "<p2> <p1> x4": lambda k: [1, 0, 0, 0, 0], "<empty>": lambda k: []}


def load(spec: str, k: int) -> Bridge:
    """A bridge folder, or a fresh bridge of a family (the RL-only start)."""
    if is_family(spec):
        return build_bridge(spec, SLConfig().bridge_format(k), "cpu", 0)
    return Bridge.from_pretrained(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--limit", type=int, default=200, help="train queries")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--samples", type=int, default=4, help="samples per query")
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("bridges", nargs="+", help="NAME=FOLDER or NAME=FAMILY")
    args = parser.parse_args()
    run = RunDir(args.run)
    k = run.settings().k
    # every target names positions up to K: queries with all K candidates only
    examples = [e for e in run.examples("train", args.limit, need_silver=False)
                if len(e.passages) >= k]
    queries = [e.query for e in examples]
    passages = [e.passages for e in examples]
    torch.manual_seed(0)
    print(f"{len(examples)} train queries of {args.run}, {args.samples} samples each\n")
    print("| bridge | temperature | mean length | empty % | with a repeat % |")
    print("|---|---:|---:|---:|---:|")
    loaded = {}
    for spec in args.bridges:
        name, _, where = spec.partition("=")
        bridge = loaded[name] = load(where, k)
        for temperature in args.temperatures:
            sampled = bridge.generate([q for q in queries for _ in range(args.samples)],
                                      [p for p in passages for _ in range(args.samples)],
                                      sample=True, temperature=temperature)
            lengths = [len(s) for s in sampled]
            print(f"| {name} | {temperature:g} | {statistics.mean(lengths):.2f} | "
                  f"{100 * sum(n == 0 for n in lengths) / len(lengths):.0f} | "
                  f"{100 * sum(len(set(s)) < len(s) for s in sampled) / len(sampled):.0f} |")
    print(f"\n| bridge | sequence | mean log-probability | reward taken at kl_coef "
          f"{args.kl_coef:g} |")
    print("|---|---|---:|---:|")
    for name, bridge in loaded.items():
        for target, make in TARGETS.items():
            positions = [make(k) for _ in examples]
            with torch.no_grad():
                logprobs, mask = bridge.sequence_logprobs(queries, passages, positions)
            total = (logprobs * mask).sum(1).mean().item()
            print(f"| {name} | `{target}` | {total:.2f} | {-args.kl_coef * total:.3f} |")


if __name__ == "__main__":
    main()
