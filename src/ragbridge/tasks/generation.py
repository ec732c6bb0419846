"""Personalized generation (LaMP-style email subject): BLEU and ROUGE-L against the target."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragbridge.llms.base import GenerationSettings
from ragbridge.records import Example, Passage
from ragbridge.tasks.base import truncate_words
from ragbridge.tasks.metrics import rouge_l, sentence_bleu

_SUBJECT_PREFIX = re.compile(r"^\s*(subject\s*:\s*)", re.IGNORECASE)


@dataclass
class SubjectGenerationTask:
    """Write the subject of an email, given the author's past emails as retrieved passages."""

    max_passage_words: int = 60
    max_input_words: int = 150
    name: str = "email-subject"
    metrics: tuple[str, ...] = ("bleu", "rougeL")
    primary_metric: str = "bleu"
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(20))

    def build_prompt(self, example: Example, passages: Sequence[Passage]) -> str:
        """The author's past emails (subject and start of body), then the email to title."""
        lines = ["Write the subject line for the email below. Reply with the subject only."]
        if passages:
            lines.append("Past emails by the same author:")
            for number, passage in enumerate(passages, start=1):
                body = truncate_words(passage.text, self.max_passage_words)
                lines.append(f"[{number}] Subject: {passage.title}\n{body}")
        lines.append(f"Email:\n{truncate_words(example.query, self.max_input_words)}")
        return "\n".join(lines)

    def references(self, example: Example) -> list[str]:
        """The real subject as the whole reply."""
        return [example.target or ""]

    def score(self, output: str, example: Example) -> dict[str, float]:
        """Sentence BLEU and ROUGE-L of the generated subject against the real one."""
        subject = _SUBJECT_PREFIX.sub("", output).strip()
        reference = example.target or ""
        return {"bleu": sentence_bleu(subject, reference), "rougeL": rouge_l(subject, reference)}
