"""The gap probe's mechanics on a deterministic stand-in LLM (the `ragbridge gap` command on
the real LLM runs in tests/test_cli_chain.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ragbridge.gap.probe import run_gap_probe
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM, GenerationSettings
from ragbridge.records import Candidates, Example, Hit, Passage
from ragbridge.tasks import get_task


class FirstPassageLLM:
    """Answers with the first passage's title, if exactly one distinct passage is shown.

    A caricature of a distractible LLM: any second, different passage makes it fail.
    """

    identity = "test:first-passage"

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        outputs = []
        for prompt in prompts:
            titles = re.findall(r"^\[\d+\] ([^:]+):", prompt, flags=re.MULTILINE)
            outputs.append(titles[0] if len(set(titles)) == 1 else "I do not know")
        return outputs


def _candidates() -> list[Candidates]:
    passages = [Passage(f"p{i}", f"text {i}", f"Title{i}") for i in range(1, 5)]
    examples = [Example("a", "q a", answers=("Title3",)), Example("b", "q b", answers=("Title1",))]
    return [Candidates(e, tuple(Hit(p, 1.0 / r, r) for r, p in enumerate(passages, 1)), "dev")
            for e in examples]


def test_probe_rows(tmp_path: Path) -> None:
    llm = CachedLLM(FirstPassageLLM(), tmp_path / "c.sqlite")
    report = run_gap_probe(_candidates(), Judge(get_task("qa"), llm))
    score = {r.name: r.scores["accuracy"] for r in report.rows}
    assert score["no passages"] == 0 and score["top-K"] == 0
    assert score["top-1"] == 50  # example b has its answer at rank 1
    assert score["single #3"] == 50 and score["single #1"] == 50
    assert score["best single (oracle)"] == 100 and score["best repeated x2"] == 100
    assert report.row("top-3").passages == 3 and report.row("best repeated x2").passages == 2
    calls = report.llm_calls
    again = run_gap_probe(_candidates(), Judge(get_task("qa"), llm))
    assert calls > 0 and again.llm_calls == 0 and again.cache_hits > 0


def test_probe_splits_by_answerable(tmp_path: Path) -> None:
    """An example whose answer is in no candidate scores in `unanswerable` only; each
    subset's means are those of its own examples, computed here by hand."""
    items = _candidates()
    outside = Candidates(Example("c", "q c", answers=("Elsewhere",)), items[0].hits, "dev")
    llm = CachedLLM(FirstPassageLLM(), tmp_path / "c.sqlite")
    report = run_gap_probe([*items, outside], Judge(get_task("qa"), llm))
    assert report.subset_sizes == {"answerable": 2, "unanswerable": 1}
    answerable = {r.name: r.scores["accuracy"] for r in report.subsets["answerable"]}
    unanswerable = {r.name: r.scores["accuracy"] for r in report.subsets["unanswerable"]}
    assert answerable["top-1"] == 50 and answerable["best single (oracle)"] == 100
    assert unanswerable["best single (oracle)"] == 0 and unanswerable["top-1"] == 0
    assert {r.name: r.scores["accuracy"] for r in report.rows}["top-1"] == 100 / 3
    assert report.to_dict()["subsets"]["answerable"]["examples"] == 2
