"""LangChain: the bridge as a document compressor (e.g. in `ContextualCompressionRetriever`).

The retrieved documents are the candidates (in retriever order); the compressor returns the
bridge's sequence: selected, reordered, possibly repeated, possibly empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragbridge.integrations import load_bridge, missing
from ragbridge.records import Passage

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
except ImportError as error:  # pragma: no cover - depends on the environment
    raise missing("langchain-core", "langchain") from error


class BridgeCompressor(BaseDocumentCompressor):
    """`BridgeCompressor(bridge="runs/nq-wiki-dense/bridge-rl/model")`."""

    bridge: Any
    model_config = {"arbitrary_types_allowed": True}

    def __init__(self, bridge: Any, **kwargs: Any) -> None:
        super().__init__(bridge=load_bridge(bridge), **kwargs)

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The documents the LLM should see, in the bridge's order."""
        passages = [Passage(str(d.id or n), d.page_content, str(d.metadata.get("title", "")))
                    for n, d in enumerate(documents)]
        positions = self.bridge.select(query, passages) if passages else []
        return [documents[p] for p in positions]
