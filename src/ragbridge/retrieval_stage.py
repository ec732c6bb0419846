"""The retrieve stage: top-K candidates for every example of the chosen splits, and recall@K."""

from __future__ import annotations

from collections.abc import Sequence

from rich.progress import Progress

from ragbridge.data import Dataset
from ragbridge.jsonl import write_jsonl
from ragbridge.records import Candidates, Example, Hit
from ragbridge.retrievers import build_retriever
from ragbridge.rundir import RunDir
from ragbridge.tasks.metrics import contains_answer


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


def retrieve_candidates(dataset: Dataset, retriever_name: str, k: int, splits: Sequence[str],
                        run: RunDir, limit: int | None = None, batch_size: int = 256,
                        device: str = "cpu") -> dict[str, dict[int, float]]:
    """Write candidates.jsonl for the splits; return recall@{1,5,10,k} per split (QA only)."""
    retriever = build_retriever(retriever_name, dataset.corpus(), device=device)
    records: list[Candidates] = []
    recalls: dict[str, dict[int, float]] = {}
    with Progress() as progress:
        for split in splits:
            examples: list[Example] = dataset.examples(split)[:limit]
            task = progress.add_task(f"retrieving {split}", total=len(examples))
            split_records: list[Candidates] = []
            for start in range(0, len(examples), batch_size):
                chunk = examples[start:start + batch_size]
                hits: list[list[Hit]] = retriever.retrieve(chunk, k)
                split_records += [Candidates(e, tuple(h), split, retriever.name)
                                  for e, h in zip(chunk, hits, strict=True)]
                progress.advance(task, len(chunk))
            records += split_records
            recalls[split] = recall_at(split_records, sorted({1, 5, 10, k} & set(range(1, k + 1))))
    write_jsonl(run.candidates_path, (r.to_dict() for r in records))
    run.record("retrieve", {"dataset": dataset.name, "dataset_path": str(dataset.path),
                            "task": dataset.task, "retriever": retriever_name, "k": k,
                            "splits": list(splits), "limit": limit,
                            "recall": {s: {str(d): v for d, v in r.items()}
                                       for s, r in recalls.items()}})
    return recalls
