"""`ragbridge fit`: a user's examples and corpus to a served bridge, every stage in one call.

Import (validated; dev/test by a hash of the id where the examples name no split),
retrieval, silver on train, dev and test, the training chain (`rl-only` by default, the
chain that measured best: docs/chains.md; `sl+rl`, BGM's, or `sl`), the
point-wise reranker and the test table, in one run directory that `ragbridge serve RUN` takes
as it is (the chain's last bridge is `RUN/bridge-rl/model`, or `RUN/bridge-sl/model` for
`sl`).

Before the first LLM call it states what each stage will ask (`ragbridge.cost`); a rerun of
the same command resumes every stage, and a changed setting is refused, naming it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ragbridge.bridge.rl import RLConfig
from ragbridge.bridge.sl import SLConfig
from ragbridge.cost import Estimate, estimate_fit
from ragbridge.jsonl import InputError, write_json
from ragbridge.llms import CachedLLM
from ragbridge.llms.cache import LLMCallLimit
from ragbridge.progress import ProgressCallback, ProgressUpdate
from ragbridge.recipes import fit_rl_settings, fit_search
from ragbridge.rundir import RunDir

CHAINS = ("sl+rl", "sl", "rl-only")
MIN_EXAMPLES = {"train": 2, "dev": 1, "test": 1}  # to train, to select on, to report on
# what a rerun must share with the run it resumes (the rest: how this invocation runs)
RUNTIME_OPTIONS = ("dry_run", "max_llm_calls", "price_per_mtok")


@dataclass(frozen=True)
class FitConfig:
    """Everything `fit` does, named once; the CLI's options come from these fields."""

    examples: Path | None = field(default=None, metadata={
        "help": "JSONL of {id, query, answers (qa) | target, split?}; a split is made by a "
                "hash of the id where none is given (10% dev, 10% test)"})
    corpus: Path | None = field(default=None, metadata={
        "help": "JSONL of {id, title?, text} (not needed with --candidates)"})
    candidates: Path | None = field(default=None, metadata={
        "help": "Retrieval done elsewhere (a search API): JSONL of {id: EXAMPLE_ID, "
                "candidates: [{id, title?, text, score?}, ...]} in rank order, used instead "
                "of --retriever"})
    dataset: str | None = field(default=None, metadata={
        "help": "A bundled data set instead of --examples and --corpus: nq-wiki | "
                "email-subject (built on first use; its task is its own)"})
    task: str | None = field(default=None, metadata={
        "help": "qa | email-subject (default: qa, or the bundled data set's)"})
    retriever: str = field(default="bm25", metadata={"help": "bm25 | dense | dense:PATH"})
    k: int = field(default=5, metadata={"help": "Candidates per query the bridge chooses from"})
    train_n: int | None = field(default=None, metadata={
        "help": "Train queries searched for silver (none: all)"})
    dev_n: int | None = field(default=200, metadata={
        "help": "Dev queries (silver, model selection, the reranker threshold; none: all)"})
    test_n: int | None = field(default=None, metadata={
        "help": "Test queries in the results table (none: all)"})
    utility: str = field(default="metric", metadata={
        "help": "What silver maximises: metric | likelihood | metric+likelihood (the "
                "likelihoods need prompt log-probabilities from the LLM)"})
    chain: str = field(default="rl-only", metadata={
        "help": "Training chain: rl-only (measured best) | sl+rl (BGM) | sl"})
    sl_epochs: int = field(default=4, metadata={"help": "SL epochs (dev picks the best)"})
    rl_iterations: int = field(default=20, metadata={"help": "RL iterations"})
    seed: int = field(default=0, metadata={"help": "Seed of every trained model"})
    rl_settings: RLConfig | None = field(default=None, metadata={
        "cli": False, "help": "RL's settings but iterations, seed and evaluation interval "
                              "(the demo's recipe gives its task's; none: `fit_rl_settings`)"})
    dry_run: bool = field(default=False, metadata={
        "help": "Import, retrieve and print the cost estimate; ask the LLM nothing more than "
                "its calibration"})
    max_llm_calls: int | None = field(default=None, metadata={
        "help": "Stop cleanly after this many LLM requests (a rerun continues)"})
    price_per_mtok: str | None = field(default=None, metadata={
        "help": "IN,OUT: the endpoint's price per million prompt and output tokens"})

    def __post_init__(self) -> None:
        from ragbridge.data.bundled import BUNDLED_TASKS

        if self.dataset is not None:
            if self.dataset not in BUNDLED_TASKS:
                raise ValueError(f"unknown bundled data set {self.dataset!r}: choose one of "
                                 f"{', '.join(BUNDLED_TASKS)}")
            given = [f"--{n}" for n in ("examples", "corpus", "candidates") if getattr(self, n)]
            if given:
                raise ValueError(f"give --dataset or {' and '.join(given)}, not both")
            own = BUNDLED_TASKS[self.dataset]
            if self.task not in (None, own):
                raise ValueError(f"the {self.dataset} data set's task is {own}, not "
                                 f"{self.task}")
        # frozen: the resolved task is set once, here (a user's default stays 'qa')
        object.__setattr__(self, "task", self.task or (
            BUNDLED_TASKS[self.dataset] if self.dataset else "qa"))
        if self.chain not in CHAINS:
            raise ValueError(f"unknown chain {self.chain!r}: choose one of {', '.join(CHAINS)}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        if self.candidates and self.retriever != "bm25":
            raise ValueError("give --retriever or --candidates, not both: given candidates "
                             "are the retrieval")

    def rl_trainer(self) -> RLConfig:
        """The RL settings this fit trains with: its reward, its iterations and seed."""
        reward = self.rl_settings or fit_rl_settings(self.utility)
        return replace(reward, iterations=self.rl_iterations, seed=self.seed,
                       eval_every=max(self.rl_iterations // 4, 1))

    def bridge_rows(self) -> tuple[str, ...]:
        """The test table's row of each bridge the chain trains, the chain's own last."""
        return {"sl+rl": ("SL", "SL+RL (BGM)"), "sl": ("SL",),
                "rl-only": ("RL-only",)}[self.chain]

    def prices(self) -> tuple[float, float] | None:
        """(prompt, output) price per million tokens, when given."""
        if not self.price_per_mtok:
            return None
        try:
            prompt, output = (float(v) for v in self.price_per_mtok.split(","))
        except ValueError:
            raise ValueError(f"--price-per-mtok {self.price_per_mtok!r}: give IN,OUT, "
                             "e.g. 0.15,0.60") from None
        return prompt, output


@dataclass
class FitReport:
    """What `fit` did: the estimate, what each stage really asked, the test table."""

    run: Path
    estimate: Estimate
    measured: dict[str, dict[str, int]] = field(default_factory=dict)
    evaluation: Any = None  # an EvaluationReport (None on --dry-run)
    serve: Path | None = None  # the bridge `ragbridge serve RUN` loads


def _digest(path: Path) -> str:
    """sha256 of a file's bytes alone (a renamed copy is the same input; a changed one is a
    changed setting). Not fingerprint.content_digest: that one names the file and
    remembers model weights' hashes, not a user's data."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def identity(config: FitConfig, llm: CachedLLM) -> dict[str, Any]:
    """The settings a rerun must share: every option but the runtime ones, the input
    files' contents and the LLM."""
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                if k not in RUNTIME_OPTIONS}
    for name in ("examples", "corpus", "candidates"):
        path = getattr(config, name)
        settings[f"{name}_sha256"] = _digest(path) if path else None
    if config.dataset:  # a rebuilt bundled data set is another input
        from ragbridge.data.bundled import bundled_version

        settings["dataset_version"] = bundled_version(config.dataset)
    settings["llm"] = llm.identity
    return settings


def check_same_settings(run_dir: RunDir, settings: dict[str, Any]) -> None:
    """Refuse to resume a run fitted with other settings, naming each that changed."""
    recorded = run_dir.config().get("fit")
    if not recorded:
        return
    changed = [f"{key}: {recorded.get(key)!r} -> {value!r}" for key, value in settings.items()
               if recorded.get(key) != value]
    if changed:
        raise InputError(f"{run_dir.path} was fitted with other settings ("
                         + "; ".join(changed) + "): rerun with the recorded ones, or give "
                         "another --run")


def _import(run_dir: RunDir, config: FitConfig) -> Path:
    """The run's data set: a bundled one (built once, in the shared cache) or the run's
    own copy of the user's files (RUN/data, imported once); split sizes checked. Given
    candidates are copied into the run (RUN/given-candidates.jsonl) and, without
    --corpus, make its corpus."""
    from ragbridge.data.user_import import import_user_data
    from ragbridge.jsonl import write_jsonl
    from ragbridge.retrievers.given import given_corpus, read_given_candidates

    data = run_dir.path / "data"
    if config.dataset:
        from ragbridge.data.bundled import ensure_bundled
        from ragbridge.paths import dataset_dir

        ensure_bundled(config.dataset)
        data = dataset_dir(config.dataset)
    elif not (data / "meta.json").exists():
        if not (config.examples and (config.corpus or config.candidates)):
            raise InputError(f"{run_dir.path} holds no data set yet: give --examples and "
                             "--corpus (or --candidates)")
        corpus = config.corpus
        if config.candidates:
            given = read_given_candidates(config.candidates)
            write_jsonl(given_candidates_path(run_dir), (
                {"id": example_id, "candidates": [
                    {**hit.passage.to_dict(), "score": hit.score} for hit in hits]}
                for example_id, hits in given.items()))
            if corpus is None:
                corpus = run_dir.path / "corpus-from-candidates.jsonl"
                write_jsonl(corpus, (p.to_dict() for p in given_corpus(given)))
        import_user_data(config.examples, corpus, data, run_dir.path.name, config.task)
    counts = json.loads((data / "meta.json").read_text())["counts"]
    short = [f"{split} has {counts.get(split, 0)} (needs {least})"
             for split, least in MIN_EXAMPLES.items() if counts.get(split, 0) < least]
    if short:
        raise InputError(f"{config.examples or data}: too few examples to fit: "
                         + ", ".join(short) + "; add examples or give each a 'split'")
    return data


def given_candidates_path(run_dir: RunDir) -> Path:
    """Where a run keeps the candidates it was given (its retriever: `given:PATH`)."""
    return run_dir.path.resolve() / "given-candidates.jsonl"


def check_scoring(run_dir: RunDir, config: FitConfig, llm: CachedLLM) -> None:
    """A likelihood utility needs the LLM's prompt log-probabilities: ask for one (the first
    train query's reference with no passage, which the search asks anyway) and, when the
    LLM cannot give it, say so before anything is spent."""
    from ragbridge.llms import LLMError

    if config.utility == "metric":
        return
    task = run_dir.task()
    first = run_dir.candidates("train")[0].example
    try:
        llm.score([task.build_prompt(first, [])], [task.references(first)[0]])
    except LLMCallLimit:
        raise
    except LLMError as error:
        raise InputError(f"--utility {config.utility} needs the LLM's prompt "
                         f"log-probabilities, and {llm.identity} gives none ({error}); use "
                         "--utility metric, which needs only its replies") from None


def _retrieve(run_dir: RunDir, config: FitConfig, data: Path,
              progress: ProgressCallback | None) -> None:
    from ragbridge.retrievers import stage as retrieve

    retriever = (f"given:{given_candidates_path(run_dir)}" if config.candidates
                 else config.retriever)
    if not run_dir.candidates_path.exists():
        retrieve.run(run_dir, retrieve.RetrieveConfig(
            dataset=config.dataset or str(data), retriever=retriever, k=config.k),
            progress=progress)


class _Stages:
    """Runs the stages in order, counting what each asked the LLM, on one progress bar."""

    def __init__(self, names: list[str], llm: CachedLLM,
                 progress: ProgressCallback | None) -> None:
        self.names, self.llm, self.progress = names, llm, progress
        self.measured: dict[str, dict[str, int]] = {}

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        done = len(self.measured)
        if self.progress:
            self.progress(ProgressUpdate("fit", done, len(self.names), info=name))
        before = asdict(self.llm.stats)
        result = work()
        after = asdict(self.llm.stats)
        self.measured[name] = {key: after[key] - before[key] for key in after}
        if self.progress:
            self.progress(ProgressUpdate("fit", done + 1, len(self.names), info=name))
        return result


def fit(run: Path, config: FitConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None,
        on_estimate: Callable[[Estimate], None] | None = None) -> FitReport:
    """Run every stage (or, `dry_run`, stop after the estimate); resumable."""
    from ragbridge.bridge import rl_stage, sl_stage
    from ragbridge.evaluation import stage as evaluate
    from ragbridge.reranker import stage as reranker
    from ragbridge.silver import stage as silver

    run_dir = RunDir(run)
    run_dir.path.mkdir(parents=True, exist_ok=True)
    settings = identity(config, llm)
    check_same_settings(run_dir, settings)
    data = _import(run_dir, config)
    _retrieve(run_dir, config, data, progress)
    run_dir.record("fit", settings)
    if llm.recipe:  # how `ragbridge serve RUN` reaches the same LLM
        run_dir.record("fit-llm", {"spec": llm.recipe["spec"],
                                   "base_url": llm.recipe.get("base_url")})
    llm.max_calls = config.max_llm_calls  # the calibration counts too
    check_scoring(run_dir, config, llm)
    estimate = estimate_fit(run_dir, config, llm)
    write_json(run_dir.path / "fit-estimate.json", estimate.to_dict())
    if on_estimate:
        on_estimate(estimate)
    report = FitReport(run_dir.path, estimate)
    if config.dry_run:
        return report
    limits = {"train": config.train_n, "dev": config.dev_n, "test": config.test_n}
    names = [f"silver {s}" for s in limits] + (["SL"] if "sl" in config.chain.split("+")
                                               else []) + (
        ["RL"] if config.chain != "sl" else []) + ["reranker", "evaluate"]
    stages = _Stages(names, llm, progress)
    for split, limit in limits.items():
        stages.run(f"silver {split}", lambda split=split, limit=limit: silver.run(
            run_dir, silver.SilverStageConfig(split=split, limit=limit,
                                              search=fit_search(config.utility, split)),
            llm, progress=progress))
    bridge, bridges = None, []
    if "SL" in names:
        trained = stages.run("SL", lambda: sl_stage.run(run_dir, sl_stage.SLStageConfig(
            dev_limit=config.dev_n, trainer=SLConfig(epochs=config.sl_epochs,
                                                     seed=config.seed)), llm,
            progress=progress))
        bridge = trained.model
        bridges.append(bridge)
    if "RL" in names:
        start = str(bridge) if bridge else "minilm-fid"
        trainer = config.rl_trainer()
        result = stages.run("RL", lambda: rl_stage.run(run_dir, rl_stage.RLStageConfig(
            start=start, out=run_dir.bridge_path("bridge-rl"), dev_limit=config.dev_n,
            train_limit=config.train_n, trainer=trainer), llm, progress=progress))
        bridge = result.model
        bridges.append(bridge)
    tuned = (run_dir.reranker_path / "threshold.json").exists()  # a rerun keeps it
    stages.run("reranker", lambda: None if tuned else reranker.run(
        run_dir, reranker.RerankerConfig(dev_limit=config.dev_n, seed=config.seed), llm))
    rows = tuple(f"{label}={path}" for label, path in zip(config.bridge_rows(), bridges,
                                                          strict=True))
    report.evaluation = stages.run("evaluate", lambda: evaluate.run(
        run_dir, evaluate.EvaluateConfig(split="test", n=config.test_n, bridges=rows), llm,
        progress=progress))
    report.measured, report.serve = stages.measured, bridge
    write_json(run_dir.path / "fit-measured.json",
               {"estimate": estimate.to_dict(), "measured": stages.measured})
    return report
