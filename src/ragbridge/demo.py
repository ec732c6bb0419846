"""The main job and the study: data, retrieval, gap probe, silver, SL, reranker, RL, evaluation.

Per task of a recipe (`ragbridge.recipes`: the LLM, each task's data set, retriever, K,
silver utilities and RL reward, and the sizes): silver under the task's utility and (with
`second_silver_bridge`) under the other one (`other_utility`), an SL bridge on each, the
point-wise reranker on the chosen silver (the same signal as the bridge; chosen by dev with
`choose_utility_on_dev`), an RL-only bridge and the SL+RL bridge (BGM) with the task's
reward, every bridge with each seed, and the test table with every baseline. `study` is the
SmolLM2 measurement (BENCHMARKS.md, "Results"), `qwen-study` the one on Qwen2.5-Coder-0.5B;
`default` (`make demo`) trains on fewer queries and evaluates on full test sets, replaying
the study's LLM judgments (`ragbridge.replay`) so that only what is new reaches the LLM;
`quick` is a first look.

It only sequences the stages (each `run` in its concept's package) and renders their reports
(`ragbridge.terminal`, `ragbridge.render`); every stage resumes, so a rerun continues
where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ragbridge.bridge import rl_stage as rl
from ragbridge.bridge import sl_stage as sl
from ragbridge.bridge.sl import SLConfig
from ragbridge.data.bundled import ensure_bundled
from ragbridge.evaluation import stage as evaluate
from ragbridge.fit import FitConfig
from ragbridge.gap import stage as gap
from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM, load_llm
from ragbridge.progress import ProgressCallback
from ragbridge.recipes import (
    RECIPES,
    DemoSizes,
    DemoTask,
    Recipe,
    demo_sizes,
    other_utility,
    recipe,
    rl_trainer,
    select_tasks,
)
from ragbridge.render import write_markdown
from ragbridge.reranker import stage as reranker
from ragbridge.retrievers import stage as retrieve
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver
from ragbridge.terminal import gap_table, results_table, silver_table

__all__ = ["RECIPES", "Demo", "DemoSizes", "DemoTask", "Recipe", "demo_sizes", "recipe",
           "run_demo", "select_tasks", "utility_run"]

def _ensure_data(name: str, console: Console, progress: ProgressCallback | None) -> None:
    """Build a bundled data set unless the cache holds its current version."""
    counts = ensure_bundled(name, progress)
    if counts:
        console.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {v}" for k, v in
                                                            counts.items()))


def _seeded(name: str, seed: int) -> str:
    """A training folder's name for a seed: seed 0 keeps the plain name."""
    return name if seed == 0 else f"{name}-seed{seed}"


def utility_run(runs: Path, task: DemoTask, utility: str) -> RunDir:
    """The run directory of one task's silver utility; it shares the task's candidates."""
    base = RunDir(runs / task.name)
    return base if utility == task.utility else base.sibling(utility.replace("+", "-"))


