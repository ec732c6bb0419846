"""Does a faster LLM backend keep the task metric? Dev questions with their top-5 passages.

The task metric of each backend on the same prompts, agreement of its outputs with the fp32
transformers reference, and wall time against one-at-a-time fp32, all in one run:

    python experiments/llm_quality.py -n 200                          # nq-wiki, dense
    python experiments/llm_quality.py -n 200 --dataset email-subject  # BM25 in the sender's mail
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
    "transformers fp32, batch 1": ("smollm2", {"batch_size": 1, "dtype": "float32"}),
    "transformers fp32, batch 8": ("smollm2", {"batch_size": 8, "dtype": "float32"}),
    "transformers bf16, batch 8": ("smollm2", {"batch_size": 8, "dtype": "bfloat16"}),
    "llama.cpp Q4_1": ("llamacpp", {}),
}
RETRIEVER = {"nq-wiki": "dense", "email-subject": "bm25"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--dataset", default="nq-wiki", choices=sorted(RETRIEVER))
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS),
                        help="backend names; the first one is the reference")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/llm_quality"))
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    examples = dataset.examples("dev")[:args.n]
    hits = build_retriever(RETRIEVER[args.dataset], dataset.corpus()).retrieve(examples, 5)
    task = get_task(dataset.task)
    metric = task.primary_metric
    prompts = [task.build_prompt(e, [h.passage for h in found])
               for e, found in zip(examples, hits, strict=True)]
    rows, reference = [], None
    for name in args.backends:
        spec, options = BACKENDS[name]
        llm = build_llm(spec, **options)
        started = time.perf_counter()
        outputs = llm.generate(prompts, task.generation)
        seconds = time.perf_counter() - started
        reference = reference or outputs
        scores = [task.score(o, e) for o, e in zip(outputs, examples, strict=True)]
        rows.append({"backend": name, "seconds": seconds,
                     metric: sum(s[metric] for s in scores) / len(scores),
                     "same": sum(a == b for a, b in zip(outputs, reference, strict=True))})
        del llm
    lines = [f"{len(prompts)} {args.dataset} dev examples, top-5 {RETRIEVER[args.dataset]} "
             "passages", "",
             f"| backend | {metric} | same outputs as reference | seconds | speed-up |",
             "|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['backend']} | {row[metric]:.1f} |"
                     f" {row['same']}/{len(prompts)} | {row['seconds']:.0f} |"
                     f" {rows[0]['seconds'] / row['seconds']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    out = args.out / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
