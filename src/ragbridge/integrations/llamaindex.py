"""LlamaIndex: the bridge as a node postprocessor (`node_postprocessors=[...]`)."""

from __future__ import annotations

import os
from typing import Any

from ragbridge.integrations import load_selector, missing
from ragbridge.records import Passage

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as error:  # pragma: no cover - depends on the environment
    raise missing("llama-index-core", "llamaindex") from error


class BridgePostprocessor(BaseNodePostprocessor):
    """`BridgePostprocessor("runs/nq-wiki-dense/bridge-rl/model")`, or any `Selector`."""

    bridge_path: str = Field(default="", description="bridge folder, when loaded from disk")
    _selector: Any = PrivateAttr()

    def __init__(self, selector: Any, **kwargs: Any) -> None:
        path = str(selector) if isinstance(selector, (str, os.PathLike)) else ""
        super().__init__(bridge_path=path, **kwargs)
        self._selector = load_selector(selector)

    @classmethod
    def class_name(cls) -> str:
        """Name in LlamaIndex's registry."""
        return "RagbridgeBridgePostprocessor"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("the bridge needs the query: pass query_bundle or query_str")
        passages = [Passage(n.node.node_id, n.node.get_content(metadata_mode=MetadataMode.NONE),
                            str(n.node.metadata.get("title", ""))) for n in nodes]
        positions = (self._selector.select_batch([query_bundle.query_str], [passages])[0]
                     if passages else [])
        return [nodes[p] for p in positions]
