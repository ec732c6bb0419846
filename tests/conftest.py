"""Shared fixtures: the real bundled assets (fetched once into the ragbridge cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragbridge.records import Example, Passage


@pytest.fixture(scope="session")
def smollm2():
    """The real bundled SmolLM2-135M-Instruct, fp32 transformers: the reference backend."""
    from ragbridge.llms.hf import TransformersLLM

    return TransformersLLM(batch_size=4, dtype="float32")


@pytest.fixture()
def small_corpus() -> list[Passage]:
    """A few passages on distinct topics, two of them in an author group."""
    return [
        Passage("p1", "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
                "Eiffel Tower"),
        Passage("p2", "Photosynthesis converts light energy into chemical energy in plants.",
                "Photosynthesis"),
        Passage("p3", "The Pacific Ocean is the largest and deepest of Earth's oceans.",
                "Pacific Ocean"),
        Passage("m1", "Meeting about the budget moved to Friday.", "Budget meeting", "alice"),
        Passage("m2", "Budget numbers for Q3 attached, please review.", "Q3 budget", "alice"),
        Passage("m3", "Budget lunch next week?", "Lunch", "bob"),
    ]


@pytest.fixture()
def qa_example() -> Example:
    """A question whose answer is in passage p3."""
    return Example("q1", "what is the largest ocean on earth", answers=("Pacific Ocean",))


@pytest.fixture()
def write_lines(tmp_path: Path):
    """Write raw lines to a file under tmp_path."""
    def write(name: str, lines: list[str]) -> Path:
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    return write
