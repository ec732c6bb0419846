"""Reports written to files: Markdown tables and PNG plots (the terminal's tables and
progress bars are in `ragbridge.terminal`).

Stages return plain reports and write their files through this module. Plots need matplotlib
(`pip install 'ragbridge[plots]'`); without it every `plot_*` returns None and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragbridge.jsonl import atomic_write_text

if TYPE_CHECKING:
    from ragbridge.evaluation.scoring import Comparison, MethodResult
    from ragbridge.gap.probe import GapReport


# ---- plots ------------------------------------------------------------------------------
def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path, dpi: int = 110) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".part.png")
    figure.savefig(partial, dpi=dpi)
    partial.replace(path)
    return path


def plot_gap(report: GapReport, path: Path, title: str) -> Path | None:
    """A bar chart of the primary metric per arrangement, coloured by kind."""
    plt = _pyplot()
    if plt is None:
        return None
    colours = {"retriever order": "#4C72B0", "ranking": "#DD8452", "selection": "#55A868",
               "repetition": "#C44E52"}
    names = [r.name for r in report.rows]
    values = [r.scores[report.primary_metric] for r in report.rows]
    figure, axis = plt.subplots(figsize=(10, 4.5))
    axis.bar(range(len(names)), values, color=[colours[r.kind] for r in report.rows])
    axis.set_xticks(range(len(names)), names, rotation=40, ha="right")
    axis.set_ylabel(report.primary_metric)
    axis.set_title(f"{title}: preference-gap probe ({report.examples} examples, K={report.k})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    axis.legend(handles, list(colours), loc="upper left", fontsize=8)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path


def plot_results(results: Sequence[MethodResult], path: Path, title: str,
                 metric: str) -> Path | None:
    """Bar chart of the metric per method, passages annotated."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axis = plt.subplots(figsize=(8, 3.8))
    bars = axis.barh([r.method for r in results][::-1], [r.metric for r in results][::-1],
                     color="#4c72b0")
    for bar, result in zip(bars, list(results)[::-1], strict=True):
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                  f" {result.metric:.1f} ({result.passages:.1f} p)", va="center", fontsize=8)
    axis.set(xlabel=metric, title=title)
    figure.tight_layout()
    _save(figure, path, dpi=120)
    plt.close(figure)
    return path


def plot_sl(history: dict[str, Any], path: Path, title: str) -> Path | None:
    """SL training loss per step and the dev metric per epoch, side by side."""
    plt = _pyplot()
    if plt is None or not history["dev"]:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(history["losses"], linewidth=0.8)
    left.set(xlabel="step", ylabel="cross-entropy", title="SL training loss")
    epochs = [d["epoch"] for d in history["dev"]]
    right.plot(epochs, [d["metric"] for d in history["dev"]], marker="o", label="LLM metric")
    right.plot(epochs, [d["exact_match"] for d in history["dev"]], marker="s",
               label="sequence EM vs silver")
    right.set(xlabel="epoch", title="dev")
    right.legend()
    figure.suptitle(title)
    figure.tight_layout()
    _save(figure, path, dpi=120)
    plt.close(figure)
    return path


def plot_rl(history: dict[str, Any], path: Path, title: str) -> Path | None:
    """Reward, KL, entropy and sequence length per iteration, and the dev metric."""
    plt = _pyplot()
    if plt is None or not history["steps"]:
        return None
    steps = history["steps"]
    figure, axes = plt.subplots(1, 5, figsize=(17, 3.2))
    panels = (("reward", "rollout metric"), ("kl", "KL to start"), ("entropy", "entropy (est.)"),
              ("mean_length", "passages"))
    for axis, (key, label) in zip(axes, panels, strict=False):
        axis.plot([s["iteration"] for s in steps], [s[key] for s in steps], linewidth=0.9)
        axis.set(xlabel="iteration", title=label)
    axes[4].plot([d["iteration"] for d in history["dev"]], [d["metric"] for d in history["dev"]],
                 marker="o")
    axes[4].set(xlabel="iteration", title="dev metric (greedy)")
    figure.suptitle(title)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path


# ---- gap probe ----------------------------------------------------------------------------
def gap_markdown(report: GapReport, title: str) -> str:
    """The gap table as Markdown."""
    metrics = list(report.rows[0].scores) if report.rows else []
    head = "| arrangement | kind | " + " | ".join(metrics) + " | passages |"
    rule = "|---|---|" + "---:|" * (len(metrics) + 1)
    lines = [f"**{title}** ({report.examples} examples, K={report.k}, primary metric "
             f"{report.primary_metric}; LLM calls {report.llm_calls}, cache hits "
             f"{report.cache_hits})", "", head, rule]
    for row in report.rows:
        values = " | ".join(f"{row.scores[m]:.1f}" for m in metrics)
        lines.append(f"| {row.name} | {row.kind} | {values} | {row.passages:.2f} |")
    if report.subsets:  # QA: the primary metric with and without the answer among the K
        names = list(report.subsets)
        lines += ["", f"{report.primary_metric} by whether a gold answer is among the "
                  f"{report.k} candidates:", "",
                  "| arrangement | all | " + " | ".join(
                      f"{n} ({report.subset_sizes[n]})" for n in names) + " |",
                  "|---|---:|" + "---:|" * len(names)]
        for n, row in enumerate(report.rows):
            values = " | ".join(f"{report.subsets[s][n].scores[report.primary_metric]:.1f}"
                                for s in names)
            lines.append(f"| {row.name} | {row.scores[report.primary_metric]:.1f} | "
                         f"{values} |")
    return "\n".join(lines) + "\n"


# ---- evaluation ---------------------------------------------------------------------------
def result_columns(unit: str = "tokens") -> tuple[str, ...]:
    """The columns after the metric; prompt lengths in `unit` (tokens, or words where the
    LLM's tokenizer was not at hand)."""
    return ("passages", f"prompt {unit}", "first = top-1 %", "empty %", "distinct",
            "select ms/query")


def result_cells(result: MethodResult) -> list[str]:
    diversity = result.diversity
    return [f"{result.passages:.2f}", f"{result.prompt_tokens:.0f}",
            f"{diversity.first_is_top1:.0f}", f"{diversity.empty:.0f}",
            str(diversity.distinct), f"{result.select_ms:.1f}"]


def results_markdown(results: Sequence[MethodResult], title: str, metric: str,
                     comparisons: Sequence[Comparison] = (), unit: str = "tokens") -> str:
    """A Markdown table of the methods, then a bootstrap line per compared bridge."""
    columns = result_columns(unit)
    lines = [f"**{title}**", "", f"| method | {metric} | " + " | ".join(columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    lines += [f"| {r.method} | {r.metric:.1f} | " + " | ".join(result_cells(r)) + " |"
              for r in results]
    if comparisons:
        lines += ["", *(f"- {c.line()}" for c in comparisons)]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, sections: Sequence[str]) -> None:
    """Atomically write Markdown sections."""
    atomic_write_text(path, "\n".join(sections))
