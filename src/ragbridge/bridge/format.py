"""The bridge's input budget and output form.

Input: the query and each of its first K candidates, each (query, candidate) pair read by the
encoder on its own, the query cut to `query_tokens` and the candidate (`title: text`) to
`passage_tokens` tokens. Output: the chosen candidates in order, repeats allowed, or none;
shown as text as `<p3> <p1> <p3>` (1-based) or `<empty>`.
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


def truncate_tokens(text: str, budget: int, tokenizer: Tokenizer) -> str:
    """The longest prefix of `text` that is at most `budget` tokens, cut at a token end."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        truncation=True, max_length=budget + 1)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= budget:
        return text
    return text[:offsets[budget - 1][1]] if budget > 0 else ""


def passage_text(passage: Passage) -> str:
    """A candidate as the bridge reads it: `title: text`, white space folded."""
    text = f"{passage.title}: {passage.text}" if passage.title else passage.text
    return " ".join(text.split())


def serialize_output(positions: Sequence[int]) -> str:
    """Text form of 0-based candidate positions (repeats kept, order kept)."""
    return " ".join(id_token(p) for p in positions) if positions else EMPTY


def parse_output(text: str, count: int | None = None) -> list[int]:
    """0-based positions from the text form; ids outside 1..count raise ValueError."""
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
