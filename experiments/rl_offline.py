"""Can RL improve on its start at all? RL on the bridge's first choice, with no LLM call.

The singles silver search judged, for every train and dev query, the empty prompt and every
single candidate (the task metric of the LLM's output and the reference's mean
log-likelihood), and its trace keeps them. A bridge limited to sequences of at most one id
(`max_ids=1`) only ever asks for one of those K+1 prompts, so its RL reward is exactly what
the real RL stage would get for the same choice, read from the trace instead of the LLM: an
RL run of 40 iterations takes a minute or two, not an hour. It measures whether a setting
(learning rate, KL, group size, reward mix) can move the policy's choice of first passage
above its start on dev; it does not measure second passages.

    RUN=runs/study/email-subject-bm25
    python experiments/rl_offline.py --run $RUN --start $RUN/bridge-sl/model \
        --setting learning_rate=1e-3 --setting learning_rate=1e-3,kl_coef=0

Every run starts from `--start` (an SL bridge folder, or a family such as `minilm-fid` for
RL-only) with the study's RL settings (`ragbridge.demo`), each `--setting` replacing some of
them. Prints, per setting, the dev metric of the greedy first choice at the start and at
every evaluation, the best, the share of dev on the most common choice and how many distinct
choices; writes `table.md`, `results.json` and `curves.png` under `--out`/RUN-NAME/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from ragbridge.bridge import Bridge, build_bridge, is_family
from ragbridge.bridge.rl import RLConfig, train_rl
from ragbridge.bridge.sl import SLConfig
from ragbridge.judge import Judgment
from ragbridge.llms.base import LogLikelihood
from ragbridge.recipes import TASKS
from ragbridge.records import Candidates
from ragbridge.rundir import RunDir
from ragbridge.silver.records import read_silver


def singles_table(record: dict[str, Any]) -> dict[int | None, tuple[float, float]]:
    """(metric, mean log-likelihood) of the empty prompt (key None) and of each candidate
    alone (its 0-based position), from a silver record's trace."""
    steps = {step["step"]: step for step in record.get("trace", [])}
    if 0 not in steps or 1 not in steps or "loglik" not in steps[0]["empty"]:
        raise ValueError(f"silver record {record['id']} has no singles trace with the metric "
                         "and the likelihood (search with --utility metric+likelihood)")
    table: dict[int | None, tuple[float, float]] = {
        None: (float(steps[0]["empty"]["metric"]), float(steps[0]["empty"]["loglik"]))}
    for tried in steps[1]["tried"]:
        table[int(tried["append"])] = (float(tried["metric"]), float(tried["loglik"]))
    return table


class TraceJudge:
    """What `train_rl` needs of a Judge, answered from silver traces: sequences of at most
    one id, each judged as the search judged it."""

    def __init__(self, records: Sequence[dict[str, Any]], metric: str) -> None:
        self.table = {record["id"]: singles_table(record) for record in records}
        self.metric = metric
        self.llm = SimpleNamespace(stats=SimpleNamespace(calls=0, hits=0))  # never called

    def judge_positions(self, items: Sequence[Candidates], positions: Sequence[Sequence[int]],
                        generate: bool | None = None,
                        likelihood: bool | None = None) -> list[Judgment]:
        """One judgment per (item, sequence of at most one position)."""
        judged = []
        for item, chosen in zip(items, positions, strict=True):
            if len(chosen) > 1:
                raise ValueError(f"{item.example.id}: {chosen} is longer than one id")
            metric, loglik = self.table[item.example.id][chosen[0] if chosen else None]
            judged.append(Judgment("", "", {self.metric: metric}, len(chosen),
                                   LogLikelihood(total=loglik, tokens=1)))
        return judged

    def metric_of(self, judgment: Judgment) -> float:
        """The task metric of a judgment."""
        return judgment.scores[self.metric]

    def metrics(self, items: Sequence[Candidates],
                positions: Sequence[Sequence[int]]) -> list[float]:
        """The task metric of each (item, positions)."""
        return [self.metric_of(j) for j in self.judge_positions(items, positions)]


def mean(values: Sequence[float]) -> float:
    """The mean (0 for none)."""
    return sum(values) / len(values) if values else 0.0


def parse_setting(text: str) -> dict[str, Any]:
    """`name=value,name=value` into RLConfig replacements, each value of its field's type."""
    types = {f.name: type(getattr(RLConfig(), f.name)) for f in fields(RLConfig)}
    found: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        if name not in types:
            raise SystemExit(f"--setting {text!r}: RLConfig has no field {name!r}")
        kind = types[name]
        found[name] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return found


