"""The bridge's text format: what it reads (query + numbered candidates) and what it writes.

Input: `query: <query> <p1> <title>: <text> <p2> ...` — every candidate is introduced by its
id marker and cut to `passage_tokens` tokens (at a token boundary of the original text, so
the text itself is never altered), so all K fit the encoder.
Output: the chosen ids in order, repeats allowed (`<p3> <p1> <p3>`), or `<empty>` when the
LLM should see no passage at all. Each marker is one added special token of the tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ragbridge.records import Passage

EMPTY = "<empty>"
_ID_PATTERN = re.compile(r"<p(\d+)>|(<empty>)")


class Tokenizer(Protocol):
    """The part of a (fast) HF tokenizer the format uses."""

    def __call__(self, text: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class BridgeFormat:
    """How inputs are cut and outputs bounded; saved beside the model as bridge_config.json."""

    k: int = 5  # candidates shown to the bridge (and ids it may emit)
    passage_tokens: int = 64  # budget per candidate passage
    query_tokens: int = 96  # budget for the query / task input
    max_ids: int = 5  # longest id sequence the bridge may generate

    def to_dict(self) -> dict[str, int]:
        """Plain dict."""
        return asdict(self)


def id_token(position: int) -> str:
    """Marker of the candidate at 0-based `position` (shown 1-based: `<p1>` is the first)."""
    return f"<p{position + 1}>"


def special_tokens(k: int) -> list[str]:
    """The markers a tokenizer needs for K candidates: `<p1>`..`<pK>` and `<empty>`."""
    return [id_token(i) for i in range(k)] + [EMPTY]


def truncate_tokens(text: str, budget: int, tokenizer: Tokenizer) -> str:
    """The longest prefix of `text` that is at most `budget` tokens, cut at a token end."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= budget:
        return text
    return text[:offsets[budget - 1][1]] if budget > 0 else ""


def serialize_input(query: str, passages: Sequence[Passage], tokenizer: Tokenizer,
                    fmt: BridgeFormat) -> str:
    """The bridge's input text for a query and its first `fmt.k` candidates."""
    parts = [f"query: {truncate_tokens(' '.join(query.split()), fmt.query_tokens, tokenizer)}"]
    for position, passage in enumerate(passages[:fmt.k]):
        text = " ".join(f"{passage.title}: {passage.text}".split()) if passage.title \
            else " ".join(passage.text.split())
        parts.append(f"{id_token(position)} {truncate_tokens(text, fmt.passage_tokens, tokenizer)}")
    return " ".join(parts)


def serialize_output(positions: Sequence[int]) -> str:
    """Target text for 0-based candidate positions (repeats kept, order kept)."""
    return " ".join(id_token(p) for p in positions) if positions else EMPTY


def parse_output(text: str, count: int | None = None) -> list[int]:
    """0-based positions from generated text; ids outside 1..count raise ValueError."""
    positions: list[int] = []
    for match in _ID_PATTERN.finditer(text):
        if match.group(2):
            break
        position = int(match.group(1)) - 1
        if position < 0 or (count is not None and position >= count):
            raise ValueError(f"bridge output {text!r} names passage {position + 1}, "
                             f"but there are {count} candidates")
        positions.append(position)
    return positions