class Demo:
    """The demo's state: where it writes, what it measures, and how long each stage took."""

    def __init__(self, runs: Path, sizes: DemoSizes, llm: CachedLLM, console: Console,
                 progress: ProgressCallback | None) -> None:
        self.runs, self.sizes, self.llm = runs, sizes, llm
        self.console, self.progress = console, progress
        self.timings: dict[str, float] = {}
        self.summary: dict[str, Any] = {"llm": llm.identity, "sizes": asdict(sizes)}
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Record the time since the last lap under `stage`."""
        now = time.perf_counter()
        self.timings[stage] = round(now - self._clock, 1)
        self._clock = now

    def retrieve(self, task: DemoTask) -> None:
        """Candidates for every split (K fixed for the run), once per data set version: a
        rebuilt data set is retrieved again (which refuses when silver was searched on
        candidates that changed)."""
        from ragbridge.data import load_dataset

        run = RunDir(self.runs / task.name)
        recorded = run.config().get("retrieve", {})
        if recorded.get("dataset_version") != load_dataset(task.dataset).version:
            found = retrieve.run(run, retrieve.RetrieveConfig(
                dataset=task.dataset, retriever=task.retriever, k=task.k), progress=self.progress)
            for split, recall in found.recall.items():
                if recall:
                    self.console.print(f"{task.name} {split}: " + ", ".join(
                        f"R@{d} {v:.1f}" for d, v in recall.items()))

    def silver(self, run: RunDir, utility: str, train_n: int | None,
               splits: tuple[str, ...]) -> dict[str, Any]:
        """Silver on the given splits under one utility."""
        found = {}
        limits = {"train": train_n, "dev": self.sizes.dev_n, "test": self.sizes.test_n}
        for split in splits:
            limit = limits[split]
            # top-K is only recorded where it is a baseline (dev, test): on train it would
            # cost one long prompt per query for nothing the bridge learns from
            search = replace(self.sizes.search, utility=utility, judge_top_k=split != "train")
            summary = silver.run(run, silver.SilverStageConfig(
                split=split, limit=limit, search=search), self.llm, progress=self.progress)
            self.console.print(silver_table(summary, f"{run.path.name}: silver ({split})"))
            found[split] = summary.to_dict()
        return found

    def seeds(self) -> range:
        """The seeds every trained bridge is trained with."""
        return range(self.sizes.seeds)

    def label(self, name: str, seed: int) -> str:
        """A bridge's row name: the seed is named when there are several."""
        return f"{name} seed {seed}" if self.sizes.seeds > 1 else name

    def sl(self, run: RunDir, name: str, seed: int = 0) -> sl.SLReport:
        """An SL bridge on the run's train silver (seed 0 in `bridge-sl`, seed N beside it
        in `bridge-sl-seedN`)."""
        trained = sl.run(run, sl.SLStageConfig(
            dev_limit=self.sizes.dev_n, out=run.bridge_path(_seeded("bridge-sl", seed)),
            trainer=SLConfig(epochs=self.sizes.sl_epochs, seed=seed)),
            self.llm, progress=self.progress)
        self.console.print(f"{self.label(name, seed)}: dev " + " -> ".join(
            f"{d['metric']:.1f}" for d in trained.history["dev"]))
        return trained

    def rl(self, run: RunDir, task: DemoTask, start: str, out: str,
           train_n: int | None, seed: int = 0) -> Path:
        """RL with the task's reward from an SL bridge (or a fresh family: RL-only), drawing
        rollouts from the queries the silver search judged (their judgments are cached)."""
        trainer = rl_trainer(task, self.sizes, seed)
        out = _seeded(out, seed)
        result = rl.run(run, rl.RLStageConfig(start=start, out=run.bridge_path(out),
                                              dev_limit=self.sizes.dev_n, train_limit=train_n,
                                              trainer=trainer),
                        self.llm, progress=self.progress)
        self.console.print(f"{run.path.name} {out}: dev " + " -> ".join(
            f"{d['metric']:.1f}" for d in result.history["dev"]))
        return result.model

    def task_silver(self, task: DemoTask, train_n: int | None, splits: tuple[str, ...],
                    utilities: tuple[str, ...]) -> None:
        """Silver on `splits` under each utility; a second utility mostly reuses the first
        one's judgments: the same prompts, generated once."""
        found = self.summary.setdefault("silver", {}).setdefault(task.name, {})
        for utility in utilities:
            found.setdefault(utility, {}).update(self.silver(
                utility_run(self.runs, task, utility), utility, train_n, splits))
        self.lap(f"{task.name} silver ({', '.join(splits)})")

    def sl_bridges(self, task: DemoTask, utilities: tuple[str, ...]
                   ) -> tuple[str, dict[str, Path]]:
        """The SL bridges of each utility's silver and every seed, and the utility whose
        bridges have the best mean dev metric when the sizes ask dev to choose (else the
        task's own); a tie keeps the earlier (cheaper) utility."""
        bridges, dev = {}, {}
        for utility in reversed(utilities):  # the task's own utility last: the headline SL
            best = []
            for seed in self.seeds():
                trained = self.sl(utility_run(self.runs, task, utility), f"SL ({utility})",
                                  seed)
                bridges[self.label(f"SL ({utility} silver)", seed)] = trained.model
                best.append(max(d["metric"] for d in trained.history["dev"]))
            dev[utility] = sum(best) / len(best)
        chosen = task.utility
        if self.sizes.choose_utility_on_dev:
            chosen = max(utilities, key=lambda u: dev[u])  # max keeps the first of a tie
        self.summary.setdefault("utility", {})[task.name] = {
            "chosen": chosen, "by": "dev" if self.sizes.choose_utility_on_dev else "recipe",
            "dev SL metric (mean over seeds)": {u: round(v, 2) for u, v in dev.items()}}
        self.console.print(f"{task.name}: {chosen} silver carries the reranker, RL and the "
                           "oracle (" + ", ".join(f"{u} dev {v:.1f}" for u, v in dev.items())
                           + ")")
        return chosen, bridges

    def task(self, task: DemoTask, train_n: int | None) -> evaluate.EvaluationReport:
        """Silver on train and dev, the SL bridges and the reranker, the gap probe, the test
        silver (the oracle row) and (`table_before_rl`) a first test table; then RL and the
        full test table. The first table (every baseline, both SL bridges, the oracle) comes
        before the RL runs, which take most of a task's hours, so an interrupted long run
        has it already."""
        utilities = ((task.utility, other_utility(task)) if self.sizes.second_silver_bridge
                     else (task.utility,))
        self.task_silver(task, train_n, ("train", "dev"), utilities)
        utility, bridges = self.sl_bridges(task, utilities)
        chosen = utility_run(self.runs, task, utility)
        if not (chosen.reranker_path / "threshold.json").exists():
            tuned = reranker.run(chosen, reranker.RerankerConfig(
                dev_limit=self.sizes.dev_n), self.llm)
            self.console.print(f"point-wise reranker: threshold {tuned.threshold:.3f}")
        self.lap(f"{task.name} SL and reranker")
        probed = gap.run(chosen, gap.GapConfig(n=self.sizes.gap_n), self.llm,
                         progress=self.progress)
        self.console.print(gap_table(probed.report, probed.title))
        self.lap(f"{task.name} gap probe")
        # the test silver is the oracle row, which only the chosen utility's silver gives
        self.task_silver(task, train_n, ("test",), (utility,))
        if not self.sizes.rl_iterations:
            return self.evaluate(task, chosen, bridges)
        if self.sizes.table_before_rl:
            self.evaluate(task, chosen, bridges)  # the table before RL (cached LLM calls after)
        if self.sizes.rl_only:
            for seed in self.seeds():
                bridges[self.label("RL-only", seed)] = self.rl(
                    chosen, task, "minilm-fid", "bridge-rl-only", train_n, seed)
        for seed in self.seeds():
            start = utility_run(self.runs, task, utility).bridge_path(
                _seeded("bridge-sl", seed)) / "model"
            bridges[self.label("SL+RL (BGM)", seed)] = self.rl(
                chosen, task, str(start), "bridge-rl", train_n, seed)
        self.lap(f"{task.name} RL")
        return self.evaluate(task, chosen, bridges)

    def evaluate(self, task: DemoTask, chosen: RunDir,
                 bridges: dict[str, Path]) -> evaluate.EvaluationReport:
        """The test table of every baseline, the given bridges (each bootstrapped against the
        best baseline) and the silver oracle."""
        report = evaluate.run(chosen, evaluate.EvaluateConfig(
            split="test", n=self.sizes.test_n,
            bridges=tuple(f"{n}={p}" for n, p in bridges.items())), self.llm,
            progress=self.progress)
        show_evaluation(self.console, report)
        self.lap(f"{task.name} evaluate ({len(bridges)} bridges)")
        return report

    def fit(self, task: DemoTask, train_n: int | None) -> evaluate.EvaluationReport:
        """The task as `ragbridge fit` on its bundled data set with the recipe's settings
        (one silver, one seed, SL then RL), then the gap probe on the same run."""
        from ragbridge.fit import fit

        run = utility_run(self.runs, task, task.utility)
        report = fit(run.path, fit_config(task, self.sizes, train_n), self.llm,
                     progress=self.progress,
                     on_estimate=lambda estimate: [self.console.print(line)
                                                   for line in estimate.lines()])
        self.lap(f"{task.name} fit")
        show_evaluation(self.console, report.evaluation)
        if self.sizes.gap_n:
            probed = gap.run(run, gap.GapConfig(n=self.sizes.gap_n), self.llm,
                             progress=self.progress)
            self.console.print(gap_table(probed.report, probed.title))
            self.lap(f"{task.name} gap probe")
        return report.evaluation


