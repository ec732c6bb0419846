"""Ship and replay LLM judgments: the response cache of a finished study, as one file.

`export_judgments` writes every cached generation and likelihood of one LLM identity to a
gzip JSONL file (keys are hashes of model identity, settings and prompt, so the file holds
no prompt text). `import_judgments` adds such a file to an LLM's cache; a later run that asks
the same questions of the same LLM gets the study's answers without computing them, and
computes only what is new. The identity must match exactly: judgments of `smollm2-bf16` are
never used for `smollm2-fp32`.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from ragbridge.jsonl import InputError

if TYPE_CHECKING:
    from ragbridge.llms import CachedLLM

SHIPPED = Path(__file__).parent / "judgments" / "study.jsonl.gz"


def replay_source(replay: bool, judgments: Path | None = None) -> Path | None:
    """Which judgments file a run replays: `judgments` when given (it must exist), else the
    shipped study's when `replay` asks and it is installed, else none."""
    if judgments is not None:
        if not judgments.is_file():
            raise InputError(f"{judgments}: no such judgments file (export one with "
                             "`ragbridge export-judgments`)")
        return judgments
    return SHIPPED if replay and SHIPPED.exists() else None


def library_versions() -> dict[str, str]:
    """The versions that computed the judgments (a replay elsewhere may differ by them)."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("ragbridge", "torch", "transformers", "llama_cpp_python"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _judgment_rows(path: Path, identity: str, advice: str = "") -> Iterator[tuple[int, dict]]:
    """Each judgment of a judgments file with its line number, once its header names
    `identity` (else an error, with `advice` after it)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        if header.get("identity") != identity:
            raise InputError(f"{path} holds judgments of {header.get('identity')!r}, not of "
                             f"{identity!r}{advice}")
        for number, line in enumerate(handle, start=2):
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: bad judgment ({error})") from None


def judgment_keys(path: Path, identity: str) -> set[tuple[str, str]]:
    """The (kind, key) of every judgment in a judgments file of `identity`."""
    keys = set()
    for number, row in _judgment_rows(path, identity):
        try:
            keys.add((row["kind"], row["key"]))
        except (KeyError, TypeError) as error:
            raise InputError(f"{path}:{number}: bad judgment ({error})") from None
    return keys


def export_judgments(cache: Path, identity: str, out: Path,
                     exclude: Sequence[Path] = ()) -> int:
    """Write the cache's rows of `identity` to `out`, but those already in one of the
    `exclude` files (what ships already: the file holds only what is new); returns how
    many."""
    known = set().union(*(judgment_keys(path, identity) for path in exclude))
    with closing(sqlite3.connect(cache)) as connection:
        rows = [{"kind": "generate", "key": key, "output": output} for key, output in
                connection.execute("SELECT key, output FROM responses WHERE identity = ? "
                                   "ORDER BY key", (identity,))]
        rows += [{"kind": "score", "key": key, "total": total, "tokens": tokens}
                 for key, total, tokens in
                 connection.execute("SELECT key, total, tokens FROM scores WHERE identity = ? "
                                    "ORDER BY key", (identity,))]
    rows = [row for row in rows if (row["kind"], row["key"]) not in known]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"identity": identity, "rows": len(rows),
                                 "exported_with": library_versions()}) + "\n")
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    partial.replace(out)
    return len(rows)


def import_judgments(path: Path, llm: CachedLLM) -> int:
    """Add a judgments file to `llm`'s cache (existing entries are kept); returns how many
    were new. The file's identity must be the LLM's."""
    generated, scored = [], []
    advice = ": replay them with that LLM (--llm) or run without --replay"
    for number, row in _judgment_rows(path, llm.identity, advice):
        try:
            if row["kind"] == "generate":
                generated.append((row["key"], llm.identity, row["output"]))
            else:
                scored.append((row["key"], llm.identity, float(row["total"]),
                               int(row["tokens"])))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"{path}:{number}: bad judgment ({error})") from None
    return llm.add_rows(generated, scored)
