"""The SL stage's trainer: fine-tune a bridge on silver sequences — one plain PyTorch loop.

Each epoch: shuffled mini-batches of (query, candidates) -> silver ids, AdamW, then a dev
evaluation (sequence exact match with the dev silver, and the frozen LLM's task metric on the
passages the bridge chose, through the judge) and a checkpoint (`OUT/checkpoint-N/`, written
aside and swapped in, older ones pruned). A rerun resumes from the newest checkpoint and
continues the same run (the shuffling of epoch N depends only on the seed and N). The best
epoch by the dev metric is kept as `OUT/model/`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ragbridge.bridge import checkpoints
from ragbridge.bridge.build import build_bridge
from ragbridge.bridge.data import BridgeExample, examples_digest
from ragbridge.bridge.format import BridgeFormat
from ragbridge.bridge.model import Bridge
from ragbridge.evaluation.scoring import Diversity
from ragbridge.folders import save_folder
from ragbridge.jsonl import write_json
from ragbridge.judge import Judge
from ragbridge.progress import ProgressCallback, report


@dataclass(frozen=True)
class SLConfig:
    """Every knob of SL training, named once."""

    family: str = field(default="minilm-fid", metadata={
        "help": "Bridge family: minilm-fid | encoder:PATH (any transformers encoder)"})
    epochs: int = field(default=3, metadata={"help": "Training epochs"})
    batch_size: int = field(default=8, metadata={"help": "Training batch size"})
    learning_rate: float = field(default=5e-5, metadata={
        "help": "AdamW learning rate of the pretrained encoder"})
    head_learning_rate: float = field(default=5e-4, metadata={
        "help": "AdamW learning rate of the new pointer decoder"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm"})
    passage_tokens: int = field(default=64, metadata={"help": "Token budget per passage"})
    query_tokens: int = field(default=96, metadata={"help": "Token budget for the query"})
    max_ids: int | None = field(default=None, metadata={
        "help": "Longest id sequence the bridge emits (default K: every candidate once, so "
                "it can say top-K; more lets a silver that repeats fit)"})
    utility_targets: float = field(default=0.0, metadata={
        "help": "Weight of the soft first-decision target: 0 imitates only the silver's "
                "first id; w mixes in, with weight w, the softmax of the utilities the "
                "search measured for each candidate alone and for the empty sequence"})
    utility_temperature: float = field(default=5.0, metadata={
        "help": "Temperature of that softmax, in the utility's own units (metric points)"})
    seed: int = field(default=0, metadata={"help": "Seed"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.utility_targets <= 1.0:
            raise ValueError(f"utility_targets must be in [0, 1], not {self.utility_targets}")
        if self.utility_temperature <= 0:
            raise ValueError("utility_temperature must be positive, not "
                             f"{self.utility_temperature}")

    def ids_for(self, k: int) -> int:
        """The longest id sequence a bridge reading K candidates emits."""
        return k if self.max_ids is None else self.max_ids

    def bridge_format(self, k: int) -> BridgeFormat:
        """The input/output format the bridge is trained with, for K candidates."""
        return BridgeFormat(k, self.passage_tokens, self.query_tokens, self.ids_for(k))


@dataclass
class DevReport:
    """The bridge on dev: sequence match with silver and the LLM's metric on its choices."""

    exact_match: float
    metric: float
    mean_passages: float
    diversity: Diversity
    seconds: float


def silver_exact_match(chosen: Sequence[Sequence[int]],
                       examples: Sequence[BridgeExample]) -> float:
    """% of the examples with silver whose chosen sequence is exactly their silver one."""
    with_silver = [(c, e.silver) for c, e in zip(chosen, examples, strict=True)
                   if e.silver is not None]
    return 100.0 * sum(list(c) == list(s) for c, s in with_silver) / max(len(with_silver), 1)


def evaluate_bridge(bridge: Bridge, examples: Sequence[BridgeExample], judge: Judge,
                    batch_size: int = 16) -> DevReport:
    """Select for every example, prompt the frozen LLM with the choice, and report the task
    metric of its output (what model selection goes by, whatever the silver's utility)."""
    started = time.perf_counter()
    chosen = bridge.generate([e.query for e in examples], [e.passages for e in examples],
                             batch_size=batch_size)
    utilities = judge.metrics([e.item for e in examples], chosen)
    count = max(len(examples), 1)
    return DevReport(
        exact_match=silver_exact_match(chosen, examples),
        metric=sum(utilities) / count, mean_passages=sum(len(c) for c in chosen) / count,
        diversity=Diversity.of(chosen), seconds=time.perf_counter() - started)


def first_step_targets(batch: Sequence[BridgeExample], k: int, weight: float,
                       temperature: float) -> torch.Tensor:
    """[B, K+1] first-decision targets: the silver's first id (the last column: stop, the
    empty sequence), mixed with weight `weight` with softmax(utility / temperature) over the
    candidates the search judged alone and the empty sequence. An example without those
    utilities keeps its one-hot target."""
    targets = torch.zeros(len(batch), k + 1)
    for row, example in enumerate(batch):
        first = example.silver[0] if example.silver else k
        targets[row, first] = 1.0
        singles = example.singles
        if not weight or singles is None:
            continue
        utilities = torch.full((k + 1,), float("-inf"))
        for position, utility in enumerate(singles[:-1]):
            if utility is not None and position < k:
                utilities[position] = utility
        utilities[k] = float(singles[-1]) if singles[-1] is not None else float("-inf")
        soft = torch.softmax(utilities / temperature, dim=0)
        targets[row] = (1.0 - weight) * targets[row] + weight * soft
    return targets


