"""Import a user's own data: examples JSONL + corpus JSONL, validated before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragbridge.data.dataset import SPLITS, save_dataset, split_of
from ragbridge.jsonl import InputError, scan_jsonl
from ragbridge.records import Example, Passage


def _parse_all(path: Path, parse: Any) -> tuple[list[tuple[Any, dict, int]], list[str]]:
    """Parse every line to (object, record, line number), collecting problems as
    'file:line: reason' instead of stopping."""
    parsed: list[tuple[Any, dict, int]] = []
    problems: list[str] = []
    try:
        for line_number, record, problem in scan_jsonl(path):
            if problem:
                problems.append(problem)
                continue
            try:
                parsed.append((parse(record), record, line_number))
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
    first_line: dict[str, int] = {}
    for passage, _, line in passages:
        if passage.id in first_line:
            problems.append(f"{corpus_path}:{line}: passage id {passage.id!r} is already "
                            f"used on line {first_line[passage.id]}")
        first_line.setdefault(passage.id, line)
    splits: dict[str, list[Example]] = {split: [] for split in SPLITS}
    example_line: dict[str, int] = {}
    for example, record, line in examples:
        where = f"{examples_path}:{line}: example {example.id!r}"
        if example.id in example_line:
            problems.append(f"{where}: the id is already used on line "
                            f"{example_line[example.id]}")
        example_line.setdefault(example.id, line)
        if task == "qa" and not example.answers:
            problems.append(f"{where} needs 'answers' (a list of gold answers) for qa")
        if task != "qa" and not (example.target or "").strip():
            problems.append(f"{where} needs a non-empty 'target' (the text to generate) for "
                            f"{task}")
        split = record.get("split") or split_of(example.id)
        if split not in splits:
            problems.append(f"{where}: unknown split {split!r} (train, dev or test)")
            continue
        splits[split].append(example)
    if problems:
        listed = "\n".join(problems[:50])
        raise InputError(f"{len(problems)} problem(s), nothing written:\n{listed}")
    return save_dataset(output, name, task, [p for p, _, _ in passages], splits,
                        extra={"imported_from": [str(examples_path), str(corpus_path)]})
