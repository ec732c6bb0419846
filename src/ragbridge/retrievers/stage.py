"""The retrieve stage: top-K candidates for every example of the chosen splits, and recall.

K is fixed here for the whole run: every later stage reads it from `config.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from ragbridge.data import load_dataset
from ragbridge.jsonl import InputError, write_jsonl
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Candidates, Hit
from ragbridge.retrievers import build_retriever
from ragbridge.rundir import RunDir
from ragbridge.tasks.metrics import contains_answer


@dataclass(frozen=True)
class RetrieveConfig:
    """Which data set, retriever and K; which splits."""

    dataset: str = field(metadata={"help": "Prepared data set name or folder"})
    retriever: str = field(default="bm25", metadata={"help": "bm25 | dense | dense:PATH"})
    k: int = field(default=5, metadata={
        "help": "Candidates per query: the K every later stage of the run uses"})
    recall_depth: int = field(default=10, metadata={
        "help": "Also report recall down to this depth (retrieved, not kept)"})
    splits: str = field(default="train,dev,test", metadata={"help": "Comma-separated splits"})
    limit: int | None = field(default=None, metadata={"help": "At most this many per split"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})
    batch_size: int = field(default=256, metadata={"help": "Queries retrieved per batch"})


@dataclass
class RetrieveReport:
    """Examples retrieved per split and recall@depth (QA only; empty for generation)."""

    counts: dict[str, int]
    recall: dict[str, dict[int, float]]
    seconds: float


def recall_at(candidates: Sequence[Candidates], depths: Sequence[int]) -> dict[int, float]:
    """Share (0-100) of QA examples with an answer in the top-k passages, for each k."""
    qa = [c for c in candidates if c.example.answers]
    if not qa:
        return {}
    recalls: dict[int, float] = {}
    for depth in depths:
        found = sum(any(contains_answer(f"{h.passage.title} {h.passage.text}", c.example.answers)
                        for h in c.hits[:depth]) for c in qa)
        recalls[depth] = 100.0 * found / len(qa)
    return recalls


def _refuse_to_replace_searched_candidates(run_dir: RunDir,
                                           records: Sequence[Candidates]) -> None:
    """Silver records index the candidates by position: other candidates under them would
    label other passages, so a run with silver keeps its candidates (identical ones pass)."""
    searched = sorted(run_dir.path.glob("silver*.jsonl"))
    if not searched or not run_dir.candidates_path.exists():
        return
    old = [json.loads(line) for line in
           run_dir.candidates_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if old != [json.loads(json.dumps(r.to_dict())) for r in records]:
        names = ", ".join(p.name for p in searched)
        raise InputError(f"{run_dir.path} has silver searched on its candidates ({names}): "
                         "retrieving other candidates into it would misplace every silver "
                         "position; retrieve into a new --run, or move those files away")


def run(run_dir: RunDir, config: RetrieveConfig,
        progress: ProgressCallback | None = None) -> RetrieveReport:
    """Write candidates.jsonl (K per query) and return recall per split."""
    if config.k < 1:
        raise ValueError(f"K must be at least 1, not {config.k}")
    started = time.perf_counter()
    dataset = load_dataset(config.dataset)
    splits = [s for s in config.splits.split(",") if s]
    depth = max(config.k, config.recall_depth)
    depths = sorted({d for d in (1, 5, 10, config.k, depth) if d <= depth})
    with run_dir.lock("retrieve"):
        retriever = build_retriever(config.retriever, dataset.corpus(), device=config.device,
                                    progress=progress)
        records: list[Candidates] = []
        result = RetrieveReport({}, {}, 0.0)
        for split in splits:
            examples = dataset.examples(split)[:config.limit]
            deep: list[Candidates] = []
            for start in range(0, len(examples), config.batch_size):
                chunk = examples[start:start + config.batch_size]
                hits: list[list[Hit]] = retriever.retrieve(chunk, depth)
                deep += [Candidates(e, tuple(h), split, retriever.name)
                         for e, h in zip(chunk, hits, strict=True)]
                report(progress, f"retrieving {split}", len(deep), len(examples))
            records += [Candidates(c.example, c.hits[:config.k], c.split, c.retriever)
                        for c in deep]
            result.counts[split] = len(deep)
            result.recall[split] = recall_at(deep, depths)
        _refuse_to_replace_searched_candidates(run_dir, records)
        write_jsonl(run_dir.candidates_path, (r.to_dict() for r in records))
        result.seconds = time.perf_counter() - started
        run_dir.record("retrieve", {**asdict(config), "dataset": dataset.name,
                                    "dataset_version": dataset.version,
                                    "source": config.dataset,
                                    "dataset_path": str(dataset.path), "task": dataset.task,
                                    "splits": splits, "counts": result.counts,
                                    "recall": {s: {str(d): v for d, v in r.items()}
                                               for s, r in result.recall.items()}})
    return result
