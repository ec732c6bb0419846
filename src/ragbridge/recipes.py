"""The demo's and the study's experiment recipes, as data: which frozen LLM, which tasks
(data set, retriever, K, silver utility, RL reward) and how many queries each stage uses.

`ragbridge demo --preset NAME` runs one of `RECIPES`; `ragbridge.demo` only sequences the
stages. The numbers behind each choice are in BENCHMARKS.md (the section named beside it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ragbridge.bridge.rl import RLConfig
from ragbridge.silver.search import SilverConfig

SMOLLM2 = "smollm2-fp32"  # same replies at any batch size, on any CPU: its judgments ship
QWEN_05B = "llamacpp:qwen2.5-coder-0.5b"  # the study LLM that reads its passages (issue 28)


@dataclass(frozen=True)
class DemoTask:
    """One task: its data set, retriever, K, preferred silver utility and RL reward."""

    name: str  # the run directory's name
    dataset: str
    retriever: str
    utility: str  # the silver utility measured best for this task (BENCHMARKS.md)
    reward: RLConfig  # the RL reward and settings found for it (BENCHMARKS.md)
    k: int = 5  # candidates retrieved per query, all shown to the bridge


def other_utility(task: DemoTask) -> str:
    """The silver the second SL bridge is trained on, beside the task's preferred one: the
    metric, or (when the metric is the preferred one) the metric with likelihood tie-breaks."""
    return "metric" if task.utility != "metric" else "metric+likelihood"


# RL from SL (and RL-only): RLOO with groups of 4 sampled sequences per query (a peaked SL
# policy still shows differences inside a group); only the pointer decoder learns in RL, at
# 1e-4 (SL trains it at 5e-4; 1e-5 would barely move it in 40 iterations); the task metric
# densified by a little of the likelihood gain over the empty prompt (a 0/1 QA metric is
# zero for most samples); nq-wiki pays a little for each passage.
RL_SETTINGS = RLConfig(algorithm="rloo", samples_per_query=4, rollout_queries=8,
                       learning_rate=1e-4, kl_coef=0.05, likelihood_weight=0.1)
TASKS = (
    DemoTask("nq-wiki-dense", "nq-wiki", "dense", "metric+likelihood",
             replace(RL_SETTINGS, passage_cost=0.02)),
    # email-subject: the metric silver made the better and more varied SL bridge in both
    # fp32 measurements (docs/notes/experiments.md, "Which utility"); within noise, but
    # never behind
    DemoTask("email-subject-bm25", "email-subject", "bm25", "metric", RL_SETTINGS),
)
# The study on Qwen2.5-Coder-0.5B (BENCHMARKS.md, "Choosing the study's LLM"): nq-wiki with
# K=10 dense candidates (R@10 34% on test against R@5 29%: more questions the bridge can
# answer), email-subject as before. The metric silver is listed first (the cheaper search,
# 11 s a query against 19 for metric+likelihood): dev chooses between the two.
QWEN_TASKS = (
    DemoTask("nq-wiki-dense-k10", "nq-wiki", "dense", "metric",
             replace(RL_SETTINGS, passage_cost=0.02), k=10),
    DemoTask("email-subject-bm25", "email-subject", "bm25", "metric", RL_SETTINGS),
)


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
    # the silver whose SL bridge has the better dev metric carries the reranker, the RL
    # runs and the oracle (with the second silver bridge); otherwise the task's utility does
    choose_utility_on_dev: bool = False
    seeds: int = 1  # every trained bridge with seeds 0..N-1
    search: SilverConfig = field(default_factory=lambda: SilverConfig(strategy="singles",
                                                                      max_length=2))

    def train_n(self, dataset: str) -> int | None:
        """Train queries a task's silver searches (and its RL draws rollouts from)."""
        return self.email_silver_n if dataset == "email-subject" else self.silver_n

    @property
    def one_fit(self) -> bool:
        """One silver, one seed and BGM's chain alone: each task is `ragbridge fit` on its
        bundled data set (the study's seeds, second silver and RL-only need the study's
        own sequence)."""
        return (self.seeds == 1 and not self.second_silver_bridge and not self.rl_only
                and not self.choose_utility_on_dev)