def make_optimizer(bridge: Bridge, config: SLConfig) -> torch.optim.Optimizer:
    """AdamW with one learning rate for the pretrained encoder and one for the new decoder."""
    decoder = {id(p) for p in bridge.model.decoder.parameters()}
    trainable = list(bridge.trainable_parameters())
    return torch.optim.AdamW(
        [{"params": [p for p in trainable if id(p) not in decoder], "lr": config.learning_rate},
         {"params": [p for p in trainable if id(p) in decoder],
          "lr": config.head_learning_rate}], weight_decay=config.weight_decay)


def _best_epoch(state: dict[str, Any]) -> int:
    """The epoch with the best dev metric (exact match breaks ties, then the earlier)."""
    return max(state["dev"], key=lambda d: (d["metric"], d["exact_match"], -d["epoch"]))["epoch"]


def check_silver_fits(train: Sequence[BridgeExample], max_ids: int) -> None:
    """Refuse, before any training, a silver longer than the bridge may emit (e.g. top-K at
    K=10 as the silver of a bridge of at most 5 ids), naming the longest and the setting."""
    longest = max(train, key=lambda e: len(e.silver or ()), default=None)
    if longest is not None and len(longest.silver or ()) > max_ids:
        length = len(longest.silver or ())
        raise ValueError(f"the silver of {longest.item.example.id!r} has {length} ids, more "
                         f"than the bridge may emit (max_ids {max_ids}): train with "
                         f"--max-ids {length}")


def train_sl(train: Sequence[BridgeExample], dev: Sequence[BridgeExample], judge: Judge,
             config: SLConfig, out: Path, k: int,
             on_epoch: Callable[[dict[str, Any]], None] | None = None,
             progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train (or resume) a bridge reading K candidates on silver sequences; return the
    training history."""
    out.mkdir(parents=True, exist_ok=True)
    if not train:
        raise ValueError("no training examples for the SL stage (no silver, or none "
                         "informative)")
    config = replace(config, max_ids=config.ids_for(k))  # the run records what it used
    check_silver_fits(train, config.ids_for(k))
    settings = {**asdict(config), "k": k}
    data = examples_digest(train)
    checkpoint, state = checkpoints.resume(
        out, settings, asdict(SLConfig()), "epochs", {"data": data},
        {"data": "on other examples or silver than the run's now"})
    if checkpoint and state:
        bridge = Bridge.from_pretrained(checkpoint, device=config.device)
    else:
        bridge = build_bridge(config.family, config.bridge_format(k), config.device,
                              config.seed)
        state = {"config": settings, "data": data, "epoch": 0, "losses": [], "dev": [],
                 "seconds_per_epoch": []}
    # without dev examples there is nothing to select on: the last epoch is the model
    state["selection"] = "best dev epoch" if dev else "last epoch (no dev examples)"
    optimizer = make_optimizer(bridge, config)
    if checkpoint:
        checkpoints.load_tensors(checkpoint, {"optimizer": optimizer})
    steps = (len(train) + config.batch_size - 1) // config.batch_size
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        order = list(range(len(train)))
        random.Random(config.seed * 1000 + epoch).shuffle(order)
        torch.manual_seed(config.seed * 1000 + epoch)
        bridge.model.train()
        started = time.perf_counter()
        for step, start in enumerate(range(0, len(order), config.batch_size), start=1):
            batch = [train[i] for i in order[start:start + config.batch_size]]
            first = (first_step_targets(batch, k, config.utility_targets,
                                        config.utility_temperature)
                     if config.utility_targets else None)
            loss = bridge.loss([e.query for e in batch], [e.passages for e in batch],
                               [list(e.silver or ()) for e in batch], first_targets=first)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(bridge.trainable_parameters()),
                                           config.max_grad_norm)
            optimizer.step()
            state["losses"].append(round(loss.item(), 5))
            report(progress, f"SL epoch {epoch}", step, steps, f"loss {loss.item():.3f}")
        state["seconds_per_epoch"].append(round(time.perf_counter() - started, 1))
        state["epoch"] = epoch
        if dev:
            dev_report = evaluate_bridge(bridge, dev, judge)
            state["dev"].append({"epoch": epoch, **asdict(dev_report)})
        checkpoints.save(out, epoch, state, bridge.save_pretrained, {"optimizer": optimizer})
        if not dev or _best_epoch(state) == epoch:
            save_folder(out / "model", bridge.save_pretrained)
        if on_epoch and dev:
            on_epoch(state["dev"][-1])
    state["best_epoch"] = _best_epoch(state) if dev else state["epoch"]
    write_json(out / "history.json", state)
    return state
