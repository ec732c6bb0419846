"""A run directory: every stage reads the artifacts of the one before and writes its own."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ragbridge.jsonl import read_jsonl, write_json
from ragbridge.records import Candidates

_VERSIONED = ("ragbridge", "torch", "transformers", "sentence-transformers", "bm25s", "sacrebleu",
              "rouge-score", "llama-cpp-python", "openai")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


class RunDir:
    """`runs/NAME/`: config.json records each stage's settings and the versions used."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def candidates_path(self) -> Path:
        """Retrieved candidates of every split."""
        return self.path / "candidates.jsonl"

    def silver_path(self, split: str = "train") -> Path:
        """Silver sequences of a split (train: silver.jsonl, others: silver-SPLIT.jsonl)."""
        return self.path / ("silver.jsonl" if split == "train" else f"silver-{split}.jsonl")

    def config(self) -> dict[str, Any]:
        """The recorded settings so far."""
        file = self.path / "config.json"
        return json.loads(file.read_text()) if file.exists() else {}

    def record(self, stage: str, settings: dict[str, Any]) -> None:
        """Record one stage's settings (with time and versions) in config.json."""
        config = self.config()
        config[stage] = {**settings, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        config["versions"] = package_versions()
        write_json(self.path / "config.json", config)

    def candidates(self, split: str | None = None) -> list[Candidates]:
        """Candidates from candidates.jsonl, optionally of one split."""
        if not self.candidates_path.exists():
            raise FileNotFoundError(
                f"{self.candidates_path} missing: run `ragbridge retrieve` first")
        records = read_jsonl(self.candidates_path, Candidates.from_dict)
        return [c for c in records if split is None or c.split == split]
