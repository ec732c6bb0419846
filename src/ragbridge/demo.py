"""The main job on the embedded default data: prepare, retrieve, measure recall, probe the gap."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from ragbridge.jsonl import write_json
from ragbridge.paths import dataset_dir


def _ensure_data(name: str, console: Console) -> None:
    from ragbridge.data.email_subject import build_email_subject
    from ragbridge.data.nq_wiki import build_nq_wiki

    path = dataset_dir(name)
    if (path / "meta.json").exists():
        return
    builder = {"nq-wiki": build_nq_wiki, "email-subject": build_email_subject}[name]
    counts = builder(path)
    console.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def run_demo(runs: Path, n: int, llm_spec: str, console: Console) -> None:
    """nq-wiki (BM25 and dense recall, gap with dense) and email-subject (gap with BM25)."""
    from ragbridge.cli import run_gap
    from ragbridge.data import load_dataset
    from ragbridge.retrieval_stage import retrieve_candidates
    from ragbridge.rundir import RunDir

    started = time.perf_counter()
    summary: dict[str, object] = {}
    for name in ("nq-wiki", "email-subject"):
        _ensure_data(name, console)
    nq = load_dataset("nq-wiki")
    recalls = {}
    for retriever in ("bm25", "dense"):
        run = RunDir(runs / f"nq-wiki-{retriever}")
        recalls[retriever] = retrieve_candidates(nq, retriever, 10, ["dev"], run)["dev"]
        console.print(f"nq-wiki dev {retriever}: " +
                      ", ".join(f"R@{d} {v:.1f}" for d, v in recalls[retriever].items()))
    summary["nq-wiki recall (dev)"] = recalls
    run_gap(runs / "nq-wiki-dense", "dev", n, 5, llm_spec, None, 8, 0)
    email = load_dataset("email-subject")
    retrieve_candidates(email, "bm25", 5, ["dev"], RunDir(runs / "email-subject-bm25"))
    run_gap(runs / "email-subject-bm25", "dev", n, 5, llm_spec, None, 8, 0)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json(runs / "demo-summary.json", summary)
    console.print(f"[bold green]demo finished[/bold green] in {summary['seconds']} s; "
                  f"results under {runs}/")
