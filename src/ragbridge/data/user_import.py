"""Import a user's own data: examples JSONL + corpus JSONL, validated before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragbridge.data.dataset import SPLITS, save_dataset, split_of
from ragbridge.jsonl import InputError, scan_jsonl
from ragbridge.records import Example, Passage


def _parse_all(path: Path, parse: Any) -> tuple[list[tuple[Any, dict]], list[str]]:
    """Parse every line, collecting problems as 'file:line: reason' instead of stopping."""
    parsed: list[tuple[Any, dict]] = []
    problems: list[str] = []
    try:
        for line_number, record, problem in scan_jsonl(path):
            if problem:
                problems.append(problem)
                continue
            try:
                parsed.append((parse(record), record))
            except (ValueError, TypeError) as error:
                problems.append(f"{path}:{line_number}: {error}")
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    return parsed, problems


def import_user_data(examples_path: Path, corpus_path: Path, output: Path, name: str,
                     task: str) -> dict[str, int]:
    """Validate both files completely; write the data set only if every line is good.

    An example may carry `split` (train/dev/test); otherwise it is split by a hash of its id.
    """
    passages, problems = _parse_all(corpus_path, Passage.from_dict)
    examples, example_problems = _parse_all(examples_path, Example.from_dict)
    problems += example_problems
    seen: set[str] = set()
    for passage, _ in passages:
        if passage.id in seen:
            problems.append(f"{corpus_path}: duplicate passage id {passage.id!r}")
        seen.add(passage.id)
    splits: dict[str, list[Example]] = {split: [] for split in SPLITS}
    seen_examples: set[str] = set()
    for example, record in examples:
        if example.id in seen_examples:
            problems.append(f"{examples_path}: duplicate example id {example.id!r}")
        seen_examples.add(example.id)
        if task == "qa" and not example.answers:
            problems.append(f"{examples_path}: example {example.id!r} needs 'answers' for qa")
        split = record.get("split") or split_of(example.id)
        if split not in splits:
            problems.append(f"{examples_path}: example {example.id!r}: unknown split {split!r}")
            continue
        splits[split].append(example)
    if problems:
        listed = "\n".join(problems[:50])
        raise InputError(f"{len(problems)} problem(s), nothing written:\n{listed}")
    return save_dataset(output, name, task, [p for p, _ in passages], splits,
                        extra={"imported_from": [str(examples_path), str(corpus_path)]})
