"""Does a faster LLM backend keep the task metric? nq-wiki dev, top-5 dense passages.

Accuracy (answer containment) and EM of each backend on the same prompts, and agreement of
its outputs with the fp32 transformers reference, all in one run:

    python benchmarks/llm_quality.py -n 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ragbridge.data import load_dataset
from ragbridge.llms import build_llm
from ragbridge.retrievers import build_retriever
from ragbridge.tasks import get_task

BACKENDS = {
    "transformers fp32 (reference)": ("smollm2", {"batch_size": 8}),
    "transformers bf16": ("smollm2", {"batch_size": 8, "dtype": "bfloat16"}),
    "llama.cpp Q4_1": ("llamacpp", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/llm_quality"))
    args = parser.parse_args()
    dataset = load_dataset("nq-wiki")
    examples = dataset.examples("dev")[:args.n]
    hits = build_retriever("dense", dataset.corpus()).retrieve(examples, 5)
    task = get_task("qa")
    prompts = [task.build_prompt(e, [h.passage for h in found])
               for e, found in zip(examples, hits, strict=True)]
    rows, reference = [], None
    for name, (spec, options) in BACKENDS.items():
        llm = build_llm(spec, **options)
        started = time.perf_counter()
        outputs = llm.generate(prompts, task.generation)
        seconds = time.perf_counter() - started
        reference = reference or outputs
        scores = [task.score(o, e) for o, e in zip(outputs, examples, strict=True)]
        rows.append({"backend": name, "seconds": seconds,
                     "accuracy": sum(s["accuracy"] for s in scores) / len(scores),
                     "em": sum(s["em"] for s in scores) / len(scores),
                     "same": sum(a == b for a, b in zip(outputs, reference, strict=True))})
        del llm
    lines = [f"{len(prompts)} nq-wiki dev questions, top-5 dense passages", "",
             "| backend | accuracy | EM | same outputs as reference | seconds | speed-up |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['backend']} | {row['accuracy']:.1f} | {row['em']:.1f} |"
                     f" {row['same']}/{len(prompts)} | {row['seconds']:.0f} |"
                     f" {rows[0]['seconds'] / row['seconds']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
