"""A prepared data set folder: meta.json, corpus.jsonl and one JSONL per split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ragbridge.jsonl import read_jsonl, write_json, write_jsonl
from ragbridge.paths import dataset_dir
from ragbridge.records import Example, Passage

SPLITS = ("train", "dev", "test")


@dataclass
class Dataset:
    """A named data set on disk with its task name."""

    path: Path
    name: str
    task: str
    version: int = 1  # the builder's version (meta.json); a rebuild can change any file

    def examples(self, split: str) -> list[Example]:
        """Examples of one split."""
        return read_jsonl(self.path / f"{split}.jsonl", Example.from_dict)

    def corpus(self) -> list[Passage]:
        """Every passage of the retrieval corpus."""
        return read_jsonl(self.path / "corpus.jsonl", Passage.from_dict)


def load_dataset(name: str) -> Dataset:
    """Open a prepared data set by name (in the cache) or by folder path."""
    import json

    path = dataset_dir(name)
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(
            f"no prepared data set at {path}: run `ragbridge data {name}` first")
    meta = json.loads(meta_path.read_text())
    return Dataset(path=path, name=meta["name"], task=meta["task"],
                   version=int(meta.get("version", 1)))


def save_dataset(path: Path, name: str, task: str, corpus: list[Passage],
                 splits: dict[str, list[Example]], extra: dict | None = None) -> dict[str, int]:
    """Write a data set folder atomically file by file (meta.json last); return counts."""
    write_jsonl(path / "corpus.jsonl", (p.to_dict() for p in corpus))
    counts = {"corpus": len(corpus)}
    for split, examples in splits.items():
        write_jsonl(path / f"{split}.jsonl", (e.to_dict() for e in examples))
        counts[split] = len(examples)
    write_json(path / "meta.json", {"name": name, "task": task, "counts": counts, **(extra or {})})
    return counts


def split_of(key: str, dev_share: float = 0.1, test_share: float = 0.1) -> str:
    """Deterministic split by hash of a key: the same key always lands in the same split."""
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < test_share:
        return "test"
    if bucket < test_share + dev_share:
        return "dev"
    return "train"
