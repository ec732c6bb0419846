"""The main job on the embedded default data: data, retrieval, gap, silver, SL, RL, evaluation.

It only sequences the stages (`ragbridge.stages`) and renders their reports
(`ragbridge.render`); every stage resumes, so a rerun continues where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM, load_llm
from ragbridge.paths import dataset_dir
from ragbridge.progress import ProgressCallback
from ragbridge.render import (
    gap_table,
    results_table,
    silver_table,
    write_markdown,
)
from ragbridge.rundir import RunDir
from ragbridge.stages import evaluate, gap, reranker, retrieve, rl, silver, sl
from ragbridge.stages.evaluate import EvaluateConfig


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
K = 5  # candidates per query in every demo run
RUNS = ("nq-wiki-dense", "email-subject-bm25")


def demo_sizes(preset: str, **overrides: int | None) -> DemoSizes:
    """A preset with the given (non-None) sizes replaced."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def _ensure_data(name: str, console: Console, progress: ProgressCallback | None) -> None:
    """Build a bundled data set unless the cache holds its current version."""
    import json

    from ragbridge.data import email_subject, nq_wiki

    module = {"nq-wiki": nq_wiki, "email-subject": email_subject}[name]
    builder = {"nq-wiki": nq_wiki.build_nq_wiki,
               "email-subject": email_subject.build_email_subject}[name]
    meta = dataset_dir(name) / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("version", 1) == module.VERSION:
        return
    counts = builder(dataset_dir(name), progress=progress)
    console.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _silver(run: RunDir, split: str, limit: int, llm: CachedLLM, console: Console,
            progress: ProgressCallback | None) -> dict[str, Any]:
    summary = silver.run(run, silver.SilverStageConfig(split=split, limit=limit), llm,
                         progress=progress)
    console.print(silver_table(summary, f"{run.path.name}: silver search ({split})"))
    return summary.to_dict()