def fit_config(task: DemoTask, sizes: DemoSizes, train_n: int | None) -> FitConfig:
    """`ragbridge fit` on the task's bundled data set with the recipe's retriever, K,
    utility, RL reward and sizes, on BGM's chain, whose judgments ship for replay (not fit's
    default `rl-only`, whose demo judgments are not measured yet; no RL iterations: SL)."""
    return FitConfig(dataset=task.dataset, retriever=task.retriever, k=task.k,
                     train_n=train_n, dev_n=sizes.dev_n, test_n=sizes.test_n,
                     utility=task.utility, chain="sl+rl" if sizes.rl_iterations else "sl",
                     sl_epochs=sizes.sl_epochs, rl_iterations=sizes.rl_iterations,
                     rl_settings=task.reward)


def show_evaluation(console: Console, report: evaluate.EvaluationReport) -> None:
    """The test table and each bridge's paired bootstrap against the best baseline."""
    console.print(results_table(report.results, report.title, report.metric,
                                report.length_unit))
    for comparison in report.comparisons:
        console.print(comparison.line())
    for comparison in report.answerable_comparisons:
        console.print("answerable: " + comparison.line())


def _table(report: evaluate.EvaluationReport) -> dict[str, dict[str, float]]:
    """Metric, passages, prompt tokens and diversity per method."""
    return {r.method: {report.metric: round(r.metric, 1), "passages": round(r.passages, 2),
                       f"prompt {report.length_unit}": round(r.prompt_tokens),
                       "distinct sequences": r.diversity.distinct}
            for r in report.results}


