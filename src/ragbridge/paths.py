"""Where ragbridge keeps fetched models, data sets and the LLM response cache."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RAGBRIDGE_CACHE"
LLM_CACHE_ENV = "RAGBRIDGE_LLM_CACHE"


def cache_dir() -> Path:
    """The one cache directory: $RAGBRIDGE_CACHE or ~/.cache/ragbridge."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "ragbridge"
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    """Folder holding prepared data sets, one sub-folder each."""
    return cache_dir() / "datasets"


def dataset_dir(name: str) -> Path:
    """Folder of one prepared data set (name or explicit path)."""
    candidate = Path(name)
    if candidate.is_dir() and (candidate / "corpus.jsonl").exists():
        return candidate
    return datasets_dir() / name


def llm_cache_path() -> Path:
    """The LLM response cache: $RAGBRIDGE_LLM_CACHE, or llm-cache.sqlite in the cache dir."""
    override = os.environ.get(LLM_CACHE_ENV)
    return Path(override).expanduser() if override else cache_dir() / "llm-cache.sqlite"
