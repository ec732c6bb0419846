"""`ragbridge fit`'s cost estimate against what it then asks, on a bundled data set.

Runs `fit --dataset NAME` in-process on its own empty LLM cache (so that every request the
stages make reaches the LLM and is counted), with a recorder between the response cache and
the backend that notes each generated prompt under the stage running at the time. Prints,
per `fit` stage, the estimate printed before the first call (generations and prompt tokens,
at least - at most) beside the generations and prompt tokens really sent, and writes
results.json, table.md and estimate.png to --out. A stage outside its estimate's range is
flagged.

    python benchmarks/fit_estimate.py --dataset email-subject --train-n 12 --dev-n 6 \\
        --test-n 12 --sl-epochs 1 --rl-iterations 2 --out benchmarks/results/fit_estimate

Rerunning the same command resumes the fit (the run, its cache and the request log are in
--work) and reports the same counts: the first estimate and every request are kept.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ragbridge.fit import FitConfig, fit
from ragbridge.jsonl import write_json
from ragbridge.judge import Judge
from ragbridge.llms import load_llm
from ragbridge.progress import ProgressUpdate
from ragbridge.rundir import RunDir


class Recorder:
    """The backend, appending every prompt it generates for (and every reference it scores)
    to a JSONL log under the `fit` stage running at the time (the log survives a crash, so
    a rerun that resumes the fit adds to the same counts)."""

    def __init__(self, backend: Any, log: Path) -> None:
        self.backend, self.log = backend, log
        self.stage = "calibration"  # what the estimate times before the first stage

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def _note(self, kind: str, prompts: list[str]) -> None:
        with self.log.open("a", encoding="utf-8") as handle:
            for prompt in prompts:
                handle.write(json.dumps({"stage": self.stage, "kind": kind,
                                         "prompt": prompt}) + "\n")

    def generate(self, prompts: list[str], settings: Any) -> list[str]:
        outputs = self.backend.generate(prompts, settings)
        self._note("generation", list(prompts))
        return outputs

    def score(self, prompts: list[str], references: list[str]) -> Any:
        values = self.backend.score(prompts, references)
        self._note("likelihood", list(prompts))
        return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="email-subject")
    parser.add_argument("--llm", default="smollm2-fp32")
    parser.add_argument("--train-n", type=int, default=12)
    parser.add_argument("--dev-n", type=int, default=6)
    parser.add_argument("--test-n", type=int, default=12)
    parser.add_argument("--sl-epochs", type=int, default=1)
    parser.add_argument("--rl-iterations", type=int, default=2)
    parser.add_argument("--chain", default="sl+rl")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fit_estimate"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/fit-estimate-work"),
                        help="The run directory, its own LLM cache and the request log")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    config = FitConfig(dataset=args.dataset, train_n=args.train_n, dev_n=args.dev_n,
                       test_n=args.test_n, sl_epochs=args.sl_epochs,
                       rl_iterations=args.rl_iterations, chain=args.chain)
    llm = load_llm(args.llm, cache_path=work / "llm-cache.sqlite")
    recorder = Recorder(llm.llm, work / "sent.jsonl")
    llm.llm = recorder
    first_estimate = work / "estimate-first.json"

    def on_estimate(estimate: Any) -> None:
        print("\n".join(estimate.lines()), flush=True)
        if not first_estimate.exists():  # a resumed fit estimates only what is left
            write_json(first_estimate, estimate.to_dict())

    def on_progress(update: ProgressUpdate) -> None:
        if update.label == "fit" and update.info != recorder.stage:  # a stage starts
            recorder.stage = update.info
            print(f"[{time.strftime('%H:%M:%S')}] {update.info}", flush=True)

    started = time.perf_counter()
    fit(work / "run", config, llm, progress=on_progress, on_estimate=on_estimate)
    seconds = round(time.perf_counter() - started, 1)
    judge = Judge(RunDir(work / "run").task(), llm)
    sent: dict[str, dict[str, int]] = defaultdict(lambda: {"generations": 0,
                                                            "prompt_tokens": 0,
                                                            "likelihoods": 0})
    for line in (work / "sent.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        counts = sent[record["stage"]]
        if record["kind"] == "generation":
            counts["generations"] += 1
            counts["prompt_tokens"] += judge.prompt_tokens(record["prompt"])
        else:
            counts["likelihoods"] += 1
    estimate = json.loads(first_estimate.read_text())
    _write(args, _rows(estimate, sent), estimate, dict(sent), seconds)


def _rows(estimate: dict[str, Any], sent: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per fit stage: the estimate's sums over its parts and what was sent."""
    merged: dict[str, dict[str, int]] = {}
    for part in estimate["stages"]:
        row = merged.setdefault(part["fit_stage"], {"generations_min": 0, "generations_max": 0,
                                                    "prompt_tokens_min": 0,
                                                    "prompt_tokens_max": 0})
        for key in row:
            row[key] += part[key]
    rows = []
    for stage, row in merged.items():
        real = sent.get(stage, {"generations": 0, "prompt_tokens": 0})
        inside = (row["generations_min"] <= real["generations"] <= row["generations_max"]
                  and row["prompt_tokens_min"] <= real["prompt_tokens"]
                  <= row["prompt_tokens_max"])
        rows.append({"stage": stage, **row, "generations_sent": real["generations"],
                     "prompt_tokens_sent": real["prompt_tokens"], "inside": inside})
    return rows


