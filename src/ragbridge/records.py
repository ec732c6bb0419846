"""The plain records every stage exchanges: examples, passages, retrieved candidates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """One retrievable unit of text. `group` limits it to examples of the same group."""

    id: str
    text: str
    title: str = ""
    group: str | None = None

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Passage:
        """Parse and validate a corpus record."""
        passage_id, text = record.get("id"), record.get("text")
        if passage_id is None or str(passage_id) == "":
            raise ValueError("passage needs a non-empty 'id'")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"passage {passage_id!r} needs a non-empty string 'text'")
        title = record.get("title") or ""
        if not isinstance(title, str):
            raise ValueError(f"passage {passage_id!r}: 'title' must be a string")
        group = record.get("group")
        return cls(id=str(passage_id), text=text, title=title,
                   group=None if group is None else str(group))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict without empty optional fields."""
        record = {"id": self.id, "title": self.title, "text": self.text}
        if self.group is not None:
            record["group"] = self.group
        return record


@dataclass(frozen=True)
class Example:
    """One task instance: a query with gold answers (QA) or a target text (generation).

    `group` restricts retrieval to passages of the same group (e.g. one email author);
    `exclude` lists passage ids that must never be retrieved for it (e.g. itself).
    """

    id: str
    query: str
    answers: tuple[str, ...] = ()
    target: str | None = None
    group: str | None = None
    exclude: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Example:
        """Parse and validate an example record."""
        example_id, query = record.get("id"), record.get("query")
        if example_id is None or str(example_id) == "":
            raise ValueError("example needs a non-empty 'id'")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"example {example_id!r} needs a non-empty string 'query'")
        answers = record.get("answers") or []
        if isinstance(answers, str):
            answers = [answers]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise ValueError(f"example {example_id!r}: 'answers' must be a list of strings")
        target = record.get("target")
        if target is not None and not isinstance(target, str):
            raise ValueError(f"example {example_id!r}: 'target' must be a string")
        if not answers and not target:
            raise ValueError(f"example {example_id!r} needs 'answers' or 'target'")
        group = record.get("group")
        exclude = record.get("exclude") or []
        return cls(id=str(example_id), query=query, answers=tuple(answers), target=target,
                   group=None if group is None else str(group),
                   exclude=tuple(str(e) for e in exclude))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict without empty optional fields."""
        record = {key: value for key, value in asdict(self).items()
                  if value not in (None, (), [])}
        for key in ("answers", "exclude"):
            if key in record:
                record[key] = list(record[key])
        return record


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its retriever score and 1-based rank."""

    passage: Passage
    score: float
    rank: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for candidates.jsonl."""
        return {**self.passage.to_dict(), "score": self.score, "rank": self.rank}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Hit:
        """Parse a candidates.jsonl passage entry."""
        return cls(Passage.from_dict(record), float(record.get("score", 0.0)),
                   int(record.get("rank", 0)))


@dataclass(frozen=True)
class Candidates:
    """An example with its top-K retrieved passages: the unit every later stage consumes."""

    example: Example
    hits: tuple[Hit, ...]
    split: str = ""
    retriever: str = ""

    @property
    def answerable(self) -> bool:
        """A QA example with a gold answer in one of its candidates (title or text)."""
        from ragbridge.tasks.metrics import contains_answer

        return bool(self.example.answers) and any(
            contains_answer(f"{h.passage.title} {h.passage.text}", self.example.answers)
            for h in self.hits)

    @property
    def passages(self) -> list[Passage]:
        """The candidate passages in retriever order."""
        return [hit.passage for hit in self.hits]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for candidates.jsonl."""
        return {"split": self.split, "retriever": self.retriever,
                "example": self.example.to_dict(),
                "candidates": [hit.to_dict() for hit in self.hits]}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Candidates:
        """Parse a candidates.jsonl line."""
        if "example" not in record or "candidates" not in record:
            raise ValueError("candidate record needs 'example' and 'candidates'")
        if not isinstance(record["candidates"], list):
            raise ValueError("'candidates' must be a list")
        return cls(Example.from_dict(record["example"]),
                   tuple(Hit.from_dict(hit) for hit in record["candidates"]),
                   split=str(record.get("split", "")), retriever=str(record.get("retriever", "")))
