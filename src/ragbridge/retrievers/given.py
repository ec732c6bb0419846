"""Candidates retrieved elsewhere (a search API, another system), read from a JSONL file.

One line per example, in the retriever's order:
`{"id": EXAMPLE_ID, "candidates": [{"id", "text", "title"?, "score"?, "group"?}, ...]}`.
The retriever answers only the examples the file names: a new query has no candidates
here, so a run built on them is served through `/v1/bridge` (the caller sends the
passages), not `/v1/answer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragbridge.jsonl import InputError, scan_jsonl
from ragbridge.records import Example, Hit, Passage

PREFIX = "given:"


def read_given_candidates(path: Path) -> dict[str, list[Hit]]:
    """Every example's hits, validated; all problems reported together as 'file:line:'."""
    found: dict[str, list[Hit]] = {}
    lines: dict[str, int] = {}
    problems: list[str] = []
    try:
        scanned = list(scan_jsonl(path))
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    for line, record, problem in scanned:
        if problem or record is None:
            problems.append(problem or f"{path}:{line}: empty")
            continue
        example_id, listed = record.get("id"), record.get("candidates")
        if example_id is None or str(example_id) == "":
            problems.append(f"{path}:{line}: needs the example's 'id'")
            continue
        if str(example_id) in lines:
            problems.append(f"{path}:{line}: example {example_id!r} already has candidates "
                            f"on line {lines[str(example_id)]}")
            continue
        if not isinstance(listed, list):
            problems.append(f"{path}:{line}: 'candidates' must be a list of passages")
            continue
        hits: list[Hit] = []
        for rank, item in enumerate(listed, 1):
            try:
                if not isinstance(item, dict):
                    raise ValueError("must be an object with 'id' and 'text'")
                score = item.get("score", 0.0)
                if not isinstance(score, int | float):
                    raise ValueError(f"'score' must be a number, not {score!r}")
                hits.append(Hit(Passage.from_dict(item), float(score), rank))
            except ValueError as error:
                problems.append(f"{path}:{line}: candidate {rank}: {error}")
        lines[str(example_id)] = line
        found[str(example_id)] = hits
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the given candidates:\n"
                         + "\n".join(problems[:50]))
    return found


def given_corpus(hits: dict[str, list[Hit]]) -> list[Passage]:
    """The distinct passages of all candidate lists (first seen wins), in file order;
    one id naming two different texts is refused."""
    corpus: dict[str, Passage] = {}
    for example_id, listed in hits.items():
        for hit in listed:
            seen = corpus.setdefault(hit.passage.id, hit.passage)
            if seen != hit.passage:
                raise InputError(f"passage id {hit.passage.id!r} has two different texts "
                                 f"(one among the candidates of {example_id!r}): give each "
                                 "passage one id")
    return list(corpus.values())


class GivenCandidates:
    """A retriever that looks each example's candidates up in a file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = f"{PREFIX}{self.path.name}"
        self._hits = read_given_candidates(self.path)

    def retrieve(self, examples: Sequence[Example], k: int) -> list[list[Hit]]:
        """The file's first k candidates of each example (an example it lacks is an error:
        no retriever stands behind the file)."""
        missing = [e.id for e in examples if e.id not in self._hits]
        if missing:
            raise InputError(f"{self.path} has no candidates for {len(missing)} example(s) "
                             f"(first: {missing[0]!r}): give every example its candidates, "
                             "or send the passages to /v1/bridge")
        return [self._hits[e.id][:k] for e in examples]
