"""The RL stage: optimise the bridge for the frozen LLM's downstream metric — one plain loop.

Policy = the bridge (started from the SL model); action = the whole id sequence, sampled with
constrained decoding; environment = the candidates + the frozen LLM behind the cache; reward =
`metric_weight` x the task metric of the LLM's output (scaled to 0..1) + `likelihood_weight`
x the likelihood gain (the reference's mean log-probability with the sequence minus with no
passage), minus `passage_cost` per passage, minus `kl_coef` x the sampled sequence's
log-ratio to the frozen SL reference (KL in reward).

Two ways to get advantages, the same clipped-ratio update for both:
- `ppo`: a value head (one linear layer over the bridge's input features, `Bridge.
  input_features`) predicts each query's return; advantage = return - value, whitened.
- `rloo`: critic-free; `samples_per_query` sequences per query, each one's baseline is the
  mean return of the others in its group (REINFORCE leave-one-out, as in RLOO/GRPO); the
  baseline centres each group, and `normalize_rewards` divides by the standard deviation of
  the whole rollout's advantages, not each group's (GRPO's per-group division would blow up
  a group whose samples differ by a hair, e.g. two near-equal likelihood gains).

Each iteration samples one rollout batch, scores it through the LLM, then runs `ppo_epochs`
passes of minibatch updates with the clipped ratio per token. Every `checkpoint_every`
iterations the policy, value head, optimizer and history are written atomically to
`OUT/checkpoint-N/`; a rerun resumes from the newest (rollout order and sampling seeds depend
only on the seed and the iteration). The best greedy dev metric is kept as `OUT/model/`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ragbridge.bridge import checkpoints
from ragbridge.bridge.data import BridgeExample, examples_digest
from ragbridge.bridge.model import Bridge
from ragbridge.bridge.sl import evaluate_bridge
from ragbridge.fingerprint import weights_digest
from ragbridge.folders import save_folder
from ragbridge.jsonl import write_json
from ragbridge.judge import Judge
from ragbridge.progress import ProgressCallback, report


@dataclass(frozen=True)
class RLConfig:
    """Every knob of the RL stage, named once."""

    algorithm: str = field(default="ppo", metadata={
        "help": "ppo (value head) | rloo (critic-free)"})
    iterations: int = field(default=30, metadata={"help": "Rollout + update iterations"})
    rollout_queries: int = field(default=16, metadata={"help": "Queries per rollout"})
    samples_per_query: int = field(default=1, metadata={
        "help": "Sequences sampled per query (rloo: the group size, >= 2)"})
    ppo_epochs: int = field(default=4, metadata={"help": "Update passes per rollout"})
    minibatch_size: int = field(default=8, metadata={"help": "Sequences per update step"})
    learning_rate: float = field(default=2e-5, metadata={"help": "Policy learning rate"})
    value_learning_rate: float = field(default=1e-3, metadata={
        "help": "Value head learning rate (ppo)"})
    clip_range: float = field(default=0.2, metadata={"help": "PPO ratio clip range"})
    kl_coef: float = field(default=0.05, metadata={"help": "KL-to-start penalty in the reward"})
    entropy_coef: float = field(default=0.0, metadata={
        "help": "Entropy bonus in the reward: this x the sampled sequence's negative "
                "log-probability (keeps a peaked start exploring)"})
    passage_cost: float = field(default=0.0, metadata={
        "help": "Reward subtracted per passage (0..1 scale): trade tokens for quality"})
    metric_weight: float = field(default=1.0, metadata={
        "help": "Reward weight of the task metric (scaled to 0..1)"})
    likelihood_weight: float = field(default=0.0, metadata={
        "help": "Reward weight of the likelihood gain: the reference's mean log-probability "
                "with the sequence minus with no passage"})
    normalize_rewards: bool = field(default=True, metadata={
        "help": "Whiten advantages over the rollout (ppo: centre and scale; rloo: scale, "
                "the leave-one-out baseline centres each group)",
        "negative": "raw-rewards"})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature"})
    train_encoder: bool = field(default=False, metadata={
        "help": "Also update the encoder (default: only the pointer decoder learns, and every "
                "pair encoding is computed once and reused)"})
    metric: str | None = field(default=None, metadata={
        "help": "Reward metric (default: the task's primary one)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm"})
    eval_every: int = field(default=10, metadata={"help": "Dev evaluation every N iterations"})
    checkpoint_every: int = field(default=5, metadata={"help": "Checkpoint every N iterations"})
    seed: int = field(default=0, metadata={"help": "Seed"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})

    def __post_init__(self) -> None:
        if self.algorithm not in ("ppo", "rloo"):
            raise ValueError(f"algorithm must be 'ppo' or 'rloo', not {self.algorithm!r}")
        if self.algorithm == "rloo" and self.samples_per_query < 2:
            raise ValueError("rloo needs samples_per_query >= 2 (a group to compare against)")


@dataclass
class Rollout:
    """One batch of sampled sequences with everything the update needs."""

    examples: list[BridgeExample]
    positions: list[list[int]]
    metric: torch.Tensor  # raw task metric of each sequence, 0..100
    returns: torch.Tensor  # shaped reward: metric/100 - costs - KL + entropy bonus
    old_logprobs: torch.Tensor  # [batch, steps]
    mask: torch.Tensor
    kl: torch.Tensor  # per sequence: sum of log pi_old - log pi_ref
    advantages: torch.Tensor
    features: torch.Tensor | None


class ValueHead(torch.nn.Module):
    """Predicts the expected return of a query from the bridge's input features."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(hidden, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[batch, hidden] -> [batch]."""
        return self.linear(features).squeeze(-1)


