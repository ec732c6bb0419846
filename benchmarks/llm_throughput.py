"""LLM throughput: the same fixed prompts through each backend configuration.

Each candidate runs in its own subprocess (clean peak memory). Ratios are against the
one-at-a-time fp32 transformers baseline measured in the same run; "same" counts outputs
identical to that baseline's (greedy decoding).

    python benchmarks/llm_throughput.py --questions 8 --out benchmarks/results/llm_throughput
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CANDIDATES = {
    "transformers fp32, batch 1": ("smollm2", {"batch_size": 1, "dtype": "float32"}),
    "transformers fp32, batch 4": ("smollm2", {"batch_size": 4, "dtype": "float32"}),
    "transformers fp32, batch 8": ("smollm2", {"batch_size": 8, "dtype": "float32"}),
    "transformers fp32, batch 16": ("smollm2", {"batch_size": 16, "dtype": "float32"}),
    "transformers bf16, batch 8": ("smollm2", {"batch_size": 8, "dtype": "bfloat16"}),
    "transformers int8 dynamic, batch 8": ("smollm2", {"batch_size": 8, "dtype": "int8"}),
    "llama.cpp Q4_1 (llama-cpp-python)": ("llamacpp", {}),
    "llama.cpp Q4_1, flash attention": ("llamacpp", {"flash_attn": True}),
    "transformers bf16, batch 16": ("smollm2", {"batch_size": 16, "dtype": "bfloat16"}),
    "transformers bf16, batch 4": ("smollm2", {"batch_size": 4, "dtype": "bfloat16"}),
    "transformers bf16, batch 1": ("smollm2", {"batch_size": 1, "dtype": "bfloat16"}),
    "Qwen2.5-Coder-0.5B Q4_K_M, llama.cpp": ("llamacpp:qwen2.5-coder-0.5b", {}),
    "Qwen2.5-Coder-1.5B, llama.cpp": ("llamacpp:qwen2.5-coder-1.5b", {}),
}
BASELINE = "transformers fp32, batch 1"


def fixed_prompts(questions: int) -> list[str]:
    """Question + 1, 3 and 5 BM25 passages of ~100 words, for the first nq-wiki dev questions."""
    from ragbridge.data import load_dataset
    from ragbridge.retrievers import build_retriever
    from ragbridge.tasks import get_task

    dataset = load_dataset("nq-wiki")
    examples = dataset.examples("dev")[:questions]
    hits = build_retriever("bm25", dataset.corpus()).retrieve(examples, 5)
    task = get_task("qa")
    return [task.build_prompt(e, [h.passage for h in found[:n]])
            for e, found in zip(examples, hits, strict=True) for n in (1, 3, 5)]


def run_candidate(name: str, prompts_file: Path) -> dict:
    """Measure one candidate (called in a subprocess)."""
    from ragbridge.llms import build_llm
    from ragbridge.tasks import get_task

    spec, options = CANDIDATES[name]
    prompts = json.loads(prompts_file.read_text())
    llm = build_llm(spec, **options)
    settings = get_task("qa").generation
    llm.generate(prompts[:1], settings)  # warm-up
    started = time.perf_counter()
    outputs = llm.generate(prompts, settings)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": name, "seconds": seconds, "outputs": outputs, "peak_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/llm_throughput"))
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    parser.add_argument("--prompts-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help="Subset of candidate names")
    args = parser.parse_args()
    if args.candidate:
        print(json.dumps(run_candidate(args.candidate, args.prompts_file)))
        return
    from transformers import AutoTokenizer

    from ragbridge.llms.hf import smollm2_folder

    args.out.mkdir(parents=True, exist_ok=True)
    prompts = fixed_prompts(args.questions)
    prompts_file = args.out / "prompts.json"
    prompts_file.write_text(json.dumps(prompts))
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder())
    prompt_tokens = sum(len(tokenizer.apply_chat_template(
        [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True,
        return_dict=True)["input_ids"]) for p in prompts)
    results = []
    for name in [BASELINE] + [c for c in CANDIDATES if c != BASELINE]:
        if args.only and name not in args.only and name != BASELINE:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        completed = subprocess.run([sys.executable, __file__, "--candidate", name,
                                    "--prompts-file", str(prompts_file)],
                                   capture_output=True, text=True)
        if completed.returncode != 0:
            print(f"  failed: {completed.stderr[-500:]}", file=sys.stderr)
            continue
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    reference = results[0]["outputs"]
    lines = [f"{len(prompts)} prompts (question + 1/3/5 passages), {prompt_tokens} prompt tokens,"
             " 16 new tokens max, greedy, stop at newline", "",
             "| candidate | prompts/s | prompt tok/s | generated tok/s | peak MiB | same as ref |"
             " speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
    base_rate = len(prompts) / results[0]["seconds"]
    for result in results:
        generated = sum(len(tokenizer(o).input_ids) for o in result["outputs"])
        rate = len(prompts) / result["seconds"]
        same = sum(a == b for a, b in zip(result["outputs"], reference, strict=True))
        lines.append(f"| {result['name']} | {rate:.2f} | {prompt_tokens / result['seconds']:.0f} |"
                     f" {generated / result['seconds']:.1f} | {result['peak_mib']:.0f} |"
                     f" {same}/{len(prompts)} | {rate / base_rate:.2f}x |")
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
