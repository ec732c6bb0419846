"""Haystack 2+: the bridge as a pipeline component between a retriever and a prompt builder."""

from __future__ import annotations

from typing import Any

from ragbridge.integrations import load_selector, missing
from ragbridge.records import Passage

try:
    from haystack import Document, component
except ImportError as error:  # pragma: no cover - depends on the environment
    raise missing("haystack-ai", "haystack") from error


@component
class BridgeRanker:
    """Inputs `query` and `documents`; output `documents`: the selector's sequence.

    `BridgeRanker(selector)`: any `Selector`, or a bridge folder.
    """

    def __init__(self, selector: Any) -> None:
        self.selector = load_selector(selector)

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, list[Document]]:
        """Select, reorder and possibly repeat the retrieved documents."""
        passages = [Passage(str(d.id or n), d.content or "", str(d.meta.get("title", "")))
                    for n, d in enumerate(documents)]
        positions = self.selector.select_batch([query], [passages])[0] if passages else []
        return {"documents": [documents[p] for p in positions]}
