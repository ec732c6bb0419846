"""Open-domain QA: short-answer prompt; EM, token F1 and answer-containment accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ragbridge.llms.base import GenerationSettings
from ragbridge.records import Example, Passage
from ragbridge.tasks.base import truncate_words
from ragbridge.tasks.metrics import answer_accuracy, exact_match, token_f1


@dataclass
class QATask:
    """Open-domain question answering over retrieved passages."""

    max_passage_words: int = 150
    name: str = "qa"
    metrics: tuple[str, ...] = ("accuracy", "em", "f1")
    primary_metric: str = "accuracy"
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(16))

    def build_prompt(self, example: Example, passages: Sequence[Passage]) -> str:
        """Passages first (numbered in the given order), then the question."""
        if not passages:
            return f"Answer the question with a short answer.\nQuestion: {example.query}"
        lines = ["Answer the question with a short answer, using the passages."]
        for number, passage in enumerate(passages, start=1):
            title = f"{passage.title}: " if passage.title else ""
            text = truncate_words(passage.text, self.max_passage_words)
            lines.append(f"[{number}] {title}{text}")
        lines.append(f"Question: {example.query}")
        return "\n".join(lines)

    def references(self, example: Example) -> list[str]:
        """Every gold answer as a whole reply (the likelihood takes the best of them)."""
        return list(example.answers)

    def score(self, output: str, example: Example) -> dict[str, float]:
        """Accuracy (answer contained), EM and F1 against the gold answers."""
        answers = example.answers
        return {"accuracy": answer_accuracy(output, answers), "em": exact_match(output, answers),
                "f1": token_f1(output, answers)}
