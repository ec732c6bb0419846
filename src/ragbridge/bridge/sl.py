"""The SL stage: fine-tune a bridge on silver sequences — one plain PyTorch loop.

Each epoch: shuffled mini-batches of (query, candidates) -> silver ids, AdamW, then a dev
evaluation (sequence exact match with the dev silver, and the frozen LLM's task metric on
the passages the bridge chose, through the cached LLM) and a checkpoint
(`RUN/bridge-sl/checkpoint-N/`, written to a temporary folder and renamed, so a crash leaves
the previous one intact). A rerun resumes from the newest checkpoint and continues the same
run (the shuffling of epoch N depends only on the seed and N). The best epoch by the dev
metric is kept as `RUN/bridge-sl/model/`.
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

from ragbridge.bridge.build import build_bridge
from ragbridge.bridge.data import BridgeExample
from ragbridge.bridge.format import BridgeFormat
from ragbridge.bridge.model import Bridge
from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM
from ragbridge.tasks import Task


@dataclass(frozen=True)
class SLConfig:
    """Every knob of SL training, named once."""

    family: str = "minilm-encdec"
    epochs: int = 3
    batch_size: int = 8
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    k: int = 5
    passage_tokens: int = 64
    query_tokens: int = 96
    max_ids: int = 5
    seed: int = 0
    device: str = "cpu"

    def bridge_format(self) -> BridgeFormat:
        """The input/output format the bridge is trained with."""
        return BridgeFormat(self.k, self.passage_tokens, self.query_tokens, self.max_ids)


@dataclass
class DevReport:
    """The bridge on dev: sequence match with silver and the LLM's metric on its choices."""

    exact_match: float
    metric: float
    mean_passages: float
    seconds: float


def evaluate_bridge(bridge: Bridge, examples: Sequence[BridgeExample], task: Task,
                    llm: CachedLLM, batch_size: int = 16) -> DevReport:
    """Select for every example, prompt the frozen LLM with the choice, score its output."""
    started = time.perf_counter()
    chosen = bridge.generate([e.query for e in examples], [e.passages for e in examples],
                             batch_size=batch_size)
    prompts = [task.build_prompt(e.item.example, [e.passages[p] for p in positions])
               for e, positions in zip(examples, chosen, strict=True)]
    outputs = llm.generate(prompts, task.generation)
    scores = [task.score(o, e.item.example)[task.primary_metric]
              for o, e in zip(outputs, examples, strict=True)]
    with_silver = [(c, e.silver) for c, e in zip(chosen, examples, strict=True)
                   if e.silver is not None]
    count = max(len(examples), 1)
    return DevReport(
        exact_match=100.0 * sum(list(c) == list(s) for c, s in with_silver)
        / max(len(with_silver), 1),
        metric=sum(scores) / count, mean_passages=sum(len(c) for c in chosen) / count,
        seconds=time.perf_counter() - started)


def _latest_checkpoint(out: Path) -> Path | None:
    done = sorted((p for p in out.glob("checkpoint-*") if (p / "state.json").exists()),
                  key=lambda p: int(p.name.split("-")[1]))
    return done[-1] if done else None


def _save_checkpoint(out: Path, epoch: int, bridge: Bridge, optimizer: torch.optim.Optimizer,
                     state: dict[str, Any]) -> Path:
    final = out / f"checkpoint-{epoch}"
    partial = out / f".checkpoint-{epoch}.part"
    shutil.rmtree(partial, ignore_errors=True)
    bridge.save_pretrained(partial)
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    write_json(partial / "state.json", state)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return final


def plot_training(history: dict[str, Any], path: Path, title: str) -> None:
    """Training loss per step and the dev metric per epoch, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(history["losses"], linewidth=0.8)
    left.set(xlabel="step", ylabel="cross-entropy", title="SL training loss")
    epochs = [d["epoch"] for d in history["dev"]]
    right.plot(epochs, [d["metric"] for d in history["dev"]], marker="o", label="LLM metric")
    right.plot(epochs, [d["exact_match"] for d in history["dev"]], marker="s",
               label="sequence EM vs silver")
    right.set(xlabel="epoch", title="dev")
    right.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def train_sl(train: Sequence[BridgeExample], dev: Sequence[BridgeExample], task: Task,
             llm: CachedLLM, config: SLConfig, out: Path,
             on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a bridge on silver sequences; return the training history."""
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = _latest_checkpoint(out)
    if checkpoint:
        bridge = Bridge.from_pretrained(checkpoint, device=config.device)
        state = json.loads((checkpoint / "state.json").read_text())
        earlier = {**state["config"], "epochs": config.epochs}
        if earlier != asdict(config):  # more epochs may be asked for; nothing else may change
            raise ValueError(f"{checkpoint} was trained with other settings; move {out} away "
                             "or use the same settings to resume")
        state["config"] = asdict(config)
    else:
        bridge = build_bridge(config.family, config.bridge_format(), config.device, config.seed)
        state = {"config": asdict(config), "epoch": 0, "losses": [], "dev": [],
                 "seconds_per_epoch": []}
    optimizer = torch.optim.AdamW(bridge.model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    if checkpoint:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt"))
    steps = (len(train) + config.batch_size - 1) // config.batch_size
    columns = (TextColumn("[bold]SL epoch {task.fields[epoch]}[/bold]"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("loss {task.fields[loss]}"))
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        order = list(range(len(train)))
        random.Random(config.seed * 1000 + epoch).shuffle(order)
        torch.manual_seed(config.seed * 1000 + epoch)
        bridge.model.train()
        started = time.perf_counter()
        with Progress(*columns) as progress:
            bar = progress.add_task("sl", total=steps, epoch=epoch, loss="-")
            for start in range(0, len(order), config.batch_size):
                batch = [train[i] for i in order[start:start + config.batch_size]]
                loss = bridge.loss([e.query for e in batch], [e.passages for e in batch],
                                   [list(e.silver or ()) for e in batch])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(bridge.model.parameters(), config.max_grad_norm)
                optimizer.step()
                state["losses"].append(round(loss.item(), 5))
                progress.update(bar, advance=1, loss=f"{loss.item():.3f}")
        state["seconds_per_epoch"].append(round(time.perf_counter() - started, 1))
        report = evaluate_bridge(bridge, dev, task, llm)
        state["dev"].append({"epoch": epoch, **asdict(report)})
        state["epoch"] = epoch
        _save_checkpoint(out, epoch, bridge, optimizer, state)
        best = max(state["dev"], key=lambda d: (d["metric"], d["exact_match"]))
        if best["epoch"] == epoch:
            shutil.rmtree(out / "model.part", ignore_errors=True)
            bridge.save_pretrained(out / "model.part")
            shutil.rmtree(out / "model", ignore_errors=True)
            (out / "model.part").rename(out / "model")
        if on_epoch:
            on_epoch(state["dev"][-1])
    state["best_epoch"] = max(state["dev"], key=lambda d: (d["metric"], d["exact_match"]))[
        "epoch"] if state["dev"] else None
    write_json(out / "history.json", state)
    if state["dev"]:
        plot_training(state, out / "training.png", f"SL bridge ({config.family})")
    return state
