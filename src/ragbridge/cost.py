"""What a `fit` will ask the LLM, known before its first call.

Per stage: the LLM requests (generations, scored references) and prompt tokens. The silver
search's first step (the empty prompt, each candidate alone, top-K where it is recorded)
is built prompt by prompt and looked up in the response cache, so its count is exact: what
the cache cannot answer yet. Everything after it depends on what the LLM answers, so it is
an upper bound (the search's longer prefixes, SL and RL dev evaluations, RL rollouts, the
reranker's threshold trials, the test table's new rows); cache hits make the real count
lower. A short calibration (a few of those first-step prompts, which the search then finds
cached) gives seconds per request; with prices, the cost.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.recipes import fit_search

if TYPE_CHECKING:
    from ragbridge.fit import FitConfig
    from ragbridge.records import Candidates
    from ragbridge.rundir import RunDir

CALIBRATION_PROMPTS = 3
RERANKER_TRIALS = 7  # keep all, five score quantiles, keep none


@dataclass
class StageCost:
    """One stage's LLM requests and prompt tokens: at least / at most."""

    stage: str
    generations_min: int
    generations_max: int
    likelihoods_max: int
    prompt_tokens_min: int
    prompt_tokens_max: int
    output_tokens_max: int
    fit_stage: str = ""  # the `fit` stage that asks it (its key in fit-measured.json)

    def __post_init__(self) -> None:
        self.fit_stage = self.fit_stage or self.stage


