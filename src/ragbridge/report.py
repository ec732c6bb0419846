"""Tables (rich + Markdown) and plots (PNG) of results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ragbridge.gap import GapReport
from ragbridge.jsonl import atomic_write_text


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
    return "\n".join(lines) + "\n"


def print_gap(report: GapReport, title: str, console: Console | None = None) -> None:
    """The gap table in the terminal."""
    console = console or Console()
    table = Table(title=f"{title} — {report.examples} examples, K={report.k}")
    table.add_column("arrangement")
    table.add_column("kind")
    metrics = list(report.rows[0].scores) if report.rows else []
    for metric in metrics:
        table.add_column(metric + (" *" if metric == report.primary_metric else ""),
                         justify="right")
    table.add_column("passages", justify="right")
    for row in report.rows:
        table.add_row(row.name, row.kind, *(f"{row.scores[m]:.1f}" for m in metrics),
                      f"{row.passages:.2f}")
    console.print(table)
    console.print(f"LLM calls {report.llm_calls}, cache hits {report.cache_hits}")


def plot_gap(report: GapReport, path: Path, title: str) -> Path:
    """A bar chart of the primary metric per arrangement, coloured by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".part.png")
    figure.savefig(partial, dpi=110)
    plt.close(figure)
    partial.replace(path)
    return path


def write_markdown(path: Path, sections: Sequence[str]) -> None:
    """Atomically write Markdown sections."""
    atomic_write_text(path, "\n".join(sections))
