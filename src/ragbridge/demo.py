"""The main job and the study: data, retrieval, gap probe, silver, SL, reranker, RL, evaluation.

Per task (nq-wiki with the dense retriever, email-subject with BM25, K=5): silver under the
task's chosen utility (measured in BENCHMARKS.md, "Which utility") and under the other one
(`other_utility`), an SL bridge on each, the point-wise reranker on the chosen silver (the
same signal as the bridge), an RL-only bridge and the SL+RL bridge (BGM) with the task's
reward, and the test table with every baseline. The presets only change sizes: `study` is
the full measurement (BENCHMARKS.md, "Results"); `default` (`make demo`) trains on fewer
queries and evaluates on full test sets, replaying the study's LLM judgments
(`ragbridge.replay`) so that only what is new reaches the LLM; `quick` is a first look.

It only sequences the stages (`ragbridge.stages`) and renders their reports
(`ragbridge.render`); every stage resumes, so a rerun continues where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ragbridge.bridge.rl import RLConfig
from ragbridge.bridge.sl import SLConfig
from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM, load_llm
from ragbridge.paths import dataset_dir
from ragbridge.progress import ProgressCallback
from ragbridge.render import gap_table, results_table, silver_table, write_markdown
from ragbridge.rundir import RunDir
from ragbridge.silver import SilverConfig
from ragbridge.stages import evaluate, gap, reranker, retrieve, rl, silver, sl

K = 5
DEMO_LLM = "smollm2-fp32"  # the study's LLM (same replies at any batch size, on any CPU):
# its judgments are what the demo replays


@dataclass(frozen=True)
class DemoTask:
    """One task of the demo: its data set, retriever, chosen silver utility and RL reward."""

    name: str  # the run directory's name
    dataset: str
    retriever: str
    utility: str  # the silver utility measured best for this task (BENCHMARKS.md)
    reward: RLConfig  # the RL reward and settings found for it (BENCHMARKS.md)


# RL from SL (and RL-only): RLOO with groups of 4 sampled sequences per query (a peaked SL
# policy still shows differences inside a group); only the pointer decoder learns in RL, at
# 1e-4 (SL trains it at 5e-4; 1e-5 would barely move it in 40 iterations); the task metric
# densified by a little of the likelihood gain over the empty prompt (a 0/1 QA metric is
# zero for most samples); nq-wiki pays a little for each passage.
_RL = RLConfig(algorithm="rloo", samples_per_query=4, rollout_queries=8, learning_rate=1e-4,
               kl_coef=0.05, likelihood_weight=0.1)
TASKS = (
    DemoTask("nq-wiki-dense", "nq-wiki", "dense", "metric+likelihood",
             replace(_RL, passage_cost=0.02)),
    # email-subject: the metric silver made the better and more varied SL bridge in both
    # fp32 measurements (BENCHMARKS.md, "Which utility"); within noise, but never behind
    DemoTask("email-subject-bm25", "email-subject", "bm25", "metric", _RL),
)


def other_utility(task: DemoTask) -> str:
    """The silver the second SL bridge is trained on, beside the task's chosen one: the
    metric, or (when the metric is the chosen one) the metric with likelihood tie-breaks."""
    return "metric" if task.utility != "metric" else "metric+likelihood"


@dataclass(frozen=True)
class DemoSizes:
    """How many queries each stage uses (None: every query of the split)."""

    gap_n: int  # dev examples in each task's gap probe
    silver_n: int | None  # nq-wiki train queries searched for silver
    email_silver_n: int | None  # email-subject train queries searched for silver
    dev_n: int | None  # dev queries: silver, model selection, the reranker threshold
    test_n: int | None  # test queries in the results tables
    sl_epochs: int
    rl_iterations: int  # RL iterations for SL+RL and RL-only; 0 skips RL
    second_silver_bridge: bool = True  # also the other silver (`other_utility`) and its SL
    rl_only: bool = True  # also train RL from a fresh bridge (no SL)
    # a first test table before RL, so an interrupted long run has it (RL takes most of a
    # study's hours); in a replayed demo RL takes a minute and the table costs three
    table_before_rl: bool = True
    search: SilverConfig = field(default_factory=lambda: SilverConfig(strategy="singles",
                                                                      max_length=2))


PRESETS: dict[str, DemoSizes] = {
    "quick": DemoSizes(gap_n=4, silver_n=40, email_silver_n=40, dev_n=20, test_n=40,
                       sl_epochs=1, rl_iterations=2, table_before_rl=False),
    "default": DemoSizes(gap_n=10, silver_n=300, email_silver_n=None, dev_n=150,
                         test_n=None, sl_epochs=2, rl_iterations=10,
                         second_silver_bridge=False, rl_only=False, table_before_rl=False),
    "study": DemoSizes(gap_n=100, silver_n=1000, email_silver_n=None, dev_n=150, test_n=None,
                       sl_epochs=4, rl_iterations=40),
}


def demo_sizes(preset: str, **overrides: int | None) -> DemoSizes:
    """A preset with the given (non-None) sizes replaced."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def _ensure_data(name: str, console: Console, progress: ProgressCallback | None) -> None:
    """Build a bundled data set unless the cache holds its current version."""
    from ragbridge.data import email_subject, nq_wiki

    module = {"nq-wiki": nq_wiki, "email-subject": email_subject}[name]
    builder = {"nq-wiki": nq_wiki.build_nq_wiki,
               "email-subject": email_subject.build_email_subject}[name]
    meta = dataset_dir(name) / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("version", 1) == module.VERSION:
        return
    counts = builder(dataset_dir(name), progress=progress)
    console.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


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
                dataset=task.dataset, retriever=task.retriever, k=K), progress=self.progress)
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

    def sl(self, run: RunDir, name: str) -> Path:
        """An SL bridge on the run's train silver."""
        trained = sl.run(run, sl.SLStageConfig(dev_limit=self.sizes.dev_n,
                                               trainer=SLConfig(epochs=self.sizes.sl_epochs)),
                         self.llm, progress=self.progress)
        self.console.print(f"{name}: dev " + " -> ".join(
            f"{d['metric']:.1f}" for d in trained.history["dev"]))
        return trained.model

    def rl(self, run: RunDir, task: DemoTask, start: str, out: str,
           train_n: int | None) -> Path:
        """RL with the task's reward from an SL bridge (or a fresh family: RL-only), drawing
        rollouts from the queries the silver search judged (their judgments are cached)."""
        trainer = replace(task.reward, iterations=self.sizes.rl_iterations,
                          eval_every=max(self.sizes.rl_iterations // 4, 1))
        result = rl.run(run, rl.RLStageConfig(start=start, out=run.bridge_path(out),
                                              dev_limit=self.sizes.dev_n, train_limit=train_n,
                                              trainer=trainer),
                        self.llm, progress=self.progress)
        self.console.print(f"{run.path.name} {out}: dev " + " -> ".join(
            f"{d['metric']:.1f}" for d in result.history["dev"]))
        return result.model

    def task_silver(self, task: DemoTask, train_n: int | None, splits: tuple[str, ...],
                    both: bool = True) -> None:
        """Silver on `splits` under the chosen utility, then (`both`) under the other one,
        which mostly reuses the chosen utility's judgments: the same prompts, generated once."""
        found = self.summary.setdefault("silver", {}).setdefault(task.name, {})
        utilities = ((task.utility, other_utility(task))
                     if both and self.sizes.second_silver_bridge else (task.utility,))
        for utility in utilities:
            found.setdefault(utility, {}).update(self.silver(
                utility_run(self.runs, task, utility), utility, train_n, splits))
        self.lap(f"{task.name} silver ({', '.join(splits)})")

    def task(self, task: DemoTask, train_n: int | None) -> evaluate.EvaluationReport:
        """Silver on train and dev, the SL bridges and the reranker, the gap probe, the test
        silver (the oracle row) and (`table_before_rl`) a first test table; then RL and the
        full test table. The first table (every baseline, both SL bridges, the oracle) comes
        before the two RL runs, which take most of a task's hours, so an interrupted long run
        has it already."""
        self.task_silver(task, train_n, ("train", "dev"))
        chosen = utility_run(self.runs, task, task.utility)
        bridges = {}
        if self.sizes.second_silver_bridge:
            other = other_utility(task)
            bridges[f"SL ({other} silver)"] = self.sl(utility_run(self.runs, task, other),
                                                      f"SL ({other})")
        bridges[f"SL ({task.utility} silver)"] = self.sl(chosen, f"SL ({task.utility})")
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
        self.task_silver(task, train_n, ("test",), both=False)
        if not self.sizes.rl_iterations:
            return self.evaluate(task, chosen, bridges)
        if self.sizes.table_before_rl:
            self.evaluate(task, chosen, bridges)  # the table before RL (cached LLM calls after)
        if self.sizes.rl_only:
            bridges["RL-only"] = self.rl(chosen, task, "minilm-fid", "bridge-rl-only",
                                         train_n)
        bridges["SL+RL (BGM)"] = self.rl(chosen, task,
                                         str(bridges[f"SL ({task.utility} silver)"]),
                                         "bridge-rl", train_n)
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
        self.console.print(results_table(report.results, report.title, report.metric))
        for comparison in report.comparisons:
            self.console.print(comparison.line())
        for comparison in report.answerable_comparisons:
            self.console.print("answerable: " + comparison.line())
        self.lap(f"{task.name} evaluate ({len(bridges)} bridges)")
        return report


def _table(report: evaluate.EvaluationReport) -> dict[str, dict[str, float]]:
    """Metric, passages, prompt tokens and diversity per method."""
    return {r.method: {report.metric: round(r.metric, 1), "passages": round(r.passages, 2),
                       "prompt tokens": round(r.prompt_tokens),
                       "distinct sequences": r.diversity.distinct}
            for r in report.results}


def select_tasks(names: tuple[str, ...] = ()) -> tuple[DemoTask, ...]:
    """The demo tasks of the given data set names (every task when none is given)."""
    known = {task.dataset: task for task in TASKS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown task {', '.join(map(repr, unknown))}: choose from "
                         f"{', '.join(known)}")
    return tuple(task for task in TASKS if not names or task.dataset in names)


def _earlier_summary(runs: Path) -> dict[str, Any]:
    """The summary an earlier run of this folder wrote: its test tables and stage times are
    kept for the tasks this run does not redo."""
    path = runs / "demo-summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_demo(runs: Path, sizes: DemoSizes, llm_spec: str, console: Console,
             progress: ProgressCallback | None = None,
             replay: Path | None = None, tasks: tuple[str, ...] = ()) -> dict[str, Any]:
    """The tasks (data set names; both when none is given) end to end; returns and writes
    the summary with every test table, keeping those an earlier run wrote for other tasks."""
    from ragbridge.replay import import_judgments

    chosen = select_tasks(tasks)
    started = time.perf_counter()
    llm = load_llm(llm_spec)
    demo = Demo(runs, sizes, llm, console, progress)
    if replay is not None:
        added = import_judgments(replay, llm)
        console.print(f"replaying the study's LLM judgments: {added} added to the cache "
                      f"from {replay}")
        demo.summary["replayed"] = {"file": str(replay), "added": added}
    for task in chosen:
        _ensure_data(task.dataset, console, progress)
    demo.lap("data")
    for task in chosen:
        demo.retrieve(task)
    demo.lap("retrieve")
    earlier = _earlier_summary(runs)
    tables = earlier.get("test tables", {})
    demo.timings = {**earlier.get("stage seconds", {}), **demo.timings}
    calls, scored = llm.stats.calls, llm.stats.scored
    train_sizes = {"nq-wiki": sizes.silver_n, "email-subject": sizes.email_silver_n}
    # one task at a time, the smaller first: email-subject's silver, training and evaluation
    # take a fraction of nq-wiki's, so its complete table is there hours earlier in a long run
    for task in reversed(chosen):
        tables[task.name] = _table(demo.task(task, train_sizes[task.dataset]))
    sections = ["# ragbridge demo: test tables", ""]
    for task in TASKS:  # every task with a test table in this folder, this run's or earlier
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