@dataclass(frozen=True)
class Recipe:
    """A whole experiment: the frozen LLM, the tasks and the sizes."""

    llm: str
    tasks: tuple[DemoTask, ...]
    sizes: DemoSizes
    replays: bool  # the shipped judgments are this LLM's: `make demo` replays them


RECIPES: dict[str, Recipe] = {
    "quick": Recipe(SMOLLM2, TASKS, DemoSizes(
        gap_n=4, silver_n=40, email_silver_n=40, dev_n=20, test_n=40, sl_epochs=1,
        rl_iterations=2, second_silver_bridge=False, rl_only=False, table_before_rl=False),
        replays=True),
    "default": Recipe(SMOLLM2, TASKS, DemoSizes(
        gap_n=10, silver_n=300, email_silver_n=None, dev_n=150, test_n=None, sl_epochs=2,
        rl_iterations=10, second_silver_bridge=False, rl_only=False, table_before_rl=False),
        replays=True),
    "study": Recipe(SMOLLM2, TASKS, DemoSizes(
        gap_n=100, silver_n=1000, email_silver_n=None, dev_n=150, test_n=None, sl_epochs=4,
        rl_iterations=40), replays=True),
    # RL at 20 iterations, not 40: at ~1 s a prompt, 40 iterations (1,280 rollouts and four
    # dev evaluations of 300 queries) took ~1.3 h a run, and the study trains 12 RL runs
    "qwen-study": Recipe(QWEN_05B, QWEN_TASKS, DemoSizes(
        gap_n=200, silver_n=1000, email_silver_n=None, dev_n=300, test_n=None, sl_epochs=4,
        rl_iterations=20, choose_utility_on_dev=True, seeds=3), replays=False),
}


def rl_trainer(task: DemoTask, sizes: DemoSizes, seed: int = 0) -> RLConfig:
    """The RL trainer a recipe runs for a task: its reward and settings, the recipe's
    iterations, a dev evaluation at every quarter of them, and the seed."""
    return replace(task.reward, iterations=sizes.rl_iterations, seed=seed,
                   eval_every=max(sizes.rl_iterations // 4, 1))


def recipe(preset: str, llm: str | None = None, **sizes: int | None) -> Recipe:
    """A preset with another LLM and the given (non-None) sizes replaced."""
    if preset not in RECIPES:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(RECIPES)}")
    chosen = RECIPES[preset]
    return replace(chosen, llm=llm or chosen.llm, sizes=replace(
        chosen.sizes, **{k: v for k, v in sizes.items() if v is not None}))


def demo_sizes(preset: str, **overrides: int | None) -> DemoSizes:
    """A preset's sizes with the given (non-None) sizes replaced."""
    return recipe(preset, **overrides).sizes


def select_tasks(tasks: tuple[DemoTask, ...], names: tuple[str, ...] = ()
                 ) -> tuple[DemoTask, ...]:
    """The tasks of the given data set names (every task when none is given), in order."""
    known = {task.dataset: task for task in tasks}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown task {', '.join(map(repr, unknown))}: choose from "
                         f"{', '.join(known)}")
    return tuple(task for task in tasks if not names or task.dataset in names)


# ---- ragbridge fit ----------------------------------------------------------------------
def fit_search(utility: str, split: str) -> SilverConfig:
    """The silver search `ragbridge fit` runs: each candidate alone, then the best two
    (top-K recorded where it is a baseline: dev and test)."""
    return SilverConfig(strategy="singles", max_length=2, utility=utility,
                        judge_top_k=split != "train")


def fit_rl_settings(utility: str) -> RLConfig:
    """The demo's RL recipe for `fit` (its iterations and seed are `fit`'s own); the
    likelihood only where the utility asks for it (an endpoint without prompt
    log-probabilities can then run RL too)."""
    weight = RL_SETTINGS.likelihood_weight if "likelihood" in utility else 0.0
    return replace(RL_SETTINGS, likelihood_weight=weight)
