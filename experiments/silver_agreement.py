"""Do two judge LLMs want the same passages? Their silver labels on the same queries, compared.

No LLM call: two silver files of the same candidates (one run folder per judge LLM, as
experiments/transfer.sh makes them) are read, and the table gives how often the labels are
identical and how their kinds (empty, one passage, all K, other) cross, beside what chance
agreement of the two label distributions would give. It predicts how much a bridge trained
on one LLM's judgments can transfer to the other before any transfer is evaluated:

    python experiments/silver_agreement.py runs/transfer/email-smollm2-m0/silver.jsonl \\
        runs/qwen-study/email-topk-m0/silver.jsonl --names SmolLM2 Qwen
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from ragbridge.jsonl import read_jsonl

KINDS = ("empty", "one passage", "all K", "other")


def silver_labels(path: Path) -> dict[str, tuple[list[int], int]]:
    """Per query id of a silver file: its silver (candidate positions) and its number of
    candidates (a sender with a short profile has fewer than K)."""
    records = read_jsonl(path, lambda record: (
        record["id"], (list(record["silver_positions"]), len(record["candidate_ids"]))))
    return dict(records)


def kind(label: tuple[list[int], int]) -> str:
    """Empty, one passage, every candidate once (top-K), or any other sequence."""
    sequence, candidates = label
    if not sequence:
        return "empty"
    if len(sequence) == 1 and candidates > 1:
        return "one passage"
    if sorted(sequence) == list(range(candidates)):
        return "all K"
    return "other"


def agreement_table(first: Path, second: Path, names: tuple[str, str]) -> str:
    """A markdown table: identical labels, and the kinds of the two silvers crossed."""
    labels_a, labels_b = silver_labels(first), silver_labels(second)
    shared = sorted(set(labels_a) & set(labels_b))
    if not shared:
        raise SystemExit(f"{first} and {second} share no query id")
    kind_pairs = {i: (kind(labels_a[i]), kind(labels_b[i])) for i in shared}
    kinds_a = Counter(first_kind for first_kind, _ in kind_pairs.values())
    kinds_b = Counter(second_kind for _, second_kind in kind_pairs.values())
    crossed = Counter(kind_pairs.values())
    identical = sum(labels_a[i][0] == labels_b[i][0] for i in shared)
    same_kind = sum(crossed[(name, name)] for name in KINDS)
    chance_kind = sum(kinds_a[name] * kinds_b[name] for name in KINDS) / len(shared)
    both_single = [i for i in shared if kind_pairs[i] == ("one passage", "one passage")]
    same_single = sum(labels_a[i][0] == labels_b[i][0] for i in both_single)
    chance_single = sum(1 / labels_a[i][1] for i in both_single)
    lines = [
        f"{len(shared)} shared queries; identical labels {identical} "
        f"({100 * identical / len(shared):.1f}%); same kind {same_kind} "
        f"({100 * same_kind / len(shared):.1f}%, chance {100 * chance_kind / len(shared):.1f}%); "
        f"both one passage {len(both_single)}, the same passage {same_single}"
        + (f" ({100 * same_single / len(both_single):.1f}%, chance "
           f"{100 * chance_single / len(both_single):.1f}%)" if both_single else ""),
        "",
        f"| {names[0]} \\ {names[1]} | " + " | ".join(KINDS) + " | all |",
        "|---|" + "---:|" * (len(KINDS) + 1),
    ]
    for row in KINDS:
        cells = [str(crossed[(row, column)]) for column in KINDS]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {kinds_a[row]} |")
    lines.append("| all | " + " | ".join(str(kinds_b[c]) for c in KINDS) + f" | {len(shared)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="silver file of the first judge LLM")
    parser.add_argument("second", type=Path, help="silver file of the second judge LLM")
    parser.add_argument("--names", nargs=2, default=("first", "second"))
    args = parser.parse_args()
    print(agreement_table(args.first, args.second, tuple(args.names)))


if __name__ == "__main__":
    main()
