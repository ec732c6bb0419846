"""The main job on the embedded default data: data, retrieval, gap, silver, SL, RL, evaluation."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ragbridge.jsonl import atomic_write_text, write_json
from ragbridge.paths import dataset_dir

if TYPE_CHECKING:
    from ragbridge.llms import CachedLLM


@dataclass(frozen=True)
class DemoSizes:
    """How many queries each stage of the demo uses (both tasks share dev/test sizes)."""

    gap_n: int  # dev examples in each task's gap probe
    silver_n: int  # nq-wiki train queries searched for silver
    email_silver_n: int  # email-subject train queries searched for silver
    dev_n: int  # dev queries: SL/RL model selection and the reranker threshold
    test_n: int  # test queries in the results tables
    sl_epochs: int
    rl_iterations: int  # PPO (SL+RL) and RL-only iterations of 16 queries; 0 skips RL


PRESETS: dict[str, DemoSizes] = {
    # about 30 minutes on a 2-core CPU without native bf16 (measured, BENCHMARKS.md)
    "quick": DemoSizes(gap_n=4, silver_n=20, email_silver_n=8, dev_n=6, test_n=10,
                       sl_epochs=1, rl_iterations=2),
    # about 1 h 13 min on the same CPU from an empty cache (measured, BENCHMARKS.md)
    "default": DemoSizes(gap_n=10, silver_n=100, email_silver_n=24, dev_n=12, test_n=20,
                         sl_epochs=3, rl_iterations=5),
    # the sizes of a first real study: about 4 h there (estimated), 2 where bf16 is native
    "full": DemoSizes(gap_n=100, silver_n=500, email_silver_n=200, dev_n=100, test_n=100,
                      sl_epochs=3, rl_iterations=20),
}


def demo_sizes(preset: str, **overrides: int | None) -> DemoSizes:
    """A preset with the given (non-None) sizes replaced."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def _ensure_data(name: str, console: Console) -> None:
    from ragbridge.data.email_subject import build_email_subject
    from ragbridge.data.nq_wiki import build_nq_wiki

    path = dataset_dir(name)
    if (path / "meta.json").exists():
        return
    builder = {"nq-wiki": build_nq_wiki, "email-subject": build_email_subject}[name]
    counts = builder(path)
    console.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _train_sl(run: Path, sizes: DemoSizes, llm: CachedLLM, console: Console) -> Path:
    """SL on the informative train silver, model selection on dev."""
    from ragbridge.bridge.data import load_bridge_examples
    from ragbridge.bridge.sl import SLConfig, train_sl
    from ragbridge.rundir import RunDir
    from ragbridge.tasks import get_task

    run_dir = RunDir(run)
    task = get_task(run_dir.config()["retrieve"]["task"])
    config = SLConfig(epochs=sizes.sl_epochs)
    history = train_sl(load_bridge_examples(run_dir, "train", config.k, informative_only=True),
                       load_bridge_examples(run_dir, "dev", config.k, sizes.dev_n), task,
                       llm, config, run / "bridge-sl",
                       on_epoch=lambda d: console.print(
                           f"SL epoch {d['epoch']}: dev {task.primary_metric} {d['metric']:.1f},"
                           f" sequence EM {d['exact_match']:.1f}"))
    run_dir.record("train-sl", {**history["config"], "informative_only": True,
                                "best_epoch": history["best_epoch"]})
    return run / "bridge-sl" / "model"


