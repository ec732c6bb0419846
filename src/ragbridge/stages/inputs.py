"""Reading a run's silver files for the stages after the silver search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragbridge.bridge.data import BridgeExample, join_silver
from ragbridge.jsonl import InputError
from ragbridge.rundir import RunDir


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


def load_examples(run: RunDir, split: str, limit: int | None = None, need_silver: bool = True,
                  informative_only: bool = False) -> list[BridgeExample]:
    """The run's candidates of `split` with their silver positions where searched."""
    path = run.silver_path(split)
    if need_silver and not path.exists():
        raise FileNotFoundError(f"{path} missing: run `ragbridge silver --split {split}`")
    records = read_silver(path) if path.exists() else []
    examples = join_silver(run.candidates(split), records, need_silver=need_silver,
                           informative_only=informative_only, source=str(path))
    return examples[:limit]