def _write(args: argparse.Namespace, rows: list[dict[str, Any]], estimate: dict[str, Any],
           sent: dict[str, Any], seconds: float) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    calibration = sent.get("calibration", {}).get("generations", 0)
    total = {key: sum(r[key] for r in rows) for key in rows[0] if key not in ("stage",
                                                                             "inside")}
    head = (f"fit --dataset {args.dataset} --llm {args.llm} --train-n {args.train_n} "
            f"--dev-n {args.dev_n} --test-n {args.test_n} --sl-epochs {args.sl_epochs} "
            f"--rl-iterations {args.rl_iterations} --chain {args.chain}; empty LLM cache; "
            f"{estimate['seconds_per_request']:.2f} s a request calibrated")
    lines = [head, "", "| stage | generations: estimate | sent | prompt tokens: estimate | "
             "sent | inside |", "|---|---:|---:|---:|---:|---|"]
    for r in [*rows, {"stage": "total", **total, "inside": all(r["inside"] for r in rows)}]:
        lines.append(f"| {r['stage']} | {r['generations_min']}-{r['generations_max']} | "
                     f"{r['generations_sent']} | {r['prompt_tokens_min']}-"
                     f"{r['prompt_tokens_max']} | {r['prompt_tokens_sent']} | "
                     f"{'yes' if r['inside'] else 'NO'} |")
    lines.append("")
    lines.append(f"calibration prompts (sent before the estimate, counted in no stage): "
                 f"{calibration}; estimated time "
                 f"{estimate['totals'].get('seconds_min', 0) / 60:.0f}-"
                 f"{estimate['totals'].get('seconds_max', 0) / 60:.0f} min, fit took "
                 f"{seconds / 60:.0f} min in this invocation")
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    write_json(args.out / "results.json", {"rows": rows, "estimate": estimate, "sent": sent,
                                           "command": head})
    _plot(rows, args.out / "estimate.png")


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axis = plt.subplots(figsize=(8, 4))
    names = [r["stage"] for r in rows]
    for i, r in enumerate(rows):
        axis.plot([i, i], [r["generations_min"], r["generations_max"]], color="tab:blue",
                  linewidth=6, alpha=0.4, label="estimate (min-max)" if i == 0 else None)
        axis.scatter([i], [r["generations_sent"]], color="tab:red", zorder=3,
                     label="sent" if i == 0 else None)
    axis.set_xticks(range(len(names)), names, rotation=20)
    axis.set_ylabel("LLM generations")
    axis.set_title("fit: the estimate before the first call, and what was sent")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
