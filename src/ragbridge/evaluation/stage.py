"""The evaluate stage: every available method on one split of a run directory.

Methods: no retrieval, top-1 and top-K in retriever order, the point-wise reranker when
`RUN/reranker/` has been trained (`ragbridge train-reranker`; or another run's, given as
`reranker`, since a reranker scores any retriever's candidates), each bridge given, and the
silver oracle when the split's silver covers every evaluated example (`ragbridge silver
--split test`; a partial silver never shrinks the set the other methods are scored on). Every
bridge is compared with the best baseline by a paired bootstrap; the last one given (BGM,
when it is the SL+RL one) is the headline comparison. Writes `eval-SPLIT.json` (with
per-example scores and choices), `eval-SPLIT.md` and `eval-SPLIT.png`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.evaluation.scoring import (
    Comparison,
    Kind,
    MethodResult,
    compare_with_best_baseline,
    evaluate_selector,
)
from ragbridge.jsonl import write_json
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Candidates
from ragbridge.render import plot_results, results_markdown, write_markdown
from ragbridge.rundir import RunDir
from ragbridge.selectors import NoRetrieval, Selector, SilverOracle, TopK
from ragbridge.silver.records import read_silver


@dataclass(frozen=True)
class EvaluateConfig:
    """Which examples, and which trained selectors besides the baselines."""

    split: str = field(default="test", metadata={"help": "Split to evaluate"})
    n: int | None = field(default=None, metadata={"help": "At most this many examples",
                                                   "aliases": ("-n",)})
    bridges: tuple[str, ...] = field(default=(), metadata={
        "help": "NAME=PATH of a trained bridge (repeatable; each is bootstrapped against "
                "the best baseline, the last is the headline)",
        "flag": "bridge"})
    reranker: Path | None = field(default=None, metadata={
        "help": "A tuned reranker folder (default RUN/reranker when it exists)"})

    def named_bridges(self) -> dict[str, Path]:
        """The bridges as {name: folder}; a malformed entry is a clear error."""
        named = {}
        for entry in self.bridges:
            name, _, path = entry.partition("=")
            if not name or not path:
                raise ValueError(f"--bridge wants NAME=PATH, got {entry!r}")
            named[name] = Path(path)
        return named


@dataclass
class EvaluationReport:
    """Every method's result, each bridge's bootstrap against the best baseline (in the
    order given: the last is the headline), and what produced them; for QA also the same on
    the *answerable* examples (a gold answer in one of the K candidates), where the choice
    of passages can matter."""

    title: str
    metric: str
    llm: str
    results: list[MethodResult]
    comparisons: list[Comparison] = field(default_factory=list)
    answerable: list[MethodResult] | None = None
    answerable_comparisons: list[Comparison] = field(default_factory=list)
    length_unit: str = "tokens"  # what the prompt lengths count: tokens, or words

    @property
    def comparison(self) -> Comparison | None:
        """The headline comparison: the last bridge given against the best baseline."""
        return self.comparisons[-1] if self.comparisons else None

    @property
    def answerable_comparison(self) -> Comparison | None:
        """The headline comparison on the answerable examples."""
        return self.answerable_comparisons[-1] if self.answerable_comparisons else None

    def to_dict(self) -> dict[str, Any]:
        """What eval-SPLIT.json holds ("comparison": the headline; "comparisons": all)."""
        def compared(comparison: Comparison | None) -> dict[str, Any] | None:
            return asdict(comparison) if comparison else None

        return {"title": self.title, "llm": self.llm, "metric": self.metric,
                "length_unit": self.length_unit,
                "bootstrap": self.comparison.line() if self.comparison else None,
                "comparison": compared(self.comparison),
                "comparisons": [asdict(c) for c in self.comparisons],
                "results": [r.to_dict() for r in self.results],
                "answerable": [r.to_dict() for r in self.answerable]
                if self.answerable is not None else None,
                "answerable_comparison": compared(self.answerable_comparison),
                "answerable_comparisons": [asdict(c) for c in self.answerable_comparisons]}


def answerable(item: Candidates) -> bool:
    """A QA example with a gold answer in one of its candidates."""
    return item.answerable


def run(run_dir: RunDir, config: EvaluateConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None) -> EvaluationReport:
    """Evaluate every method on the first n examples; the silver oracle joins when the
    split's silver covers all of them (otherwise the title says why it is left out)."""
    from ragbridge.bridge import Bridge
    from ragbridge.folders import reading
    from ragbridge.reranker.model import PointwiseReranker

    settings = run_dir.settings()
    bridges = config.named_bridges()
    items = run_dir.candidates(config.split)
    silver_path = run_dir.silver_path(config.split)
    items = items[:config.n]
    if not items:
        raise ValueError(f"no candidates for split {config.split!r} in {run_dir.path}")
    oracle, oracle_note = None, ""
    if silver_path.exists():
        records = read_silver(silver_path)
        searched = {str(r["id"]) for r in records}
        covered = sum(c.example.id in searched for c in items)
        if covered == len(items):
            oracle = SilverOracle.from_records(items, records, source=str(silver_path))
        else:  # every method is scored on the same, whole set: a partial oracle is left out
            oracle_note = (f"silver oracle left out: {silver_path.name} covers {covered} of "
                           f"the {len(items)} examples (finish `ragbridge silver --split "
                           f"{config.split}`, or evaluate with --n {covered})")
    methods: list[tuple[str, Kind, Selector]] = [
        ("no retrieval", "baseline", NoRetrieval()), ("top-1", "baseline", TopK(1)),
        (f"top-{settings.k}", "baseline", TopK(None))]
    reranker = config.reranker or run_dir.reranker_path
    used_reranker = None
    with reading(reranker):  # a reranker being saved is waited for, not skipped
        trained = (reranker / "threshold.json").exists()
    recorded = run_dir.config().get("train-reranker", {}).get("out")
    if (not trained and config.reranker is None and recorded
            and Path(recorded).resolve() == reranker.resolve()):
        raise FileNotFoundError(f"{reranker} is missing though `train-reranker` ran on "
                                f"{run_dir.path}: train it again, or give --reranker")
    if config.reranker is not None or trained:
        methods.append(("point-wise reranker", "baseline",
                        PointwiseReranker.from_pretrained(reranker)))
        used_reranker = str(reranker)
    methods += [(name, "bridge", Bridge.from_pretrained(path)) for name, path in bridges.items()]
    if oracle is not None:
        methods.append(("silver oracle", "oracle", oracle))
    judge = Judge(run_dir.task(), llm)
    results = []
    for number, (name, kind, selector) in enumerate(methods, start=1):
        results.append(evaluate_selector(name, selector, items, judge, kind))
        report(progress, f"evaluate {config.split}", number, len(methods), name)
    title = (f"{settings.dataset}, {settings.retriever} ({config.split}, {len(items)} examples, "
             f"K={settings.k}{'; ' + oracle_note if oracle_note else ''})")
    evaluation = EvaluationReport(title, judge.metric, llm.identity, results, [
        compare_with_best_baseline(results, name) for name in bridges],
        length_unit=judge.length_unit)
    sections = [results_markdown(results, title, judge.metric, evaluation.comparisons,
                                 judge.length_unit)]
    if any(c.example.answers for c in items):
        keep = [answerable(c) for c in items]
        evaluation.answerable = [r.subset(keep) for r in results]
        if any(keep):
            evaluation.answerable_comparisons = [
                compare_with_best_baseline(evaluation.answerable, name) for name in bridges]
        sections.append(results_markdown(
            evaluation.answerable, f"{title}: the {sum(keep)} answerable (a gold answer in "
            "the candidates)", judge.metric, evaluation.answerable_comparisons,
            judge.length_unit))
    with run_dir.lock(f"evaluate {config.split}"):
        write_json(run_dir.eval_path(config.split, "json"), evaluation.to_dict())
        write_markdown(run_dir.eval_path(config.split, "md"), sections)
        plot_results(results, run_dir.eval_path(config.split, "png"), title, judge.metric)
        recorded: dict[str, Any] = {"split": config.split, "n": len(items), "k": settings.k,
                                    "llm": llm.identity,
                                    "bridges": {k: str(v) for k, v in bridges.items()}}
        if used_reranker:
            recorded["reranker"] = used_reranker
        run_dir.record(f"evaluate-{config.split}", recorded)
    return evaluation