def _rollout_examples(train: Sequence[BridgeExample], config: RLConfig,
                      iteration: int) -> list[BridgeExample]:
    """The queries of `iteration`: consecutive slices of seeded shuffles of the train set."""
    per_pass = max(len(train) // config.rollout_queries, 1)
    epoch, slot = divmod(iteration - 1, per_pass)
    order = list(range(len(train)))
    random.Random(config.seed * 7919 + epoch).shuffle(order)
    picked = order[slot * config.rollout_queries:(slot + 1) * config.rollout_queries]
    return [train[i] for i in picked]


def _sequence_logprobs(bridge: Bridge, examples: Sequence[BridgeExample],
                       positions: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    return bridge.sequence_logprobs([e.query for e in examples],
                                    [e.passages for e in examples], positions)


def rewards_of(judge: Judge, items: Sequence[Any], positions: Sequence[Sequence[int]],
               config: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The task metric (0-100) of each sequence and its likelihood gain over the empty
    prompt (0 when the likelihood is not part of the reward), from batched, cached calls."""
    wants_metric = config.metric_weight != 0 or config.likelihood_weight == 0
    wants_likelihood = config.likelihood_weight != 0
    judged = judge.judge_positions(items, positions, generate=wants_metric,
                                   likelihood=wants_likelihood)
    metric = torch.tensor([judge.metric_of(j) if wants_metric else 0.0 for j in judged])
    gain = torch.zeros(len(judged))
    if wants_likelihood:
        empty = judge.judge_positions(items, [[] for _ in items], generate=False,
                                      likelihood=True)
        gain = torch.tensor([j.likelihood.mean - e.likelihood.mean  # type: ignore[union-attr]
                             for j, e in zip(judged, empty, strict=True)])
    return metric, gain


def collect_rollout(policy: Bridge, reference: Bridge, value_head: ValueHead | None,
                    examples: list[BridgeExample], judge: Judge, config: RLConfig) -> Rollout:
    """Sample sequences, score them through the LLM, compute returns and advantages."""
    group = config.samples_per_query
    repeated = [e for e in examples for _ in range(group)]
    positions = policy.generate([e.query for e in repeated], [e.passages for e in repeated],
                                sample=True, temperature=config.temperature)
    metric, gain = rewards_of(judge, [e.item for e in repeated], positions, config)
    with torch.no_grad():
        old, mask = _sequence_logprobs(policy, repeated, positions)
        ref, _ = _sequence_logprobs(reference, repeated, positions)
    kl = ((old - ref) * mask).sum(1)
    surprise = -(old * mask).sum(1)  # a one-sample estimate of the sequence entropy
    lengths = torch.tensor([float(len(p)) for p in positions])
    returns = (config.metric_weight * metric / 100.0 + config.likelihood_weight * gain
               - config.passage_cost * lengths - config.kl_coef * kl
               + config.entropy_coef * surprise)
    features = None
    if config.algorithm == "rloo":
        grouped = returns.view(-1, group)
        baseline = (grouped.sum(1, keepdim=True) - grouped) / (group - 1)
        advantages = (grouped - baseline).reshape(-1)
        if config.normalize_rewards and len(advantages) > 1 and advantages.std() > 1e-8:
            advantages = advantages / advantages.std()
    else:
        features = policy.input_features([e.query for e in repeated],
                                         [e.passages for e in repeated]).float()
        with torch.no_grad():
            values = value_head(features) if value_head is not None else torch.zeros_like(
                returns)
        advantages = returns - values
        if config.normalize_rewards and len(advantages) > 1 and advantages.std() > 1e-8:
            advantages = (advantages - advantages.mean()) / advantages.std()
    return Rollout(repeated, positions, metric, returns, old, mask, kl, advantages, features)


def ppo_update(policy: Bridge, value_head: ValueHead | None, rollout: Rollout,
               optimizer: torch.optim.Optimizer, value_optimizer: torch.optim.Optimizer | None,
               config: RLConfig, generator: random.Random) -> dict[str, float]:
    """`ppo_epochs` passes of clipped-ratio minibatch updates on one rollout.

    Dropout stays off (eval mode) so that the ratio to the sampling policy starts at 1.
    """
    policy.model.eval()
    clipped, losses, value_losses = [], [], []
    size = len(rollout.examples)
    for _ in range(config.ppo_epochs):
        order = list(range(size))
        generator.shuffle(order)
        for start in range(0, size, config.minibatch_size):
            rows = order[start:start + config.minibatch_size]
            examples = [rollout.examples[i] for i in rows]
            new, mask = _sequence_logprobs(policy, examples,
                                           [rollout.positions[i] for i in rows])
            old = rollout.old_logprobs[rows][:, :new.shape[1]]
            ratio = torch.exp((new - old).masked_fill(~mask, 0.0))
            advantage = rollout.advantages[rows].unsqueeze(1)
            objective = torch.minimum(
                ratio * advantage,
                ratio.clamp(1 - config.clip_range, 1 + config.clip_range) * advantage)
            loss = -(objective * mask).sum() / mask.sum().clamp(min=1)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in policy.trainable_parameters()
                                            if p.requires_grad], config.max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
            outside = ((ratio - 1).abs() > config.clip_range) & mask
            clipped.append(outside.sum().item() / max(mask.sum().item(), 1))
            if value_head is not None and value_optimizer is not None:
                assert rollout.features is not None
                predicted = value_head(rollout.features[rows])
                value_loss = torch.nn.functional.mse_loss(predicted, rollout.returns[rows])
                value_optimizer.zero_grad()
                value_loss.backward()
                value_optimizer.step()
                value_losses.append(value_loss.item())
    mean = lambda values: sum(values) / len(values) if values else 0.0  # noqa: E731
    return {"policy_loss": mean(losses), "clip_fraction": mean(clipped),
            "value_loss": mean(value_losses)}


def rollout_stats(rollout: Rollout) -> dict[str, float]:
    """Mean reward, KL, entropy estimate, length, share of empty and repeated sequences."""
    count = max(len(rollout.positions), 1)
    entropy = -(rollout.old_logprobs * rollout.mask).sum(1).mean().item()
    return {"reward": rollout.metric.mean().item(), "return": rollout.returns.mean().item(),
            "kl": rollout.kl.mean().item(), "entropy": entropy,
            "mean_length": sum(len(p) for p in rollout.positions) / count,
            "empty_share": 100.0 * sum(not p for p in rollout.positions) / count,
            "repeated_share": 100.0 * sum(len(set(p)) < len(p) for p in rollout.positions)
            / count}


def train_rl(train: Sequence[BridgeExample], dev: Sequence[BridgeExample], judge: Judge,
             start: Path | Bridge, config: RLConfig, out: Path,
             on_step: Callable[[dict[str, Any]], None] | None = None,
             progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train (or resume) the bridge with PPO or RLOO from `start`; return the history.

    `start` is the SL bridge folder (also the frozen KL reference) or, for an RL-only run, a
    fresh `Bridge` that serves as both start and reference. Rewards come from `judge`, whose
    metric is the reward metric.
    """
    out.mkdir(parents=True, exist_ok=True)
    if not train:
        raise ValueError("no training queries for the RL stage")
    llm = judge.llm

    def fresh_reference() -> Bridge:
        if isinstance(start, Bridge):
            reference = start.clone()
        else:
            reference = Bridge.from_pretrained(start, device=config.device)
        reference.model.eval().requires_grad_(False)
        return reference

    reference = fresh_reference()
    if not config.train_encoder:
        reference.freeze_encoder()
    # what a resume must share: the start (the KL reference is rebuilt from it) and the data
    origin = {"start": weights_digest(reference.model), "data": examples_digest(train)}
    checkpoint, state = checkpoints.resume(
        out, asdict(config), asdict(RLConfig()), "iterations", origin,
        {"start": "from another start bridge (its KL reference)",
         "data": "on other training queries or candidates"})
    if checkpoint and state:
        policy = Bridge.from_pretrained(checkpoint / "policy", device=config.device)
    else:
        policy = fresh_reference()
        policy.model.requires_grad_(True)
        state = {"config": asdict(config), **origin, "iteration": 0, "steps": [], "dev": [],
                 "llm_calls": 0, "cache_hits": 0, "seconds": 0.0}
    # without dev queries there is nothing to select on: the last iteration is the model
    state["selection"] = "best dev iteration" if dev else "last iteration (no dev queries)"
    if not config.train_encoder:
        policy.freeze_encoder()
    value_head = None
    value_optimizer = None
    if config.algorithm == "ppo":
        hidden = policy.input_features([train[0].query], [train[0].passages]).shape[-1]
        value_head = ValueHead(hidden)
        value_optimizer = torch.optim.Adam(value_head.parameters(),
                                           lr=config.value_learning_rate)
    optimizer = torch.optim.AdamW([p for p in policy.trainable_parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    tensors: dict[str, Any] = {"optimizer": optimizer}
    if value_head is not None and value_optimizer is not None:
        tensors.update(value_head=value_head, value_optimizer=value_optimizer)
    if checkpoint:
        checkpoints.load_tensors(checkpoint, tensors)

    def evaluate(iteration: int) -> None:
        dev_report = evaluate_bridge(policy, dev, judge)
        state["dev"].append({"iteration": iteration, **asdict(dev_report)})
        best = max(state["dev"], key=lambda d: (d["metric"], -d["iteration"]))
        if best["iteration"] == iteration:
            save_folder(out / "model", policy.save_pretrained)

    def save(iteration: int) -> None:
        checkpoints.save(out, iteration, state,
                         lambda folder: policy.save_pretrained(folder / "policy"), tensors)

    if state["iteration"] == 0 and dev:
        evaluate(0)
    for iteration in range(state["iteration"] + 1, config.iterations + 1):
        started = time.perf_counter()
        torch.manual_seed(config.seed * 100_003 + iteration)
        calls, hits = llm.stats.calls, llm.stats.hits
        rollout = collect_rollout(policy, reference, value_head,
                                  _rollout_examples(train, config, iteration), judge, config)
        update = ppo_update(policy, value_head, rollout, optimizer, value_optimizer, config,
                            random.Random(config.seed * 31 + iteration))
        state["llm_calls"] += llm.stats.calls - calls
        state["cache_hits"] += llm.stats.hits - hits
        state["seconds"] += time.perf_counter() - started
        step = {"iteration": iteration, **rollout_stats(rollout), **update,
                "llm_calls": state["llm_calls"], "seconds": round(state["seconds"], 1)}
        state["steps"].append(step)
        state["iteration"] = iteration
        if dev and (iteration % config.eval_every == 0 or iteration == config.iterations):
            evaluate(iteration)
        if not dev and iteration == config.iterations:
            save_folder(out / "model", policy.save_pretrained)
        if iteration % config.checkpoint_every == 0 or iteration == config.iterations:
            save(iteration)
        report(progress, f"RL {config.algorithm}", iteration, config.iterations,
               f"reward {step['reward']:.1f} · KL {step['kl']:.3f}")
        if on_step:
            on_step(step)
    if not (out / "model").exists():  # (a run resumed after its last iteration)
        save_folder(out / "model", policy.save_pretrained)
    write_json(out / "history.json", state)
    return state
