"""Which bridge (family, silver filter) learns best from the same silver data (issue 4; the
text-generation families measured then were replaced by the FiD pointer bridge in issue 14).

Trains each family with the SL stage (`train_sl`, same config apart from the family) on a run
directory's train silver and reports, on its dev queries, the frozen LLM's task metric with the
bridge's choices after every epoch, beside the no-passage, top-K and silver-oracle scores of
the same dev queries (from `silver-dev.jsonl`). Needs a run where `ragbridge demo` (or
`ragbridge silver` on train and dev) has run:

    python experiments/bridge_families.py --run runs/nq-wiki-dense
    python experiments/bridge_families.py --run runs/email-subject-bm25

Each family trains into `OUT/<run name>/<family>/` and resumes there, so a rerun only reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ragbridge.bridge.sl import SLConfig, train_sl
from ragbridge.jsonl import read_jsonl
from ragbridge.judge import Judge
from ragbridge.llms import load_llm
from ragbridge.rundir import RunDir

VARIANTS = {
    "minilm-fid": ("minilm-fid", False),
    "minilm-fid, informative silver only": ("minilm-fid", True),
}


def _reference_rows(run: RunDir, dev_ids: list[str]) -> list[tuple[str, float]]:
    records = {r["id"]: r for r in read_jsonl(run.silver_path("dev"))}
    chosen = [records[i] for i in dev_ids]

    def mean(key: str) -> float:
        return sum(r[key] for r in chosen) / max(len(chosen), 1)

    return [("no passages", mean("empty_score")), ("top-K in retriever order",
                                                   mean("top_k_score")),
            ("silver oracle", mean("score"))]


def _plot(histories: dict[str, dict[str, Any]], references: list[tuple[str, float]],
          path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        epochs = [d["epoch"] for d in history["dev"]]
        axis.plot(epochs, [d["metric"] for d in history["dev"]], marker="o", label=name)
    for (name, value), style in zip(references, (":", "--", "-."), strict=False):
        axis.axhline(value, linestyle=style, color="grey", linewidth=1)
        axis.annotate(name, (1, value), fontsize=7, color="grey")
    axis.set(xlabel="epoch", ylabel="dev metric", title=title)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dev", type=int, default=100, help="dev queries evaluated")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--llm", default="smollm2")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bridge_families"))
    args = parser.parse_args()
    run = RunDir(args.run)
    task = run.task()
    judge = Judge(task, load_llm(args.llm))
    k = run.settings().k
    out = args.out / args.run.name
    dev = run.examples("dev", args.dev)
    histories: dict[str, dict[str, Any]] = {}
    train_sizes: dict[str, int] = {}
    for name in args.variants:
        family, informative_only = VARIANTS[name]
        train = run.examples("train", informative_only=informative_only)
        train_sizes[name] = len(train)
        folder = out / name.replace(", ", "-").replace(" ", "-")
        histories[name] = train_sl(train, dev, judge, SLConfig(family=family,
                                                               epochs=args.epochs), folder, k)
    references = _reference_rows(run, [e.item.example.id for e in dev])
    metric = task.primary_metric
    lines = [f"{args.run.name}: SL bridges on the same silver, {len(dev)} dev queries, "
             f"K=5, LLM `{args.llm}`, {args.epochs} epochs", "",
             f"| bridge | train queries | dev {metric} by epoch | best dev {metric} | "
             "passages (best) | sequence EM (best) | s/epoch |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for name, history in histories.items():
        best = max(history["dev"], key=lambda d: (d["metric"], d["exact_match"]))
        by_epoch = " / ".join(f"{d['metric']:.1f}" for d in history["dev"])
        per_epoch = sum(history["seconds_per_epoch"]) / len(history["seconds_per_epoch"])
        lines.append(f"| {name} | {train_sizes[name]} | {by_epoch} | {best['metric']:.1f} | "
                     f"{best['mean_passages']:.2f} | {best['exact_match']:.1f} | "
                     f"{per_epoch:.0f} |")
    for name, value in references:
        lines.append(f"| {name} | | | {value:.1f} | | | |")
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "histories.json").write_text(json.dumps(histories, indent=1))
    _plot(histories, references, out / "dev-metric.png", f"{args.run.name}: dev {metric}")


if __name__ == "__main__":
    main()
