"""JSONL reading with line-numbered errors, and atomic writes."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class InputError(ValueError):
    """Bad user input; the message names the file and line."""


def scan_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, object, None) or (line number, None, problem) for every line."""
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield line_number, None, (f"{path}:{line_number}: not UTF-8 (byte "
                                          f"{raw[error.start]:#04x} at column {error.start + 1})")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield line_number, None, f"{path}:{line_number}: invalid JSON ({error.msg})"
                continue
            if not isinstance(record, dict):
                yield line_number, None, f"{path}:{line_number}: expected a JSON object"
                continue
            yield line_number, record, None


def read_jsonl(path: Path, parse: Callable[[dict[str, Any]], T] | None = None) -> list[Any]:
    """Read every record of `path`, optionally parsed; all bad lines are reported together."""
    path = Path(path)
    records: list[Any] = []
    problems: list[str] = []
    for line_number, record, problem in scan_jsonl(path):
        if problem:
            problems.append(problem)
            continue
        try:
            records.append(parse(record) if parse else record)
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"{path}:{line_number}: {error}")
    if problems:
        shown = "\n".join(problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError(f"{len(problems)} bad line(s):\n{shown}{more}")
    return records


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, _mode_for(path))  # mkstemp's 0600 would hide results from others
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The permissions a plain `open(path, "w")` would give: the file's own if it exists,
    else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _read_umask() -> int:
    """The process's umask, read once at import (setting it to read it is not thread-safe)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def json_safe(value: Any) -> Any:
    """`value` with every infinite or NaN float as the string "inf", "-inf" or "nan"
    (`float()` reads them back): standard JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Atomically write records as standard JSONL; return how many were written."""
    lines = [json.dumps(json_safe(record), ensure_ascii=False, allow_nan=False)
             for record in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_json(path: Path, value: Any) -> None:
    """Atomically write pretty, standard JSON."""
    atomic_write_text(path, json.dumps(json_safe(value), indent=2, ensure_ascii=False,
                                       allow_nan=False) + "\n")