def _train_rl(run: Path, start: str, out: str, sizes: DemoSizes, llm_spec: str,
              console: Console) -> Path:
    """PPO from `start` (an SL bridge folder, or a family name for RL-only)."""
    from ragbridge.bridge.rl import RLConfig
    from ragbridge.rl_stage import run_rl

    config = RLConfig(iterations=sizes.rl_iterations,
                      eval_every=max(sizes.rl_iterations // 2, 1))
    history = run_rl(run, start, config, run / out, llm_spec, sizes.dev_n)
    console.print(f"{out} (PPO) dev: " + " -> ".join(f"{d['metric']:.1f}"
                                                     for d in history["dev"]))
    return run / out / "model"


def _bridges(run: Path, sizes: DemoSizes, llm_spec: str, console: Console) -> dict[str, Path]:
    """Dev and test silver, SL, the point-wise reranker, RL-only and SL+RL; returns bridges."""
    from ragbridge.cli import run_silver_search
    from ragbridge.llms import load_llm
    from ragbridge.reranker_stage import train_reranker_stage
    from ragbridge.rundir import RunDir
    from ragbridge.silver import SilverConfig

    run_silver_search(run, "dev", sizes.dev_n, SilverConfig(k=5), llm_spec)
    run_silver_search(run, "test", sizes.test_n, SilverConfig(k=5), llm_spec)
    llm = load_llm(llm_spec)
    bridges = {"SL bridge": _train_sl(run, sizes, llm, console)}
    if not (run / "reranker" / "threshold.json").exists():
        reranker = train_reranker_stage(RunDir(run), llm, 5, dev_limit=sizes.dev_n)
        console.print(f"point-wise reranker: threshold {reranker['threshold']:.3f}")
    if sizes.rl_iterations:
        bridges["RL-only bridge"] = _train_rl(run, "minilm-encdec", "bridge-rl-only", sizes,
                                              llm_spec, console)
        bridges["SL+RL bridge (BGM)"] = _train_rl(run, str(bridges["SL bridge"]), "bridge-rl",
                                                  sizes, llm_spec, console)
    return bridges


def _table(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Metric, passages and prompt tokens per method from an eval-SPLIT.json report."""
    return {r["method"]: {report["metric"]: round(r["metric"], 1),
                          "passages": round(r["passages"], 2),
                          "prompt tokens": round(r["prompt_tokens"])}
            for r in report["results"]}


def run_demo(runs: Path, sizes: DemoSizes, llm_spec: str, console: Console) -> dict[str, Any]:
    """nq-wiki (dense and BM25 candidates) and email-subject (BM25): the whole chain.

    Bridges and the reranker are trained on nq-wiki dense candidates and evaluated on both
    retrievers' test candidates (a bridge reads whatever candidates it is given).
    """
    from ragbridge.cli import run_evaluate, run_gap, run_silver_search
    from ragbridge.data import load_dataset
    from ragbridge.retrieval_stage import retrieve_candidates
    from ragbridge.rundir import RunDir
    from ragbridge.silver import SilverConfig

    started = time.perf_counter()
    summary: dict[str, Any] = {"llm": llm_spec, "sizes": asdict(sizes)}
    timings: dict[str, float] = {}
    clock = started

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 1)
        clock = now

    for name in ("nq-wiki", "email-subject"):
        _ensure_data(name, console)
    lap("data")
    nq, email = load_dataset("nq-wiki"), load_dataset("email-subject")
    recalls = {}
    for retriever, splits in (("bm25", ["dev", "test"]), ("dense", ["train", "dev", "test"])):
        run = RunDir(runs / f"nq-wiki-{retriever}")
        recalls[retriever] = retrieve_candidates(nq, retriever, 10, splits, run)["dev"]
        console.print(f"nq-wiki dev {retriever}: " +
                      ", ".join(f"R@{d} {v:.1f}" for d, v in recalls[retriever].items()))
    summary["nq-wiki recall (dev)"] = recalls
    retrieve_candidates(email, "bm25", 5, ["train", "dev", "test"],
                        RunDir(runs / "email-subject-bm25"))
    lap("retrieve")
    for run_name in ("nq-wiki-dense", "email-subject-bm25"):
        run_gap(runs / run_name, "dev", sizes.gap_n, 5, llm_spec, None, 8, 0)
    lap("gap probe")
    summary["silver (train)"] = {}
    for run_name, limit in (("nq-wiki-dense", sizes.silver_n),
                            ("email-subject-bm25", sizes.email_silver_n)):
        found = run_silver_search(runs / run_name, "train", limit, SilverConfig(k=5), llm_spec)
        summary["silver (train)"][run_name] = found.to_dict()
        lap(f"silver {run_name}")
    tables: dict[str, Any] = {}
    evaluations: list[tuple[str, Path, dict[str, Path], Path | None]] = []
    for run_name in ("nq-wiki-dense", "email-subject-bm25"):
        bridges = _bridges(runs / run_name, sizes, llm_spec, console)
        lap(f"silver dev/test, SL, reranker, RL {run_name}")
        evaluations.append((run_name, runs / run_name, bridges, None))
        if run_name == "nq-wiki-dense":
            run_silver_search(runs / "nq-wiki-bm25", "test", sizes.test_n, SilverConfig(k=5),
                              llm_spec)
            evaluations.append(("nq-wiki-bm25", runs / "nq-wiki-bm25", bridges,
                                runs / run_name / "reranker"))
    for run_name, run, bridges, reranker in evaluations:
        tables[run_name] = _table(run_evaluate(run, "test", sizes.test_n, 5, bridges, llm_spec,
                                               reranker=reranker))
        lap(f"evaluate {run_name}")
    summary["test tables"] = tables
    summary["stage seconds"] = timings
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json(runs / "demo-summary.json", summary)
    atomic_write_text(runs / "demo-results.md", results_markdown(runs, tables.keys()))
    console.print(f"[bold green]demo finished[/bold green] in {summary['seconds']:.0f} s "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}); "
                  f"tables in {runs}/demo-results.md, plots in {runs}/*/eval-test.png")
    return summary


def results_markdown(runs: Path, run_names: Iterable[str]) -> str:
    """Every evaluated run's test table (and its bootstrap line), one after another."""
    parts = ["# ragbridge demo: test tables", ""]
    for run_name in run_names:
        parts += [(runs / run_name / "eval-test.md").read_text().strip(), ""]
    return "\n".join(parts)
