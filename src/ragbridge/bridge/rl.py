"""The RL stage: optimise the bridge for the frozen LLM's downstream metric — one plain loop.

Policy = the bridge (started from the SL model); action = the whole id sequence, sampled with
constrained decoding; environment = the candidates + the frozen LLM behind the cache; reward =
the task metric of the LLM's output (scaled to 0..1), minus an optional cost per passage,
minus `kl_coef` x the sampled sequence's log-ratio to the frozen SL reference (KL in reward).

Two ways to get advantages, the same clipped-ratio update for both:
- `ppo`: a value head (one linear layer over the bridge's input features, `Bridge.
  input_features`) predicts each query's return; advantage = return - value, whitened.
- `rloo`: critic-free; `samples_per_query` sequences per query, each one's baseline is the
  mean return of the others in its group (REINFORCE leave-one-out, as in RLOO/GRPO).

Each iteration samples one rollout batch, scores it through the LLM, then runs `ppo_epochs`
passes of minibatch updates with the clipped ratio per token. Every `checkpoint_every`
iterations the policy, value head, optimizer and history are written atomically to
`OUT/checkpoint-N/`; a rerun resumes from the newest (rollout order and sampling seeds depend
only on the seed and the iteration). The best greedy dev metric is kept as `OUT/model/`.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragbridge.bridge.data import BridgeExample
from ragbridge.bridge.model import Bridge
from ragbridge.bridge.sl import evaluate_bridge
from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM
from ragbridge.tasks import Task


@dataclass(frozen=True)
class RLConfig:
    """Every knob of the RL stage, named once."""

    algorithm: str = "ppo"  # ppo | rloo
    iterations: int = 30
    rollout_queries: int = 16
    samples_per_query: int = 1  # rloo needs >= 2
    ppo_epochs: int = 4
    minibatch_size: int = 8
    learning_rate: float = 2e-5
    value_learning_rate: float = 1e-3
    clip_range: float = 0.2
    kl_coef: float = 0.05
    passage_cost: float = 0.0  # subtracted per passage, in reward units (0..1)
    temperature: float = 1.0
    metric: str | None = None  # None: the task's primary metric
    max_grad_norm: float = 1.0
    eval_every: int = 10
    checkpoint_every: int = 5
    seed: int = 0
    device: str = "cpu"

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
    returns: torch.Tensor  # shaped reward: metric/100 - costs - kl_coef * log-ratio
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


def reward_of(task: Task, llm: CachedLLM, examples: Sequence[BridgeExample],
              positions: Sequence[Sequence[int]], metric: str | None = None) -> list[float]:
    """The frozen LLM's task metric for each (example, passage sequence), one batched call."""
    prompts = [task.build_prompt(e.item.example, [e.passages[p] for p in chosen])
               for e, chosen in zip(examples, positions, strict=True)]
    outputs = llm.generate(prompts, task.generation)
    key = metric or task.primary_metric
    return [float(task.score(o, e.item.example)[key])
            for o, e in zip(outputs, examples, strict=True)]


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


def collect_rollout(policy: Bridge, reference: Bridge, value_head: ValueHead | None,
                    examples: list[BridgeExample], task: Task, llm: CachedLLM,
                    config: RLConfig) -> Rollout:
    """Sample sequences, score them through the LLM, compute returns and advantages."""
    group = config.samples_per_query
    repeated = [e for e in examples for _ in range(group)]
    positions = policy.generate([e.query for e in repeated], [e.passages for e in repeated],
                                sample=True, temperature=config.temperature)
    metric = torch.tensor(reward_of(task, llm, repeated, positions, config.metric))
    with torch.no_grad():
        old, mask = _sequence_logprobs(policy, repeated, positions)
        ref, _ = _sequence_logprobs(reference, repeated, positions)
    kl = ((old - ref) * mask).sum(1)
    lengths = torch.tensor([float(len(p)) for p in positions])
    returns = metric / 100.0 - config.passage_cost * lengths - config.kl_coef * kl
    features = None
    if config.algorithm == "rloo":
        grouped = returns.view(-1, group)
        baseline = (grouped.sum(1, keepdim=True) - grouped) / (group - 1)
        advantages = (grouped - baseline).reshape(-1)
    else:
        features = policy.input_features([e.query for e in repeated],
                                         [e.passages for e in repeated]).float()
        with torch.no_grad():
            values = value_head(features) if value_head is not None else torch.zeros_like(
                returns)
        advantages = returns - values
        if len(advantages) > 1 and advantages.std() > 1e-8:
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
            torch.nn.utils.clip_grad_norm_(policy.model.parameters(), config.max_grad_norm)
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


