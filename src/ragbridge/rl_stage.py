"""Glue for `ragbridge train-rl`: examples from a run directory, the start bridge, the record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragbridge.bridge.data import load_bridge_examples
from ragbridge.bridge.rl import RLConfig, train_rl
from ragbridge.llms import load_llm
from ragbridge.rundir import RunDir
from ragbridge.tasks import get_task


def run_rl(run: Path, start: str, config: RLConfig, out: Path, llm_spec: str,
           dev_limit: int | None = 100, train_limit: int | None = None,
           on_step: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """RL from an SL bridge folder, or from a fresh bridge of a family (RL-only)."""
    from ragbridge.bridge import Bridge, build_bridge
    from ragbridge.bridge.sl import SLConfig

    run_dir = RunDir(run)
    task = get_task(run_dir.config().get("retrieve", {}).get("task", "qa"))
    begin: Path | Bridge
    if Path(start).is_dir():
        begin = Path(start)
        k = Bridge.from_pretrained(begin).format.k
    elif Path(start).suffix or "/" in start:
        raise FileNotFoundError(f"{start} is not a bridge folder: train one with "
                                "`ragbridge train-sl` or name a family for RL-only")
    else:
        fmt = SLConfig().bridge_format()
        begin, k = build_bridge(start, fmt, config.device, config.seed), fmt.k
    train = load_bridge_examples(run_dir, "train", k, train_limit, need_silver=False)
    dev = load_bridge_examples(run_dir, "dev", k, dev_limit, need_silver=False)
    history = train_rl(train, dev, task, load_llm(llm_spec), begin, config, out, on_step)
    best = max(history["dev"], key=lambda d: d["metric"]) if history["dev"] else {}
    run_dir.record(f"train-rl:{out.name}", {**history["config"], "start": start,
                                            "train": len(train), "dev": len(dev),
                                            "best_dev": best, "llm_calls": history["llm_calls"],
                                            "seconds": round(history["seconds"], 1)})
    return history