@dataclass
class Estimate:
    """Every stage's cost, the calibration, the time and (with prices) the money."""

    stages: list[StageCost]
    length_unit: str  # "tokens" (the LLM's tokenizer) or "words"
    seconds_per_request: float | None
    calibrated_on: int  # prompts timed (0: taken from an earlier estimate, or unknown)
    prices: tuple[float, float] | None = None
    totals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = ([k for k in asdict(self.stages[0]) if k not in ("stage", "fit_stage")]
                if self.stages else [])
        self.totals = {k: sum(getattr(s, k) for s in self.stages) for k in keys}
        requests = (self.totals.get("generations_max", 0)
                    + self.totals.get("likelihoods_max", 0))
        if self.seconds_per_request is not None:
            self.totals["seconds_min"] = round(self.totals.get("generations_min", 0)
                                               * self.seconds_per_request, 1)
            self.totals["seconds_max"] = round(requests * self.seconds_per_request, 1)
        if self.prices:
            prompt, output = self.prices
            self.totals["cost_max"] = round((self.totals["prompt_tokens_max"] * prompt
                                             + self.totals["output_tokens_max"] * output)
                                            / 1e6, 4)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (fit-estimate.json)."""
        return asdict(self)

    def lines(self) -> list[str]:
        """The estimate as the first lines `fit` prints."""
        unit = self.length_unit
        rows = [f"{s.stage}: {s.generations_min}"
                + ("" if s.generations_max == s.generations_min else f"-{s.generations_max}")
                + f" generations, up to {s.likelihoods_max} likelihoods, "
                f"{s.prompt_tokens_min}-{s.prompt_tokens_max} prompt {unit}"
                for s in self.stages]
        totals = self.totals
        head = (f"LLM requests: {totals['generations_min']:.0f}-"
                f"{totals['generations_max']:.0f} generations and up to "
                f"{totals['likelihoods_max']:.0f} likelihoods; "
                f"{totals['prompt_tokens_min']:.0f}-{totals['prompt_tokens_max']:.0f} prompt "
                f"{unit}, up to {totals['output_tokens_max']:.0f} output {unit}")
        if self.seconds_per_request is not None:
            head += (f"; {self.seconds_per_request:.2f} s a request (calibrated on "
                     f"{self.calibrated_on or 'an earlier run'}): "
                     f"{totals['seconds_min'] / 60:.0f}-{totals['seconds_max'] / 60:.0f} min")
        if "cost_max" in totals:
            head += f"; at most {totals['cost_max']:.4f} in the given currency"
        return [head, *rows]


def _items(run_dir: RunDir, split: str, limit: int | None) -> list[Candidates]:
    return run_dir.candidates(split)[:limit]


def calibrate(llm: CachedLLM, judge: Judge, prompts: list[str]) -> tuple[float | None, int]:
    """Seconds a request, timed on up to CALIBRATION_PROMPTS uncached prompts after one
    untimed warm-up (all kept in the cache: the search asks them anyway); None when fewer
    than two are left to ask."""
    fresh = llm.missing(prompts, judge.task.generation)[:CALIBRATION_PROMPTS + 1]
    if len(fresh) < 2:
        return None, 0
    llm.generate(fresh[:1], judge.task.generation)  # warm-up: a first call loads and compiles
    started = time.perf_counter()
    llm.generate(fresh[1:], judge.task.generation)
    return (time.perf_counter() - started) / len(fresh[1:]), len(fresh[1:])


def estimate_fit(run_dir: RunDir, config: FitConfig, llm: CachedLLM,
                 calibration: bool = True) -> Estimate:
    """The cost of `fit` on this run directory (its candidates), calibrated on the LLM."""
    task = run_dir.task()
    judge = Judge(task, llm, utility=config.utility)
    first = _items(run_dir, "train", config.train_n)
    seconds, timed = (calibrate(llm, judge, [task.build_prompt(i.example, [])
                                              for i in first[:CALIBRATION_PROMPTS + 1]])
                      if calibration else (None, 0))
    if seconds is None:  # nothing left to time: what an earlier estimate measured
        earlier = run_dir.path / "fit-estimate.json"
        if earlier.exists():
            seconds = json.loads(earlier.read_text()).get("seconds_per_request")
    new_tokens = task.generation.max_new_tokens
    limits = {"train": config.train_n, "dev": config.dev_n, "test": config.test_n}
    stages, top_k_tokens = [], {}
    for split, limit in limits.items():
        items = _items(run_dir, split, limit)
        search = fit_search(config.utility, split)
        always, singles, longer = [], [], []  # singles: generated when the utility reads them
        for item in items:
            passages = [h.passage for h in item.hits]
            always.append(task.build_prompt(item.example, []))
            if search.judge_top_k and len(passages) > 1:
                always.append(task.build_prompt(item.example, passages))
            singles += [task.build_prompt(item.example, [p]) for p in passages]
            if len(passages) >= 2:  # at most one prefix of the best two: bounded by the
                longest = sorted(passages, key=lambda x: -len(x.text))[:search.max_length]
                longer.append(task.build_prompt(item.example, longest))  # longest two
        exact = llm.missing(always + (singles if judge.needs_output else []), task.generation)
        tokens_exact = sum(judge.prompt_tokens(p) for p in exact)
        more = longer if judge.needs_output else []
        references = max((len(task.references(i.example)) for i in items), default=1)
        likelihoods = ((len(always) + len(singles) + len(longer)) * references
                       if judge.needs_likelihood else 0)
        stages.append(StageCost(
            f"silver {split}", len(exact), len(exact) + len(more), likelihoods, tokens_exact,
            tokens_exact + sum(judge.prompt_tokens(p) for p in more),
            (len(exact) + len(more)) * new_tokens))
        full = [task.build_prompt(i.example, [h.passage for h in i.hits]) for i in items]
        top_k_tokens[split] = (sum(judge.prompt_tokens(p) for p in full) / len(full)
                               if full else 0.0)
    dev_n = len(_items(run_dir, "dev", config.dev_n))
    test_n = len(_items(run_dir, "test", config.test_n))

    def bounded(stage: str, generations: int, likelihoods: int, split: str,
                fit_stage: str) -> StageCost:
        tokens = round(generations * top_k_tokens[split])
        return StageCost(stage, 0, generations, likelihoods, 0, tokens,
                         generations * new_tokens, fit_stage)

    if "sl" in config.chain.split("+"):
        stages.append(bounded("SL (dev each epoch)", config.sl_epochs * dev_n, 0, "dev",
                              "SL"))
    if config.chain != "sl":
        rl = config.rl_trainer()
        rollouts = rl.iterations * rl.rollout_queries * rl.samples_per_query
        references = max((len(task.references(i.example)) for i in first), default=1)
        stages.append(bounded("RL rollouts", rollouts,
                              rollouts * references if rl.likelihood_weight else 0, "train",
                              "RL"))
        evaluations = rl.iterations // max(rl.eval_every, 1) + 1
        stages.append(bounded("RL dev evaluations", evaluations * dev_n, 0, "dev", "RL"))
    stages.append(bounded("reranker threshold", RERANKER_TRIALS * dev_n, 0, "dev",
                          "reranker"))
    # the baselines and the oracle were judged by the test silver; new: the reranker and
    # each bridge (and top-1 where the utility judged the singles by likelihood alone)
    rows = 1 + len(config.bridge_rows()) + (0 if judge.needs_output else 1)
    stages.append(bounded("evaluate (test)", rows * test_n, 0, "test", "evaluate"))
    return Estimate(stages, judge.length_unit, seconds, timed, config.prices())