def plot_rl(history: dict[str, Any], path: Path, title: str) -> None:
    """Reward, KL, entropy and sequence length per iteration, and the dev metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = history["steps"]
    figure, axes = plt.subplots(1, 5, figsize=(17, 3.2))
    panels = (("reward", "rollout metric"), ("kl", "KL to SL"), ("entropy", "entropy (est.)"),
              ("mean_length", "passages"))
    for axis, (key, label) in zip(axes, panels, strict=False):
        axis.plot([s["iteration"] for s in steps], [s[key] for s in steps], linewidth=0.9)
        axis.set(xlabel="iteration", title=label)
    axes[4].plot([d["iteration"] for d in history["dev"]], [d["metric"] for d in history["dev"]],
                 marker="o")
    axes[4].set(xlabel="iteration", title="dev metric (greedy)")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _latest_checkpoint(out: Path) -> Path | None:
    done = sorted((p for p in out.glob("checkpoint-*") if (p / "state.json").exists()),
                  key=lambda p: int(p.name.split("-")[1]))
    return done[-1] if done else None


def _save_folder(folder: Path, write: Callable[[Path], None]) -> None:
    partial = folder.with_name(f".{folder.name}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def train_rl(train: Sequence[BridgeExample], dev: Sequence[BridgeExample], task: Task,
             llm: CachedLLM, start: Path | Bridge, config: RLConfig, out: Path,
             on_step: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train (or resume) the bridge with PPO or RLOO from `start`; return the history.

    `start` is the SL bridge folder (also the frozen KL reference) or, for an RL-only run, a
    fresh `Bridge` that serves as both start and reference.
    """
    out.mkdir(parents=True, exist_ok=True)
    if not train:
        raise ValueError("no training queries for the RL stage")

    def fresh_reference() -> Bridge:
        if isinstance(start, Bridge):
            reference = Bridge(_clone(start.model), start.tokenizer, start.format, start.kind,
                               start.family, config.device)
        else:
            reference = Bridge.from_pretrained(start, device=config.device)
        reference.model.eval().requires_grad_(False)
        return reference

    reference = fresh_reference()
    checkpoint = _latest_checkpoint(out)
    if checkpoint:
        state = json.loads((checkpoint / "state.json").read_text())
        earlier = {**state["config"], "iterations": config.iterations}
        if earlier != asdict(config):
            raise ValueError(f"{checkpoint} was trained with other settings; move {out} away "
                             "or use the same settings to resume")
        state["config"] = asdict(config)
        policy = Bridge.from_pretrained(checkpoint / "policy", device=config.device)
    else:
        policy = fresh_reference()
        policy.model.requires_grad_(True)
        state = {"config": asdict(config), "iteration": 0, "steps": [], "dev": [],
                 "llm_calls": 0, "cache_hits": 0, "seconds": 0.0}
    value_head = None
    value_optimizer = None
    if config.algorithm == "ppo":
        hidden = policy.input_features([train[0].query], [train[0].passages]).shape[-1]
        value_head = ValueHead(hidden)
        value_optimizer = torch.optim.Adam(value_head.parameters(),
                                           lr=config.value_learning_rate)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=config.learning_rate)
    if checkpoint:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt"))
        if value_head is not None and value_optimizer is not None:
            value_head.load_state_dict(torch.load(checkpoint / "value_head.pt"))
            value_optimizer.load_state_dict(torch.load(checkpoint / "value_optimizer.pt"))

    def evaluate(iteration: int) -> None:
        report = evaluate_bridge(policy, dev, task, llm)
        state["dev"].append({"iteration": iteration, **asdict(report)})
        best = max(state["dev"], key=lambda d: (d["metric"], -d["iteration"]))
        if best["iteration"] == iteration:
            _save_folder(out / "model", policy.save_pretrained)

    def save(iteration: int) -> None:
        def write(folder: Path) -> None:
            policy.save_pretrained(folder / "policy")
            torch.save(optimizer.state_dict(), folder / "optimizer.pt")
            if value_head is not None and value_optimizer is not None:
                torch.save(value_head.state_dict(), folder / "value_head.pt")
                torch.save(value_optimizer.state_dict(), folder / "value_optimizer.pt")
            write_json(folder / "state.json", state)

        _save_folder(out / f"checkpoint-{iteration}", write)
        for older in out.glob("checkpoint-*"):
            if older.name != f"checkpoint-{iteration}":
                shutil.rmtree(older, ignore_errors=True)

    if state["iteration"] == 0 and dev:
        evaluate(0)
    columns = (TextColumn("[bold]RL {task.fields[algorithm]}[/bold]"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("reward {task.fields[reward]} · KL {task.fields[kl]}"))
    with Progress(*columns) as progress:
        bar = progress.add_task("rl", total=config.iterations, completed=state["iteration"],
                                algorithm=config.algorithm, reward="-", kl="-")
        for iteration in range(state["iteration"] + 1, config.iterations + 1):
            started = time.perf_counter()
            torch.manual_seed(config.seed * 100_003 + iteration)
            calls, hits = llm.stats.calls, llm.stats.hits
            rollout = collect_rollout(policy, reference, value_head,
                                      _rollout_examples(train, config, iteration), task, llm,
                                      config)
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
            if iteration % config.checkpoint_every == 0 or iteration == config.iterations:
                save(iteration)
            progress.update(bar, advance=1, reward=f"{step['reward']:.1f}",
                            kl=f"{step['kl']:.3f}")
            if on_step:
                on_step(step)
    write_json(out / "history.json", state)
    if state["steps"]:
        plot_rl(state, out / "training.png", f"RL ({config.algorithm})")
    return state


def _clone(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model)
