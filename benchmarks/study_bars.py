"""The study's claims, checked against its test tables, and the RL curves in one plot (issue 15).

Reads what `ragbridge demo --preset study` wrote (a runs folder, or its copy under
`benchmarks/results/study` made by `ragbridge collect`), no LLM involved:

    python benchmarks/study_bars.py --results benchmarks/results/study

Per task and subset (nq-wiki all and answerable, email-subject): BGM (the SL+RL bridge)
against the best baseline (paired bootstrap, from `eval-test.json`), its prompt tokens as a
share of top-K's, the share of the best-baseline -> oracle gap it closes, and whether the
issue's bar holds; the same for every other bridge of the table (RL-only, the SL bridges),
each bootstrapped against the best baseline; then RL dev curves (SL+RL and RL-only, each
task) as `rl-curves.png`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ragbridge.evaluation.scoring import MethodResult, compare_with_best_baseline

BGM = "SL+RL (BGM)"
TASKS = {"nq-wiki-dense": "nq-wiki", "email-subject-bm25": "email-subject"}
RL_MODELS = {"bridge-rl": "SL+RL (BGM)", "bridge-rl-only": "RL-only"}


def compare(results: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """`method` against the best baseline, as `eval-SPLIT.json` records it for the last
    bridge (`ragbridge.evaluation.compare_with_best_baseline`)."""
    return asdict(compare_with_best_baseline([MethodResult.from_dict(r) for r in results],
                                             method))


def bar_row(task: str, subset: str, results: list[dict[str, Any]],
            comparison: dict[str, Any], method: str) -> dict[str, Any]:
    """One line of the bars table: a bridge vs the best baseline, tokens, gap, and the bar."""
    by_name = {r["method"]: r for r in results}
    bridge = by_name[method]
    top_k = next(r for r in results if r["method"].startswith("top-") and r["method"] != "top-1")
    tokens = bridge["prompt_tokens"] / top_k["prompt_tokens"]
    if task == "email-subject":  # beats the best baseline, interval above zero, <= top-K tokens
        bar = "bridge > best, CI above 0, tokens <= top-K"
        met = comparison["low"] > 0 and tokens <= 1.0
    elif subset == "all":  # not significantly below the best baseline, <= half top-K's tokens
        bar = "bridge not below best (CI reaches 0), tokens <= top-K / 2"
        met = comparison["high"] >= 0 and tokens <= 0.5
    else:
        bar, met = "(reported, no bar)", None
    best = comparison["baseline"]
    return {"task": task, "subset": subset, "n": comparison["examples"], "bridge": method,
            "best baseline": f"{best} {by_name[best]['metric']:.1f}",
            "bridge metric": f"{bridge['metric']:.1f}",
            "bridge - best [95% CI]": f"{comparison['mean']:+.1f} [{comparison['low']:+.1f}, "
                                   f"{comparison['high']:+.1f}]",
            "tokens / top-K": f"{tokens:.2f}",
            "gap closed %": "—" if comparison.get("gap_closed") is None
            else f"{comparison['gap_closed']:.0f}",
            "bar": bar, "met": {True: "yes", False: "**no**", None: ""}[met]}


def markdown(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the rows."""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def rl_history(folder: Path, model: str) -> dict[str, Any] | None:
    """An RL bridge's history, from a runs folder or a collected results folder."""
    for path in (folder / model / "history.json", folder / f"{model}-history.json"):
        if path.exists():
            return json.loads(path.read_text())
    return None


def plot_curves(results: Path, out: Path) -> bool:
    """Dev metric by RL iteration, one panel per task; False when no history exists."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.6))
    drawn = False
    for axis, (folder, task) in zip(axes, TASKS.items(), strict=True):
        for model, label in RL_MODELS.items():
            history = rl_history(results / folder, model)
            if history and history.get("dev"):
                axis.plot([d["iteration"] for d in history["dev"]],
                          [d["metric"] for d in history["dev"]], marker="o", label=label)
                drawn = True
        axis.set_title(f"{task} (dev)")
        axis.set_xlabel("RL iteration")
        axis.set_ylabel("metric")
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    fig.tight_layout()
    if drawn:
        fig.savefig(out, dpi=120)
    plt.close(fig)
    return drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/study"))
    args = parser.parse_args()
    rows = []
    for folder, task in TASKS.items():
        path = args.results / folder / "eval-test.json"
        if not path.exists():
            print(f"{path}: not evaluated yet")
            continue
        evaluation = json.loads(path.read_text())
        subsets = [("all", evaluation["results"])]
        if evaluation.get("answerable"):
            subsets.append(("answerable", evaluation["answerable"]))
        for subset, results in subsets:
            bridges = [r["method"] for r in results if r["kind"] == "bridge"]
            # BGM first (the bar), then every other bridge
            for method in sorted(bridges, key=lambda m: m != BGM):
                rows.append(bar_row(task, subset, results, compare(results, method), method))
    if rows:
        print(markdown(rows))
    curves = args.results / "rl-curves.png"
    if plot_curves(args.results, curves):
        print(f"RL curves: {curves}")


if __name__ == "__main__":
    main()
