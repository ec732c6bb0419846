"""What a likelihood costs beside greedy decoding, on the same prompts (issue 14).

For the first `-n` dev queries of a run, the prompts with no passage, each single candidate
and top-K (what a silver search asks most); each backend generates the task's reply (greedy,
the task's max new tokens) and scores the references (teacher-forced; every gold answer for
QA), uncached, in its own batches; a backend that can do both from one pass over each prompt
(`generate_scored`, the transformers one) is also timed doing that, and its outputs and
likelihoods are compared with the separate calls. Ratios within one run.

    python benchmarks/score_speed.py --run runs/study/nq-wiki-dense -n 8 --backends smollm2-fp32
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ragbridge.llms import build_llm
from ragbridge.rundir import RunDir

BACKENDS = ("smollm2-fp32", "smollm2-bf16", "llamacpp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("-n", type=int, default=8)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/score_speed"))
    args = parser.parse_args()
    run = RunDir(args.run)
    task = run.task()
    prompts, references = [], []
    for item in run.candidates("dev")[:args.n]:
        count = len(item.hits)
        for chosen in [[]] + [[i] for i in range(count)] + [list(range(count))]:
            prompts.append(task.build_prompt(item.example, [item.hits[i].passage
                                                            for i in chosen]))
            references.append(task.references(item.example))
    flat_prompts = [p for p, refs in zip(prompts, references, strict=True) for _ in refs]
    flat_references = [r for refs in references for r in refs]
    rows = []
    for spec in args.backends:
        options = {"batch_size": args.batch_size} if spec != "llamacpp" else {}
        llm = build_llm(spec, **options)
        llm.generate(prompts[:2], task.generation)  # warm up
        started = time.perf_counter()
        outputs = llm.generate(prompts, task.generation)
        generate = time.perf_counter() - started
        started = time.perf_counter()
        scores = llm.score(flat_prompts, flat_references)
        score = time.perf_counter() - started
        row = {"backend": llm.identity, "generate_s": generate / len(prompts),
               "score_s": score / len(prompts), "ratio": score / generate,
               "references": len(flat_references)}
        if hasattr(llm, "generate_scored"):
            started = time.perf_counter()
            together, scored = llm.generate_scored(prompts, task.generation, references)
            both = time.perf_counter() - started
            flat = [v for values in scored for v in values]
            row.update({"one_pass_s": both / len(prompts),
                        "one_pass_ratio": both / (generate + score),
                        "same_outputs": sum(a == b for a, b in zip(together, outputs,
                                                                   strict=True)),
                        "max_likelihood_diff": max(abs(a.total - b.total) for a, b in
                                                   zip(flat, scores, strict=True))})
        rows.append(row)
        print(rows[-1], flush=True)
    lines = [f"{args.run.name} dev: {len(prompts)} prompts ({args.n} queries x no passage, "
             f"each single, top-K; {len(flat_references)} references), "
             f"{task.generation.max_new_tokens} new tokens max, batch {args.batch_size}", "",
             "| backend | generate s/prompt | likelihoods s/prompt | likelihoods / generate "
             "| both in one pass s/prompt | one pass / (generate + likelihoods) | same outputs "
             "| max likelihood diff |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        one = (f"{r['one_pass_s']:.3f} | {r['one_pass_ratio']:.2f} | "
               f"{r['same_outputs']}/{len(prompts)} | {r['max_likelihood_diff']:.1e}"
               if "one_pass_s" in r else "- | - | - | -")
        lines.append(f"| {r['backend']} | {r['generate_s']:.3f} | {r['score_s']:.3f} | "
                     f"{r['ratio']:.2f} | {one} |")
    table = "\n".join(lines)
    print(table)
    out = args.out / args.run.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