def _earlier_summary(runs: Path) -> dict[str, Any]:
    """The summary an earlier run of this folder wrote: its test tables and stage times are
    kept for the tasks this run does not redo."""
    path = runs / "demo-summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_demo(runs: Path, plan: Recipe, console: Console,
             progress: ProgressCallback | None = None,
             replay: Path | None = None, tasks: tuple[str, ...] = ()) -> dict[str, Any]:
    """The recipe's tasks (those of the given data set names; all when none is given) end
    to end; returns and writes the summary with every test table, keeping those an earlier
    run wrote for other tasks."""
    from ragbridge.replay import import_judgments

    chosen = select_tasks(plan.tasks, tasks)
    sizes = plan.sizes
    started = time.perf_counter()
    llm = load_llm(plan.llm)
    demo = Demo(runs, sizes, llm, console, progress)
    if replay is not None:
        added = import_judgments(replay, llm)
        console.print(f"replaying the study's LLM judgments: {added} added to the cache "
                      f"from {replay}")
        demo.summary["replayed"] = {"file": str(replay), "added": added}
    for task in chosen:
        _ensure_data(task.dataset, console, progress)
    demo.lap("data")
    if not sizes.one_fit:  # `fit` retrieves for itself
        for task in chosen:
            demo.retrieve(task)
        demo.lap("retrieve")
    earlier = _earlier_summary(runs)
    tables = earlier.get("test tables", {})
    demo.timings = {**earlier.get("stage seconds", {}), **demo.timings}
    calls, scored = llm.stats.calls, llm.stats.scored
    # one task at a time, the smaller first: email-subject's silver, training and evaluation
    # take a fraction of nq-wiki's, so its complete table is there hours earlier in a long run
    for task in reversed(chosen):
        run_task = demo.fit if sizes.one_fit else demo.task
        tables[task.name] = _table(run_task(task, sizes.train_n(task.dataset)))
    sections = ["# ragbridge demo: test tables", ""]
    for task in plan.tasks:  # every task with a test table in this folder, this run's or earlier
        table = utility_run(runs, task, task.utility).eval_path("test", "md")
        if table.exists():
            sections.append(table.read_text().strip() + "\n")
    demo.summary.update({"test tables": tables, "stage seconds": demo.timings,
                         "llm calls": llm.stats.calls - calls,
                         "llm scores": llm.stats.scored - scored,
                         "seconds": round(time.perf_counter() - started, 1)})
    write_json(runs / "demo-summary.json", demo.summary)
    write_markdown(runs / "demo-results.md", sections)
    console.print(f"[bold green]demo finished[/bold green] in {demo.summary['seconds']:.0f} s "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in demo.timings.items())}); "
                  f"{demo.summary['llm calls']} LLM generations and {demo.summary['llm scores']}"
                  f" likelihoods computed; tables in {runs}/demo-results.md, plots in "
                  f"{runs}/*/eval-test.png")
    return demo.summary
