"""What a model is, by content: the identity of its cached embeddings and LLM judgments, and
the offline rule for model names that are not local folders."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ragbridge.jsonl import write_json
from ragbridge.paths import cache_dir

HUB_VARIABLE = "RAGBRIDGE_ALLOW_HUB"


def content_digest(model_path: str | Path) -> str:
    """A local model folder or file by the SHA-256 of its files' content, so another model
    of the same architecture or name never shares its cache while a moved or re-fetched copy
    still does; each file's hash is remembered by (path, size, mtime). A hub name by itself.
    """
    path = Path(model_path)
    if not path.exists():
        return str(model_path)
    known_file = cache_dir() / "embeddings" / "weight-hashes.json"
    known = json.loads(known_file.read_text()) if known_file.exists() else {}
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    digest = hashlib.sha256()
    changed = False
    for file in files:
        stat = file.stat()
        key = f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        if key not in known:
            content = hashlib.sha256()
            with open(file, "rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    content.update(block)
            known[key] = content.hexdigest()
            changed = True
        name = file.name if file == path else file.relative_to(path).as_posix()
        digest.update(f"{name}:{known[key]}\n".encode())
    if changed:
        write_json(known_file, known)
    return digest.hexdigest()


def weights_digest(module: Any) -> str:
    """The SHA-256 of a torch module's parameters and buffers (names, shapes, dtypes and
    bytes): what a checkpoint compares to know that it was trained from the same start."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\n".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def content_name(path: Path, label: str) -> str:
    """`label` with the start of `path`'s content digest: the name by which a model file or
    folder given by path enters a cache identity (two folders called `model` stay apart)."""
    return f"{label}@{content_digest(path)[:12]}"


def local_model(name: str, what: str) -> str:
    """`name` when it is a local folder or file; a hub name only where the user allowed the
    hub (RAGBRIDGE_ALLOW_HUB=1): offline by default, a missing folder is a clear error."""
    if Path(name).exists() or os.environ.get(HUB_VARIABLE) == "1":
        return name
    raise FileNotFoundError(f"{what} {name!r}: no such local folder (ragbridge works offline: "
                            f"give a model folder, or set {HUB_VARIABLE}=1 to fetch {name!r} "
                            "from the Hugging Face hub)")
