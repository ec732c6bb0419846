"""Haystack 2+: the bridge as a pipeline component between a retriever and a prompt builder."""

from __future__ import annotations

from typing import Any

from ragbridge.integrations import load_bridge, missing
from ragbridge.records import Passage

try:
    from haystack import Document, component
except ImportError as error:  # pragma: no cover - depends on the environment
    raise missing("haystack-ai", "haystack") from error


@component
class BridgeRanker:
    """Inputs `query` and `documents`; output `documents`: the bridge's sequence."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = load_bridge(bridge)

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, list[Document]]:
        """Select, reorder and possibly repeat the retrieved documents."""
        passages = [Passage(str(d.id or n), d.content or "", str(d.meta.get("title", "")))
                    for n, d in enumerate(documents)]
        positions = self.bridge.select(query, passages) if passages else []
        return {"documents": [documents[p] for p in positions]}
