"""Which utility should the silver search maximise? Measured on single-passage choices.

For each dev query of a run: the empty prompt, each of the K candidates alone, and top-K,
each generated (task metric of the greedy output) and scored (teacher-forced likelihood of
the reference reply). Then, per utility, choose per query the single candidate or none that
the utility ranks best (empty unless a candidate is strictly better; ties: the better
retriever rank) and report the task metric of that choice, beside no passage, top-1, top-K
and the metric oracle. "informative" is the share of queries where the utility tells the
options apart at all (a search learns nothing from the rest).

Utilities compared:
- metric: the task metric (0/1 accuracy for QA: mostly ties)
- metric, ties by likelihood: the metric, equal metrics broken by the best answer's likelihood
- likelihood (best answer): the best per-token mean log-probability over the references
  (the gold answers, or the subject); GainRAG's contrastive gain (with minus without the
  passage) ranks a query's options identically, so it chooses the same
- likelihood (first answer): the first gold answer only (QA)
- likelihood ("The answer is X."): the answer inside a sentence-style reply (QA)

    python experiments/utility_choice.py --run RUN -n 100 [--answerable]

Everything goes through the LLM cache: a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from ragbridge.judge import Judge
from ragbridge.llms import load_llm
from ragbridge.records import Candidates, Example
from ragbridge.rundir import RunDir
from ragbridge.tasks.metrics import contains_answer


def _answerable(item: Candidates) -> bool:
    return any(contains_answer(f"{h.passage.title} {h.passage.text}", item.example.answers)
               for h in item.hits)


def _choose(utilities: list[float]) -> int:
    """Index into [empty, single 1..K]: empty unless a single is strictly better."""
    best = 0
    for index in range(1, len(utilities)):
        if utilities[index] > utilities[best]:
            best = index
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--answerable", action="store_true",
                        help="QA: only questions with a gold answer in the K candidates")
    parser.add_argument("--llm", default="smollm2")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/utility_choice"))
    args = parser.parse_args()
    run = RunDir(args.run)
    task = run.task()
    llm = load_llm(args.llm)
    items = run.candidates(args.split)
    if args.answerable:
        items = [c for c in items if _answerable(c)]
    items = items[:args.n]
    k = run.settings().k
    plans, starts = [], []  # per query: empty, each candidate alone, all candidates
    for item in items:
        starts.append(len(plans))
        count = len(item.hits)
        plans += [(item, arrangement) for arrangement in
                  [[]] + [[i] for i in range(count)] + [list(range(count))]]
    starts.append(len(plans))
    judge = Judge(task, llm)
    started = time.perf_counter()
    calls = llm.stats.calls
    judgments = judge.judge_positions([p[0] for p in plans], [p[1] for p in plans],
                                      generate=True, likelihood=False)
    generate_seconds, generated = time.perf_counter() - started, llm.stats.calls - calls
    variants: dict[str, Callable[[Example], list[str]]] = {"best": task.references}
    if task.name == "qa":
        variants["first"] = lambda e: list(e.answers[:1])
        variants["sentence"] = lambda e: [f"The answer is {a}." for a in e.answers]
    likelihoods: dict[str, list[float]] = {}
    score_seconds, scored = 0.0, 0
    for name, references in variants.items():
        started, before = time.perf_counter(), llm.stats.scored
        values = Judge(task, llm, references=references).likelihoods(
            [p[0].example for p in plans], [j.prompt for j in judgments])
        score_seconds += time.perf_counter() - started
        scored += llm.stats.scored - before
        likelihoods[name] = [v.mean for v in values]
    metric = [judge.metric_of(j) for j in judgments]

    def per_query(values: list[float], number: int) -> list[float]:
        return values[starts[number]:starts[number + 1]]

    utilities: dict[str, Callable[[int], list[float]]] = {
        "metric": lambda n: per_query(metric, n)[:-1],
        "metric, ties by likelihood": lambda n: [
            m + 1e-3 * lik for m, lik in zip(per_query(metric, n)[:-1],
                                             per_query(likelihoods["best"], n)[:-1],
                                             strict=True)],
        "likelihood (best reference; = contrastive gain)": lambda n: per_query(
            likelihoods["best"], n)[:-1]}
    if task.name == "qa":
        utilities["likelihood (first answer)"] = lambda n: per_query(likelihoods["first"],
                                                                     n)[:-1]
        utilities['likelihood ("The answer is X.")'] = lambda n: per_query(
            likelihoods["sentence"], n)[:-1]
    rows = [("no passage", [per_query(metric, n)[0] for n in range(len(items))], None),
            ("top-1", [per_query(metric, n)[1] for n in range(len(items))], None),
            (f"top-{k}", [per_query(metric, n)[-1] for n in range(len(items))], None),
            ("metric oracle (best single or none)",
             [max(per_query(metric, n)[:-1]) for n in range(len(items))], None)]
    for name, utility in utilities.items():
        chosen, informative = [], 0
        for n in range(len(items)):
            values = utility(n)
            informative += len(set(values)) > 1
            chosen.append(per_query(metric, n)[_choose(values)])
        rows.append((f"chosen by {name}", chosen, 100.0 * informative / max(len(items), 1)))
    title = (f"{args.run.name} {args.split}: {len(items)} queries"
             f"{' (answerable)' if args.answerable else ''}, K={k}, LLM `{llm.identity}`")
    lines = [title, "", f"| choice | {judge.metric} | informative % |", "|---|---:|---:|"]
    for name, scores, informative in rows:
        shown = "" if informative is None else f"{informative:.0f}"
        lines.append(f"| {name} | {sum(scores) / max(len(scores), 1):.1f} | {shown} |")
    per_generation = generate_seconds / max(generated, 1)
    per_score = score_seconds / max(scored, 1)
    lines += ["", f"LLM work: {generated} generations ({per_generation:.2f} s each), "
                  f"{scored} scored references ({per_score:.2f} s each); "
                  f"{len(plans)} prompts, cache hits not counted"]
    table = "\n".join(lines)
    print(table)
    out = args.out / f"{args.run.name}{'-answerable' if args.answerable else ''}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(
        {"title": title, "rows": [{"choice": n, "mean": sum(s) / max(len(s), 1),
                                   "informative": i, "scores": s} for n, s, i in rows],
         "generations": generated, "scored": scored, "generate_seconds": generate_seconds,
         "score_seconds": score_seconds}, indent=1))


if __name__ == "__main__":
    main()
