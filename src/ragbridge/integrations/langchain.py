"""LangChain: the bridge as a document compressor (e.g. in `ContextualCompressionRetriever`).

The retrieved documents are the candidates (in retriever order); the compressor returns the
selector's sequence (a bridge's, by default): selected, reordered, possibly repeated, possibly
empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragbridge.integrations import load_selector, missing
from ragbridge.records import Passage

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
except ImportError as error:  # pragma: no cover - depends on the environment
    raise missing("langchain-core", "langchain") from error


class BridgeCompressor(BaseDocumentCompressor):
    """`BridgeCompressor("runs/nq-wiki-dense/bridge-rl/model")`, or any `Selector`."""

    selector: Any
    model_config = {"arbitrary_types_allowed": True}

    def __init__(self, selector: Any, **kwargs: Any) -> None:
        super().__init__(selector=load_selector(selector), **kwargs)

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The documents the LLM should see, in the selector's order."""
        passages = [Passage(str(d.id or n), d.page_content, str(d.metadata.get("title", "")))
                    for n, d in enumerate(documents)]
        positions = self.selector.select_batch([query], [passages])[0] if passages else []
        return [documents[p] for p in positions]
