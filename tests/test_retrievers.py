"""Both retrievers on real models and data; group and exclude restrictions."""

from ragbridge.data.nq_wiki import wikipedia_passages
from ragbridge.records import Example
from ragbridge.retrievers import build_retriever


def test_bm25_finds_the_right_passage(small_corpus, qa_example) -> None:
    hits = build_retriever("bm25", small_corpus).retrieve([qa_example], 3)[0]
    assert hits[0].passage.id == "p3" and [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[-1].score


def test_dense_finds_the_right_passage_by_meaning(small_corpus) -> None:
    example = Example("q", "how do plants turn sunlight into food", answers=("x",))
    hits = build_retriever("dense", small_corpus).retrieve([example], 2)[0]
    assert hits[0].passage.id == "p2" and -1.0 <= hits[1].score <= hits[0].score <= 1.0


def test_group_and_exclude_are_honoured(small_corpus) -> None:
    example = Example("m1", "budget meeting", target="Budget", group="alice", exclude=("m1",))
    for name in ("bm25", "dense"):
        hits = build_retriever(name, small_corpus).retrieve([example], 5)[0]
        assert [h.passage.id for h in hits] == ["m2"], name


def test_bm25_on_real_wikipedia() -> None:
    from ragbridge import assets

    corpus = wikipedia_passages(assets.wikipedia_summaries())
    example = Example("q", "who developed the theory of general relativity",
                      answers=("Albert Einstein",))
    hits = build_retriever("bm25", corpus).retrieve([example], 10)[0]
    assert len(hits) == 10
    assert any("Einstein" in h.passage.text for h in hits)


def test_corpus_embeddings_are_found_again_after_the_model_folder_moves(
        small_corpus, tmp_path, monkeypatch) -> None:
    import shutil

    from ragbridge.assets import minilm_dir
    from ragbridge.retrievers.dense import DenseRetriever

    bundled = minilm_dir()  # resolved before the cache moves
    moved = shutil.copytree(bundled, tmp_path / "elsewhere" / "minilm")
    monkeypatch.setenv("RAGBRIDGE_CACHE", str(tmp_path / "cache"))
    first = DenseRetriever(small_corpus, str(bundled))
    files = list((tmp_path / "cache" / "embeddings").glob("*.npy"))
    assert len(files) == 1
    second = DenseRetriever(small_corpus, str(moved))
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy")) == files
    assert (first._embeddings == second._embeddings).all()


def test_another_model_of_the_same_architecture_gets_its_own_embeddings(
        small_corpus, tmp_path, monkeypatch) -> None:
    """A fine-tuned copy has the same file names and sizes but other weights: its corpus
    embeddings must be computed anew, not taken from the original's cache."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from ragbridge.assets import minilm_dir
    from ragbridge.retrievers.dense import DenseRetriever

    bundled = minilm_dir()
    tuned = shutil.copytree(bundled, tmp_path / "tuned")
    weights = tuned / "model.safetensors"
    tensors = load_file(weights)
    name = next(n for n in tensors if n.endswith("word_embeddings.weight"))
    tensors[name] = tensors[name] + 0.05 * torch.randn_like(tensors[name])
    save_file(tensors, weights, metadata={"format": "pt"})
    assert weights.stat().st_size == (bundled / "model.safetensors").stat().st_size
    monkeypatch.setenv("RAGBRIDGE_CACHE", str(tmp_path / "cache"))
    original = DenseRetriever(small_corpus, str(bundled))
    fine_tuned = DenseRetriever(small_corpus, str(tuned))
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npy"))) == 2
    assert not (original._embeddings == fine_tuned._embeddings).all()


def test_bm25_fills_up_with_unmatched_passages_in_corpus_order_never_excluded_ones() -> None:
    """Fewer matches than k: the rest are score-0 ties, taken in corpus order (the same on
    every machine, so a committed silver search resumes elsewhere), never an excluded
    passage (a masked passage scores 0 too)."""
    from ragbridge.records import Passage

    corpus = [Passage(f"d{i:03d}", f"filler words number {i} about weather and tides")
              for i in range(400)]
    corpus[251] = Passage("d251", "the lighthouse keeper rang the brass bell")
    excluded = tuple(f"d{i:03d}" for i in range(0, 400, 2))  # every even position
    example = Example("q", "lighthouse bell", target="x", exclude=excluded)
    hits = build_retriever("bm25", corpus).retrieve([example], 6)[0]
    assert [h.passage.id for h in hits] == ["d251", "d001", "d003", "d005", "d007", "d009"]
    assert hits[0].score > 0 and all(h.score == 0 for h in hits[1:])
