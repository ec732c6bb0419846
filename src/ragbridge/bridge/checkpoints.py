"""Checkpoints of the SL and RL trainers: `OUT/checkpoint-N/` written aside and swapped in
(older ones pruned), and a resume that refuses a checkpoint made with other settings or from
other inputs, naming what changed.

A checkpoint folder holds the trainer's own files (the bridge's weights, optimizers as
`NAME.pt`) and `state.json`: the settings (`config`), digests of what it was trained from,
and the trainer's history so far.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ragbridge.folders import latest_checkpoint, prune_checkpoints, save_folder
from ragbridge.jsonl import write_json


def resume(out: Path, settings: dict[str, Any], defaults: dict[str, Any], grows: str,
           origin: Mapping[str, str], changed_origin: Mapping[str, str]
           ) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest checkpoint under `out` and its state (None, None: start afresh).

    `settings` must equal the checkpoint's (a setting added since counts at its value in
    `defaults`), except `grows` (more epochs or iterations may be asked for); each digest in
    `origin` must equal the one recorded (a checkpoint older than the digest is unchecked).
    `changed_origin` says in words what a differing digest means. The state returned carries
    the current settings and digests.
    """
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        return None, None
    state = json.loads((checkpoint / "state.json").read_text())
    earlier = {**defaults, **state["config"], grows: settings[grows]}
    if earlier != settings:
        changed = sorted(key for key in settings if earlier.get(key) != settings[key])
        raise ValueError(f"{checkpoint} was trained with other settings ({', '.join(changed)}"
                         f"); move {out} away or use the same settings to resume")
    changed = [name for name in origin if state.get(name, origin[name]) != origin[name]]
    if changed:
        raise ValueError(f"{checkpoint} was trained "
                         f"{' and '.join(changed_origin[name] for name in changed)}; move "
                         f"{out} away, or resume with the same inputs")
    state.update(config=settings, **origin)
    return checkpoint, state


def save(out: Path, step: int, state: dict[str, Any], write: Callable[[Path], None],
         tensors: Mapping[str, Any]) -> Path:
    """Write `OUT/checkpoint-STEP/` (the trainer's `write`, each of `tensors`' state dicts as
    `NAME.pt`, and `state.json`) atomically, and prune the older ones."""
    def write_all(folder: Path) -> None:
        write(folder)
        for name, holder in tensors.items():
            torch.save(holder.state_dict(), folder / f"{name}.pt")
        write_json(folder / "state.json", state)

    final = save_folder(out / f"checkpoint-{step}", write_all)
    prune_checkpoints(out, keep=final)
    return final


def load_tensors(checkpoint: Path, tensors: Mapping[str, Any]) -> None:
    """Load each of `tensors` (optimizers, heads) from its `NAME.pt` in the checkpoint."""
    for name, holder in tensors.items():
        holder.load_state_dict(torch.load(checkpoint / f"{name}.pt"))
