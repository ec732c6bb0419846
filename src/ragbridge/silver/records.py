"""The silver file format: one record per query (`id`, `silver_positions`, `silver`,
`candidate_ids`, utilities and the search trace), the settings and cost files kept beside
it, reading with line-numbered errors, and the checks that a record was searched on the
candidates it is joined with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragbridge.jsonl import InputError


def read_silver(path: Path, allow_torn_end: bool = False) -> list[dict[str, Any]]:
    """Every record of a silver file.

    With `allow_torn_end`, a last line without its newline (a write a crash cut short) is
    left out; any other bad line is an InputError naming the file and line.
    """
    records: list[dict[str, Any]] = []
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    torn = lines.pop() if lines else b""  # after the last newline: empty, or a torn write
    if torn and not allow_torn_end:
        lines.append(torn)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path}:{number}: invalid JSON ({error}); only a torn last "
                             "line is cut on resume: repair or move the file away") from None
        if not isinstance(record, dict) or "id" not in record \
                or "silver_positions" not in record:
            raise InputError(f"{path}:{number}: not a silver record (needs 'id' and "
                             "'silver_positions')")
        records.append(record)
    return records


def settings_path(path: Path) -> Path:
    """The settings file kept beside a silver file."""
    return path.with_name(path.stem + ".settings.json")


def cost_path(path: Path) -> Path:
    """What the records of a silver file cost, summed over every run that wrote them."""
    return path.with_name(path.stem + ".cost.json")


def _trace_step(record: dict[str, Any], number: int) -> dict[str, Any] | None:
    """Step `number` of the record's search trace (0: the empty sequence), if recorded."""
    return next((step for step in record.get("trace", []) if step.get("step") == number), None)


def candidates_mismatch(record: dict[str, Any], item: Any) -> str | None:
    """Why the record was not searched on `item`'s candidates (None: it was, as far as the
    record tells): its `candidate_ids` differ, or, in records without them, the passage ids
    of its silver sequence are not those its positions name."""
    ids = [hit.passage.id for hit in item.hits]
    if "candidate_ids" in record:
        if [str(i) for i in record["candidate_ids"]] != ids:
            return (f"searched on candidates {record['candidate_ids']}, the run has {ids}")
        return None
    named = record.get("silver")
    positions = record["silver_positions"]
    if named is not None and len(named) == len(positions) and any(
            not 0 <= p < len(ids) or ids[p] != str(n)
            for p, n in zip(positions, named, strict=True)):
        return f"its silver {named} is not at positions {positions} of the run's {ids}"
    return None


def require_same_candidates(record: dict[str, Any], item: Any, source: str) -> None:
    """A ValueError naming `source` when the record was searched on other candidates."""
    reason = candidates_mismatch(record, item)
    if reason:
        raise ValueError(f"{source}: the record of {item.example.id!r} was {reason}: "
                         "the candidates changed since the silver search; search again")


def is_informative(record: dict[str, Any]) -> bool:
    """Whether any single passage changed the utility against the empty sequence.

    With a 0/1 metric most QA searches end empty only because every candidate ties with no
    passage at all; such a record says nothing about which passages the LLM prefers.
    """
    first = _trace_step(record, 1)
    if first is None:
        return bool(record["silver_positions"])
    empty = record.get("empty_utility", record.get("empty_score"))
    return any(tried.get("utility", tried.get("score")) != empty for tried in first["tried"])


def first_step_utilities(record: dict[str, Any], k: int) -> list[float | None] | None:
    """The utility of each single candidate (positions 0..K-1) and, last, of the empty
    sequence, as the search's first step measured them (None for a candidate it did not try);
    None when the record has no first-step trace."""
    first, start = _trace_step(record, 1), _trace_step(record, 0)
    if first is None or start is None:
        return None
    utilities: list[float | None] = [None] * (k + 1)
    for tried in first["tried"]:
        if 0 <= tried["append"] < k:
            utilities[tried["append"]] = float(tried.get("utility", tried.get("score")))
    empty = start["empty"]
    utilities[k] = float(empty.get("utility", empty.get("score")))
    return utilities
