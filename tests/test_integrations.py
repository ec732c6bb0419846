"""Framework adapters in real small pipelines: a retriever over a few documents feeds the
selector, and each adapter returns exactly the selector's sequence of the retrieved documents.

The selector is a stub with a known answer ([2, 0, 2]: select, reorder, repeat; or [] for
nothing), so the expected output does not come from the code path under test; a saved bridge
folder is loaded by path once. The frameworks, retrievers and MiniLM are real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragbridge.bridge import BridgeFormat, build_bridge
from ragbridge.records import Passage

TEXTS = ["The Pacific Ocean is the largest and deepest ocean on Earth.",
         "Paris is the capital and most populous city of France.",
         "Photosynthesis converts light energy into chemical energy.",
         "The Atlantic Ocean is the second-largest ocean.",
         "Mount Everest is Earth's highest mountain above sea level."]
QUERY = "which ocean is the largest"
NOTHING = "nothing at all"


class Stub:
    """Answers [2, 0, 2] (third, first, third again), or [] for the NOTHING query."""

    def __init__(self) -> None:
        self.seen: list[list[Passage]] = []

    def select_batch(self, queries: list[str], candidate_lists: list[list[Passage]]
                     ) -> list[list[int]]:
        self.seen += [list(c) for c in candidate_lists]
        return [[] if q == NOTHING else [2, 0, 2] for q in queries]


def _expected(texts: list[str]) -> list[str]:
    return [texts[2], texts[0], texts[2]]


@pytest.fixture(scope="module")
def bridge_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bridge")
    build_bridge("tiny-fid", BridgeFormat(k=5, max_ids=4), seed=7).save_pretrained(folder)
    return folder


def test_langchain_compressor_in_contextual_compression_retriever(bridge_folder: Path) -> None:
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore
    from sentence_transformers import SentenceTransformer

    from ragbridge.assets import minilm_dir
    from ragbridge.integrations.langchain import BridgeCompressor

    model = SentenceTransformer(str(minilm_dir()))

    class MiniLM(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return model.encode(texts, normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    store = InMemoryVectorStore.from_documents([Document(t) for t in TEXTS], MiniLM())
    base = store.as_retriever(search_kwargs={"k": 3})
    stub = Stub()
    retriever = ContextualCompressionRetriever(base_compressor=BridgeCompressor(stub),
                                               base_retriever=base)
    retrieved = [d.page_content for d in base.invoke(QUERY)]
    assert set(retrieved[:2]) == {TEXTS[0], TEXTS[3]}  # the real retriever found the oceans
    assert [d.page_content for d in retriever.invoke(QUERY)] == _expected(retrieved)
    assert [p.text for p in stub.seen[-1]] == retrieved  # candidates in retriever order
    assert retriever.invoke(NOTHING) == []
    assert BridgeCompressor(stub).compress_documents([], QUERY) == []
    from_folder = BridgeCompressor(bridge_folder).compress_documents(base.invoke(QUERY), QUERY)
    assert all(d.page_content in retrieved for d in from_folder)


def test_llamaindex_postprocessor_after_a_retriever(bridge_folder: Path) -> None:
    from llama_index.core import SummaryIndex
    from llama_index.core.schema import TextNode

    from ragbridge.integrations.llamaindex import BridgePostprocessor

    index = SummaryIndex([TextNode(text=t, id_=f"n{n}") for n, t in enumerate(TEXTS)])
    nodes = index.as_retriever().retrieve(QUERY)
    retrieved = [n.node.get_content() for n in nodes]
    assert sorted(retrieved) == sorted(TEXTS)
    chosen = BridgePostprocessor(Stub()).postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.get_content() for n in chosen] == _expected(retrieved)
    assert BridgePostprocessor(Stub()).postprocess_nodes(nodes, query_str=NOTHING) == []
    with pytest.raises(ValueError, match="query"):
        BridgePostprocessor(Stub()).postprocess_nodes(nodes)
    loaded = BridgePostprocessor(bridge_folder)
    assert loaded.bridge_path == str(bridge_folder)
    assert all(n in nodes for n in loaded.postprocess_nodes(nodes, query_str=QUERY))


def test_haystack_component_in_a_pipeline(bridge_folder: Path) -> None:
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from ragbridge.integrations.haystack import BridgeRanker

    store = InMemoryDocumentStore()
    store.write_documents([Document(content=t) for t in TEXTS])
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(store, top_k=3))
    pipeline.add_component("bridge", BridgeRanker(Stub()))
    pipeline.connect("retriever.documents", "bridge.documents")
    result = pipeline.run({"retriever": {"query": QUERY}, "bridge": {"query": QUERY}},
                          include_outputs_from={"retriever"})
    retrieved = [d.content for d in result["retriever"]["documents"]]
    assert len(retrieved) == 3 and TEXTS[0] in retrieved
    assert [d.content for d in result["bridge"]["documents"]] == _expected(retrieved)
    empty = pipeline.run({"retriever": {"query": QUERY}, "bridge": {"query": NOTHING}})
    assert empty["bridge"]["documents"] == []
    loaded = BridgeRanker(bridge_folder).run(QUERY, result["retriever"]["documents"])
    assert all(d.content in retrieved for d in loaded["documents"])
