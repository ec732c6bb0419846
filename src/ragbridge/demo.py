"""The main job on the embedded default data: data, retrieval, gap, silver, SL, RL, evaluation."""

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


def _bridges(run: Path, eval_n: int, epochs: int, rl_iterations: int, llm_spec: str,
             console: Console) -> None:
    """Dev and test silver, an SL bridge, the point-wise reranker, SL+RL, the test table."""
    from ragbridge.bridge.data import load_bridge_examples
    from ragbridge.bridge.rl import RLConfig
    from ragbridge.bridge.sl import SLConfig, train_sl
    from ragbridge.cli import run_evaluate, run_silver_search
    from ragbridge.llms import load_llm
    from ragbridge.reranker_stage import train_reranker_stage
    from ragbridge.rl_stage import run_rl
    from ragbridge.rundir import RunDir
    from ragbridge.silver import SilverConfig
    from ragbridge.tasks import get_task

    for split in ("dev", "test"):
        run_silver_search(run, split, eval_n, SilverConfig(k=5), llm_spec)
    run_dir = RunDir(run)
    task = get_task(run_dir.config()["retrieve"]["task"])
    llm = load_llm(llm_spec)
    config = SLConfig(epochs=epochs)
    history = train_sl(load_bridge_examples(run_dir, "train", config.k, informative_only=True),
                       load_bridge_examples(run_dir, "dev", config.k, eval_n), task, llm,
                       config, run / "bridge-sl",
                       on_epoch=lambda d: console.print(
                           f"SL epoch {d['epoch']}: dev {task.primary_metric} {d['metric']:.1f},"
                           f" sequence EM {d['exact_match']:.1f}"))
    run_dir.record("train-sl", {**history["config"], "informative_only": True,
                                "best_epoch": history["best_epoch"]})
    if not (run / "reranker" / "threshold.json").exists():
        reranker = train_reranker_stage(run_dir, llm, config.k, dev_limit=eval_n)
        console.print(f"point-wise reranker: threshold {reranker['threshold']:.3f}")
    bridges = {"SL bridge": run / "bridge-sl" / "model"}
    if rl_iterations:
        rl = RLConfig(iterations=rl_iterations, eval_every=max(rl_iterations // 2, 1))
        history = run_rl(run, str(run / "bridge-sl" / "model"), rl, run / "bridge-rl",
                         llm_spec, eval_n)
        console.print("RL (PPO) dev " + task.primary_metric + ": " +
                      " -> ".join(f"{d['metric']:.1f}" for d in history["dev"]))
        bridges["SL+RL bridge (BGM)"] = run / "bridge-rl" / "model"
    run_evaluate(run, "test", eval_n, 5, bridges, llm_spec)


def run_demo(runs: Path, gap_n: int, silver_n: int, email_silver_n: int, eval_n: int,
             sl_epochs: int, rl_iterations: int, llm_spec: str, console: Console) -> None:
    """nq-wiki (recall, gap and silver search on dense candidates) and email-subject (BM25)."""
    from ragbridge.cli import run_gap, run_silver_search
    from ragbridge.data import load_dataset
    from ragbridge.retrieval_stage import retrieve_candidates
    from ragbridge.rundir import RunDir
    from ragbridge.silver import SilverConfig

    started = time.perf_counter()
    summary: dict[str, object] = {"llm": llm_spec, "gap examples": gap_n,
                                  "silver queries": {"nq-wiki": silver_n,
                                                     "email-subject": email_silver_n}}
    timings: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        timings[stage] = round(time.perf_counter() - since, 1)
        return time.perf_counter()

    for name in ("nq-wiki", "email-subject"):
        _ensure_data(name, console)
    clock = lap("data", started)
    nq = load_dataset("nq-wiki")
    recalls = {}
    for retriever, splits in (("bm25", ["dev"]), ("dense", ["train", "dev", "test"])):
        run = RunDir(runs / f"nq-wiki-{retriever}")
        recalls[retriever] = retrieve_candidates(nq, retriever, 10, splits, run)["dev"]
        console.print(f"nq-wiki dev {retriever}: " +
                      ", ".join(f"R@{d} {v:.1f}" for d, v in recalls[retriever].items()))
    summary["nq-wiki recall (dev)"] = recalls
    email = load_dataset("email-subject")
    retrieve_candidates(email, "bm25", 5, ["train", "dev", "test"],
                        RunDir(runs / "email-subject-bm25"))
    clock = lap("retrieve", clock)
    run_gap(runs / "nq-wiki-dense", "dev", gap_n, 5, llm_spec, None, 8, 0)
    run_gap(runs / "email-subject-bm25", "dev", gap_n, 5, llm_spec, None, 8, 0)
    clock = lap("gap probe", clock)
    silver = {}
    for run_name, limit in (("nq-wiki-dense", silver_n), ("email-subject-bm25", email_silver_n)):
        found = run_silver_search(runs / run_name, "train", limit, SilverConfig(k=5), llm_spec)
        silver[run_name] = found.to_dict()
        clock = lap(f"silver {run_name}", clock)
    summary["silver (train)"] = silver
    for run_name in ("nq-wiki-dense", "email-subject-bm25"):
        _bridges(runs / run_name, eval_n, sl_epochs, rl_iterations, llm_spec, console)
        clock = lap(f"bridges + evaluation {run_name}", clock)
    summary["stage seconds"] = timings
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json(runs / "demo-summary.json", summary)
    console.print(f"[bold green]demo finished[/bold green] in {summary['seconds']} s "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}); "
                  f"results under {runs}/")
