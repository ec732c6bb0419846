"""A persistent response cache (sqlite) in front of any LLM backend."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragbridge.llms.base import LLM, GenerationSettings


@dataclass
class CacheStats:
    """Prompts answered by the model (`calls`) and from the cache (`hits`)."""

    calls: int = 0
    hits: int = 0


def cache_key(identity: str, settings: GenerationSettings, prompt: str) -> str:
    """Key of one response: model identity, generation settings and prompt."""
    payload = "\x00".join((identity, settings.key(), prompt)).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


class CachedLLM:
    """Wraps an LLM: repeats come from sqlite; misses go, deduplicated, as one batch."""

    def __init__(self, llm: LLM, path: Path) -> None:
        self.llm = llm
        self.identity = llm.identity
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, identity TEXT,"
            " output TEXT)")
        self._connection.commit()

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    f"SELECT key, output FROM responses WHERE key IN ({marks})", chunk)
                found.update(rows.fetchall())
        return found

    def _store(self, items: list[tuple[str, str]]) -> None:
        with self._lock:
            self._connection.executemany(
                "INSERT OR REPLACE INTO responses (key, identity, output) VALUES (?, ?, ?)",
                [(key, self.identity, output) for key, output in items])
            self._connection.commit()

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """Outputs for all prompts; each distinct uncached prompt reaches the model once."""
        keys = [cache_key(self.identity, settings, prompt) for prompt in prompts]
        found = self._lookup(sorted(set(keys)))
        missing: dict[str, str] = {}
        for key, prompt in zip(keys, prompts, strict=True):
            if key not in found:
                missing.setdefault(key, prompt)
        if missing:
            outputs = self.llm.generate(list(missing.values()), settings)
            fresh = list(zip(missing.keys(), outputs, strict=True))
            self._store(fresh)
            found.update(fresh)
        self.stats.calls += len(missing)
        self.stats.hits += len(prompts) - len(missing)
        return [found[key] for key in keys]

    def close(self) -> None:
        """Close the sqlite connection."""
        with self._lock:
            self._connection.close()
