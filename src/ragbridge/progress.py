"""Progress as an option: library loops report through a callback; the CLI draws the bars.

A loop calls `progress(ProgressUpdate(...))` whenever it advances; `None` means silent, so a
user of the Python API decides whether (and where) progress is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressUpdate:
    """One report from a long loop: which loop, how far, and a short status line."""

    label: str  # e.g. "silver", "SL epoch 2", "RL ppo"
    completed: int
    total: int
    info: str = ""


ProgressCallback = Callable[[ProgressUpdate], None]


def report(progress: ProgressCallback | None, label: str, completed: int, total: int,
           info: str = "") -> None:
    """Send one update if a callback was given."""
    if progress is not None:
        progress(ProgressUpdate(label, completed, total, info))
