"""What the CLI and the demo show in the terminal: rich progress bars and rich tables of
the stages' reports (the same reports' Markdown and plots are in `ragbridge.render`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ragbridge.progress import ProgressCallback, ProgressUpdate
from ragbridge.render import result_cells, result_columns

if TYPE_CHECKING:
    from ragbridge.evaluation.scoring import MethodResult
    from ragbridge.gap.probe import GapReport
    from ragbridge.silver.search import SilverSummary


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """A progress callback drawing one rich bar per label while the block runs."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bars: dict[str, Any] = {}
    columns = (TextColumn("[bold]{task.description}[/bold]"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        def update(event: ProgressUpdate) -> None:
            if event.label not in bars:
                bars[event.label] = progress.add_task(event.label, total=event.total, info="")
            progress.update(bars[event.label], completed=event.completed, total=event.total,
                            info=event.info)
        yield update


def gap_table(report: GapReport, title: str) -> Table:
    """The gap table for the terminal."""
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
    return table


# ---- silver -------------------------------------------------------------------------------
def silver_table(summary: SilverSummary, title: str = "silver search") -> Table:
    """The silver search summary for the terminal."""
    table = Table(title=f"{title} — {summary.queries} queries")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in [("mean silver score", f"{summary.mean_silver:.1f}"),
                         ("mean top-K score", "not measured" if summary.mean_top_k is None
                          else f"{summary.mean_top_k:.1f}"),
                         ("mean empty score", f"{summary.mean_empty:.1f}"),
                         ("mean sequence length", f"{summary.mean_length:.2f}"),
                         ("empty sequences %", f"{summary.share_empty:.1f}"),
                         ("sequences with repeats %", f"{summary.share_repeated:.1f}"),
                         ("informative searches %", f"{summary.share_informative:.1f}"),
                         ("LLM calls per query",
                          f"{summary.llm_calls / max(summary.costed, 1):.1f}"
                          + ("" if summary.costed == summary.queries
                             else f" (cost known for {summary.costed} queries)")),
                         ("cache hits", str(summary.cache_hits)),
                         ("seconds", f"{summary.seconds:.0f}")]:
        table.add_row(label, value)
    return table


def results_table(results: Sequence[MethodResult], title: str, metric: str,
                  unit: str = "tokens") -> Table:
    """The methods for the terminal."""
    table = Table(title=title)
    table.add_column("method")
    for column in (metric, *result_columns(unit)):
        table.add_column(column, justify="right")
    for result in results:
        table.add_row(result.method, f"{result.metric:.1f}", *result_cells(result))
    return table