def _bridges(run: RunDir, sizes: DemoSizes, llm: CachedLLM, console: Console,
             progress: ProgressCallback | None) -> dict[str, Path]:
    """Dev and test silver, SL, the point-wise reranker, RL-only and SL+RL; returns bridges."""
    for split, limit in (("dev", sizes.dev_n), ("test", sizes.test_n)):
        _silver(run, split, limit, llm, console, progress)
    trained = sl.run(run, sl.SLStageConfig(dev_limit=sizes.dev_n, trainer=sl.SLConfig(
        epochs=sizes.sl_epochs)), llm, progress=progress)
    console.print(f"{run.path.name} SL dev: " + " -> ".join(
        f"{d['metric']:.1f}" for d in trained.history["dev"]))
    bridges = {"SL bridge": trained.model}
    if not (run.reranker_path / "threshold.json").exists():
        tuned = reranker.run(run, reranker.RerankerConfig(dev_limit=sizes.dev_n), llm)
        console.print(f"point-wise reranker: threshold {tuned.threshold:.3f}")
    if sizes.rl_iterations:
        for name, start, out in (("RL-only bridge", "minilm-fid", "bridge-rl-only"),
                                 ("SL+RL bridge (BGM)", str(trained.model), "bridge-rl")):
            config = rl.RLStageConfig(
                start=start, out=run.bridge_path(out), dev_limit=sizes.dev_n,
                trainer=rl.RLConfig(iterations=sizes.rl_iterations,
                                    eval_every=max(sizes.rl_iterations // 2, 1)))
            result = rl.run(run, config, llm, progress=progress)
            console.print(f"{out} (PPO) dev: " + " -> ".join(
                f"{d['metric']:.1f}" for d in result.history["dev"]))
            bridges[name] = result.model
    return bridges


def _table(report: evaluate.EvaluationReport) -> dict[str, dict[str, float]]:
    """Metric, passages, prompt tokens and diversity per method."""
    return {r.method: {report.metric: round(r.metric, 1), "passages": round(r.passages, 2),
                       "prompt tokens": round(r.prompt_tokens),
                       "distinct sequences": r.diversity.distinct}
            for r in report.results}


def run_demo(runs: Path, sizes: DemoSizes, llm_spec: str, console: Console,
             progress: ProgressCallback | None = None) -> dict[str, Any]:
    """nq-wiki (dense and BM25 candidates) and email-subject (BM25): the whole chain.

    Bridges and the reranker are trained on nq-wiki dense candidates and evaluated on both
    retrievers' test candidates (a bridge reads whatever candidates it is given).
    """
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
        _ensure_data(name, console, progress)
    lap("data")
    recalls = {}
    for retriever, splits in (("bm25", "dev,test"), ("dense", "train,dev,test")):
        run = RunDir(runs / f"nq-wiki-{retriever}")
        if "retrieve" not in run.config():
            found = retrieve.run(run, retrieve.RetrieveConfig(
                dataset="nq-wiki", retriever=retriever, k=K, splits=splits), progress=progress)
            run.record("demo-recall", {"dev": found.recall.get("dev", {})})
        recalls[retriever] = run.config()["demo-recall"]["dev"]
        console.print(f"nq-wiki dev {retriever}: " +
                      ", ".join(f"R@{d} {v:.1f}" for d, v in recalls[retriever].items()))
    summary["nq-wiki recall (dev)"] = recalls
    email = RunDir(runs / "email-subject-bm25")
    if "retrieve" not in email.config():
        retrieve.run(email, retrieve.RetrieveConfig(dataset="email-subject", retriever="bm25",
                                                    k=K), progress=progress)
    lap("retrieve")
    llm = load_llm(llm_spec)
    for run_name in RUNS:
        probed = gap.run(RunDir(runs / run_name), gap.GapConfig(n=sizes.gap_n), llm,
                         progress=progress)
        console.print(gap_table(probed.report, probed.title))
    lap("gap probe")
    summary["silver (train)"] = {}
    for run_name, limit in zip(RUNS, (sizes.silver_n, sizes.email_silver_n), strict=True):
        summary["silver (train)"][run_name] = _silver(RunDir(runs / run_name), "train", limit,
                                                      llm, console, progress)
        lap(f"silver {run_name}")
    evaluations: list[tuple[str, dict[str, Path], Path | None]] = []
    for run_name in RUNS:
        bridges = _bridges(RunDir(runs / run_name), sizes, llm, console, progress)
        lap(f"silver dev/test, SL, reranker, RL {run_name}")
        evaluations.append((run_name, bridges, None))
        if run_name == "nq-wiki-dense":
            _silver(RunDir(runs / "nq-wiki-bm25"), "test", sizes.test_n, llm, console,
                    progress)
            evaluations.append(("nq-wiki-bm25", bridges, runs / run_name / "reranker"))
    tables: dict[str, Any] = {}
    for run_name, bridges, other_reranker in evaluations:
        config = EvaluateConfig(split="test", n=sizes.test_n,
                                bridges=tuple(f"{n}={p}" for n, p in bridges.items()),
                                reranker=other_reranker)
        report = evaluate.run(RunDir(runs / run_name), config, llm, progress=progress)
        console.print(results_table(report.results, report.title, report.metric))
        if report.comparison:
            console.print(report.comparison.line())
        tables[run_name] = _table(report)
        lap(f"evaluate {run_name}")
    summary["test tables"] = tables
    summary["stage seconds"] = timings
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json(runs / "demo-summary.json", summary)
    write_markdown(runs / "demo-results.md", ["# ragbridge demo: test tables", ""] + [
        (runs / name / "eval-test.md").read_text().strip() + "\n" for name, *_ in evaluations])
    console.print(f"[bold green]demo finished[/bold green] in {summary['seconds']:.0f} s "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}); "
                  f"tables in {runs}/demo-results.md, plots in {runs}/*/eval-test.png")
    return summary