def one_id(bridge: Bridge) -> Bridge:
    """The bridge limited to sequences of at most one id."""
    bridge.format = replace(bridge.format, max_ids=1)
    return bridge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--start", required=True,
                        help="SL bridge folder, or a family (minilm-fid) for RL-only")
    parser.add_argument("--setting", action="append", default=[],
                        help="RLConfig replacements, e.g. learning_rate=1e-3,kl_coef=0")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--dev", type=int, default=None, help="at most this many dev queries")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rl_offline"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = RunDir(args.run)
    task = next(t for t in TASKS if args.run.name.startswith(t.name))
    train = run.examples("train")
    dev = run.examples("dev", args.dev)
    if not dev:
        raise SystemExit(f"{run.silver_path('dev')} holds no dev query of {run.path}")
    records = read_silver(run.silver_path("train")) + read_silver(run.silver_path("dev"))
    metric = run.task().primary_metric
    judge = TraceJudge(records, metric)
    base = replace(task.reward, iterations=args.iterations, eval_every=args.eval_every,
                   checkpoint_every=args.iterations)
    settings = [{}] + [parse_setting(text) for text in args.setting]
    rows, histories = [], {}
    for setting in settings:
        config = replace(base, **setting)
        if is_family(args.start):
            start = build_bridge(args.start, SLConfig().bridge_format(run.settings().k),
                                 config.device, config.seed)
        else:
            start = Bridge.from_pretrained(Path(args.start))
        with tempfile.TemporaryDirectory() as scratch:
            history = train_rl(train, dev, judge, one_id(start), config,  # type: ignore[arg-type]
                               Path(scratch) / "rl")
        label = ", ".join(f"{k}={v}" for k, v in setting.items()) or "the study's settings"
        histories[label] = history
        best = max(history["dev"], key=lambda d: (d["metric"], -d["iteration"]))
        last = history["dev"][-1]
        rows.append({"setting": label, "start": history["dev"][0]["metric"],
                     "by evaluation": [round(d["metric"], 2) for d in history["dev"][1:]],
                     "best": best["metric"], "best iteration": best["iteration"],
                     "most common % (last)": last["diversity"]["most_common_share"],
                     "distinct (last)": last["diversity"]["distinct"],
                     "empty % (last)": last["diversity"]["empty"],
                     "KL (last)": round(history["steps"][-1]["kl"], 4),
                     "seconds": round(history["seconds"], 1)})
        print(json.dumps(rows[-1]))
    out = args.out / args.run.name
    out.mkdir(parents=True, exist_ok=True)
    tables = [judge.table[e.item.example.id] for e in dev]
    reference = {"no passage": mean([t[None][0] for t in tables]),
                 "top-1": mean([t[0][0] for t in tables if 0 in t]),
                 "best single (oracle)": mean([max(m for m, _ in t.values()) for t in tables])}
    header = (f"{args.run.name}: RL on the first choice (max one id), rewards from the silver "
              f"trace; {len(train)} train, {len(dev)} dev, {args.iterations} iterations; "
              f"start {args.start}; dev {metric} of one choice for all: "
              + ", ".join(f"{k} {v:.2f}" for k, v in reference.items())
              + f"; base settings {asdict(base)}\n\n")
    lines = ["| setting | dev at start | dev by evaluation | best dev (iteration) | most common % "
             "| distinct | empty % | KL at end | seconds |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['setting']} | {row['start']:.2f} | "
                     f"{' / '.join(f'{v:.2f}' for v in row['by evaluation'])} | "
                     f"{row['best']:.2f} ({row['best iteration']}) | "
                     f"{row['most common % (last)']:.0f} | {row['distinct (last)']} | "
                     f"{row['empty % (last)']:.0f} | {row['KL (last)']:.3f} | "
                     f"{row['seconds']:.0f} |")
    (out / "table.md").write_text(header + "\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(
        {"rows": rows, "reference": reference, "histories": histories, "command": vars(args) | {
            "run": str(args.run), "out": str(args.out)}}, indent=1, default=str))
    print(header + "\n".join(lines))
    plot(histories, out / "curves.png", args.run.name, metric)


def plot(histories: dict[str, dict[str, Any]], path: Path, title: str, metric: str) -> None:
    """Dev metric against iteration, one line per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for label, history in histories.items():
        axis.plot([d["iteration"] for d in history["dev"]],
                  [d["metric"] for d in history["dev"]], marker="o", label=label)
    axis.set_xlabel("RL iteration")
    axis.set_ylabel(f"dev {metric} (first choice alone)")
    axis.set_title(f"{title}: offline RL from the silver trace")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
