"""Does llama.cpp give the same reply for the same prompt whatever came before it?

The replay and resume guarantees rest on it: a judgment cached in one batch must be the one
a rerun would compute in another. The same gap-probe-like prompts (nq-wiki dev, BM25, 0 to 5
passages) go through one model four ways, and every reply is compared with the first pass:

- `sorted batch`: the production order (prefix-sharing sort, key/value cache of the
  previous prompt reused);
- `sorted batch, rerun`: the same again in the same process;
- `reversed, in threes`: other batch compositions and neighbours (other reused prefixes);
- `one at a time, fresh`: each prompt alone after a reset (no reused prefix);
- `reloaded model`: a new `Llama` object, sorted batch.

Scores (teacher-forced log-likelihood of the gold answer) are compared the same way, as the
largest absolute difference in nats. It also prints seconds per prompt and prompt tokens/s.

    python benchmarks/llamacpp_determinism.py --llm qwen2.5-coder-0.5b --questions 12
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def gap_prompts(questions: int) -> tuple[list[str], list[str]]:
    """Prompts with no passage, top-1, top-3, top-5 and each of the 5 singles; gold answers."""
    from ragbridge.data import load_dataset
    from ragbridge.retrievers import build_retriever
    from ragbridge.tasks import get_task

    dataset = load_dataset("nq-wiki")
    examples = dataset.examples("dev")[:questions]
    hits = build_retriever("bm25", dataset.corpus()).retrieve(examples, 5)
    task = get_task("qa")
    prompts, answers = [], []
    for example, found in zip(examples, hits, strict=True):
        passages = [h.passage for h in found]
        arrangements = [[], passages[:1], passages[:3], passages] + [[p] for p in passages]
        for arrangement in arrangements:
            prompts.append(task.build_prompt(example, arrangement))
            answers.append(example.answers[0])
    return prompts, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm", default="qwen2.5-coder-0.5b",
                        help="A named GGUF of ragbridge.assets (or smollm2)")
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None, help="Write the table as JSON here")
    args = parser.parse_args()

    from ragbridge.assets import split_gguf
    from ragbridge.llms.llamacpp import LlamaCppLLM
    from ragbridge.tasks import get_task

    path = None if args.llm == "smollm2" else split_gguf(args.llm)
    settings = get_task("qa").generation
    prompts, answers = gap_prompts(args.questions)
    llm = LlamaCppLLM(path)
    tokens = sum(len(llm.model.tokenize(p.encode())) for p in prompts)

    def timed(function):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        result = function()
        return result, time.perf_counter() - started

    def fresh_each() -> list[str]:
        outputs = []
        for prompt in prompts:
            llm.model.reset()
            outputs.extend(llm.generate([prompt], settings))
        return outputs

    def in_threes_reversed() -> list[str]:
        outputs: dict[int, str] = {}
        order = list(reversed(range(len(prompts))))
        for start in range(0, len(order), 3):
            chunk = order[start:start + 3]
            for index, output in zip(chunk, llm.generate([prompts[i] for i in chunk], settings),
                                     strict=True):
                outputs[index] = output
        return [outputs[i] for i in range(len(prompts))]

    reference, seconds = timed(lambda: llm.generate(prompts, settings))
    rows = [{"pass": "sorted batch", "same": len(prompts), "seconds": seconds}]
    for name, function in [("sorted batch, rerun", lambda: llm.generate(prompts, settings)),
                           ("reversed, in threes", in_threes_reversed),
                           ("one at a time, fresh", fresh_each)]:
        outputs, seconds = timed(function)
        rows.append({"pass": name, "seconds": seconds,
                     "same": sum(a == b for a, b in zip(outputs, reference, strict=True))})
    scores, _ = timed(lambda: llm.score(prompts, answers))
    scores_reversed = list(reversed(llm.score(prompts[::-1], answers[::-1])))
    reloaded = LlamaCppLLM(path)
    outputs, seconds = timed(lambda: reloaded.generate(prompts, settings))
    rows.append({"pass": "reloaded model", "seconds": seconds,
                 "same": sum(a == b for a, b in zip(outputs, reference, strict=True))})
    scores_reloaded = reloaded.score(prompts, answers)

    def max_diff(other: list) -> float:  # noqa: ANN001
        return max(abs(a.total - b.total) for a, b in zip(scores, other, strict=True))

    print(f"{llm.identity}: {len(prompts)} prompts, {tokens} prompt tokens, "
          f"{llm.threads} threads")
    print("| pass | same reply as the first | s/prompt | prompt tokens/s |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['pass']} | {row['same']}/{len(prompts)} | "
              f"{row['seconds'] / len(prompts):.2f} | {tokens / row['seconds']:.0f} |")
    print(f"score, reversed order: max |diff| {max_diff(scores_reversed):.2e} nats; "
          f"reloaded model: {max_diff(scores_reloaded):.2e} nats")
    if args.out:
        args.out.write_text(json.dumps({
            "llm": llm.identity, "prompts": len(prompts), "prompt_tokens": tokens,
            "rows": rows, "score_max_diff_reversed": max_diff(scores_reversed),
            "score_max_diff_reloaded": max_diff(scores_reloaded)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
