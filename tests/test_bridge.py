"""The bridge model: format round-trips, constrained decoding, save/load, training, resume.

Tiny random models test mechanics only; the real bundled MiniLM (seq2seq) and SmolLM2
(decoder-only) families are loaded, decoded and trained one step each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from silver_fakes import EchoLLM, SequenceRewardTask, make_candidates

from ragbridge.bridge import BridgeFormat, build_bridge, parse_output, serialize_output
from ragbridge.bridge.data import BridgeExample
from ragbridge.bridge.format import truncate_tokens
from ragbridge.bridge.model import Bridge
from ragbridge.bridge.sl import SLConfig, train_sl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.records import Passage

PASSAGES = [Passage(f"p{i}", f"Passage number {i} says something about topic {i}.", f"T{i}")
            for i in range(5)]


@pytest.fixture(scope="module")
def tiny_bridges() -> dict[str, Bridge]:
    return {family: build_bridge(family, BridgeFormat(k=5, max_ids=4), seed=1)
            for family in ("tiny-seq2seq", "tiny-causal")}


@given(st.lists(st.integers(0, 9), max_size=8))
def test_output_round_trips(positions: list[int]) -> None:
    text = serialize_output(positions)
    assert parse_output(text) == positions
    assert (text == "<empty>") == (not positions)


def test_parse_rejects_ids_outside_the_candidates() -> None:
    with pytest.raises(ValueError, match="names passage 4, but there are 3"):
        parse_output("<p1> <p4>", count=3)


def test_input_keeps_every_candidate_within_budget_and_unicode(tiny_bridges) -> None:
    bridge = tiny_bridges["tiny-seq2seq"]
    long_text = "word " * 500
    passages = [Passage("a", long_text), Passage("b", "Zürich — café naïve 東京 emoji 🙂", "Ünï")]
    text = bridge.input_text("où est le café ?", passages)
    assert "<p1>" in text and "<p2>" in text
    assert "Ünï: Zürich — café naïve 東京 emoji 🙂" in text  # short unicode text kept as is
    first = text.split("<p1>")[1].split("<p2>")[0]
    tokens = bridge.tokenizer(first, add_special_tokens=False)["input_ids"]
    assert len(tokens) <= bridge.format.passage_tokens
    assert truncate_tokens(long_text, 0, bridge.tokenizer) == ""


@pytest.mark.parametrize("family", ["tiny-seq2seq", "tiny-causal"])
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(0, 5), min_size=1, max_size=4), seed=st.integers(0, 10**6))
def test_constrained_decoding_never_emits_an_invalid_id(tiny_bridges, family: str,
                                                        counts: list[int], seed: int) -> None:
    bridge = tiny_bridges[family]
    torch.manual_seed(seed)
    passages = [PASSAGES[:count] for count in counts]
    for sample in (False, True):
        outputs = bridge.generate([f"q{i}" for i in range(len(counts))], passages,
                                  sample=sample, temperature=2.0)
        for positions, count in zip(outputs, counts, strict=True):
            assert all(0 <= p < count for p in positions)
            assert len(positions) <= bridge.format.max_ids


@pytest.mark.parametrize("family", ["tiny-seq2seq", "tiny-causal"])
def test_save_and_load_give_identical_outputs(tmp_path: Path, family: str) -> None:
    bridge = build_bridge(family, BridgeFormat(k=5), seed=3)
    bridge.save_pretrained(tmp_path / "b")
    loaded = Bridge.from_pretrained(tmp_path / "b")
    bridge.model.eval()  # no dropout: both compute the same function
    loaded.model.eval()
    assert json.loads((tmp_path / "b" / "bridge_config.json").read_text())["kind"] == bridge.kind
    torch.manual_seed(0)
    queries = ["alpha", "beta", "gamma"]
    lists = [PASSAGES, PASSAGES[:2], PASSAGES[:4]]
    assert loaded.generate(queries, lists) == bridge.generate(queries, lists)
    targets = [[0, 1, 0], [], [3]]
    assert torch.allclose(loaded.loss(queries, lists, targets), bridge.loss(queries, lists,
                                                                            targets))


@pytest.mark.parametrize("family", ["tiny-seq2seq", "tiny-causal"])
def test_training_lowers_the_loss_and_learns_the_sequence(family: str) -> None:
    bridge = build_bridge(family, BridgeFormat(k=5), seed=0)
    optimizer = torch.optim.AdamW(bridge.model.parameters(), lr=1e-2)
    queries, lists, targets = ["q a", "q b"], [PASSAGES, PASSAGES[:3]], [[2, 0, 2], []]
    first = bridge.loss(queries, lists, targets).item()
    for _ in range(80):
        loss = bridge.loss(queries, lists, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 4
    assert bridge.generate(queries, lists) == targets


def test_sequence_logprobs_respect_the_constraint(tiny_bridges) -> None:
    bridge = tiny_bridges["tiny-seq2seq"]
    logprobs, mask = bridge.sequence_logprobs(["q"], [PASSAGES[:2]], [[1, 1]])
    assert mask.tolist() == [[True, True, True]]  # <p2> <p2> <end>
    assert torch.all(logprobs <= 0) and torch.all(logprobs > -50)
    empty, _ = bridge.sequence_logprobs(["q"], [PASSAGES[:2]], [[]])
    assert empty[0, 1].item() == pytest.approx(0.0)  # after <empty> only the end may follow


def _examples(count: int) -> list[BridgeExample]:
    items = make_candidates(count, k=3)
    return [BridgeExample(item, silver) for item, silver in
            zip(items, [(1, 0), (0, 0), (), (2,)] * count, strict=False)]


def test_sl_resume_continues_the_same_run(tmp_path: Path) -> None:
    rewards = {f"q{n}": {"b|a": 80.0, "a|a": 60.0, "": 30.0, "c": 10.0} for n in range(8)}
    task = SequenceRewardTask(rewards)
    train, dev = _examples(8), _examples(4)
    config = SLConfig(family="tiny-seq2seq", epochs=2, batch_size=4, learning_rate=1e-3)

    def judge(name: str) -> Judge:
        return Judge(task, CachedLLM(EchoLLM(), tmp_path / f"{name}.sqlite"))

    straight = train_sl(train, dev, judge("a"), config, tmp_path / "straight", k=3)
    one = train_sl(train, dev, judge("b"), SLConfig(**{**config.__dict__, "epochs": 1}),
                   tmp_path / "resumed", k=3)
    assert one["epoch"] == 1 and (tmp_path / "resumed" / "checkpoint-1" / "state.json").exists()
    with pytest.raises(ValueError, match=r"other settings \(seed\)"):
        train_sl(train, dev, judge("b"), SLConfig(**{**config.__dict__, "seed": 5}),
                 tmp_path / "resumed", k=3)
    resumed = train_sl(train, dev, judge("b"), config, tmp_path / "resumed", k=3)
    assert resumed["losses"] == pytest.approx(straight["losses"], abs=1e-5)
    assert [d["metric"] for d in resumed["dev"]] == [d["metric"] for d in straight["dev"]]
    assert (tmp_path / "resumed" / "model" / "bridge_config.json").exists()
    # only the newest checkpoint is kept
    assert [p.name for p in (tmp_path / "resumed").glob("checkpoint-*")] == ["checkpoint-2"]


def test_real_families_load_decode_and_train() -> None:
    for family in ("minilm-encdec", "smollm2-causal"):
        bridge = build_bridge(family, BridgeFormat(k=3, passage_tokens=24))
        chosen = bridge.select("what is the largest ocean", PASSAGES[:3])
        assert all(0 <= p < 3 for p in chosen)
        optimizer = torch.optim.AdamW(bridge.model.parameters(), lr=1e-4)
        before = bridge.loss(["what is the largest ocean"], [PASSAGES[:3]], [[1]])
        before.backward()
        optimizer.step()
        after = bridge.loss(["what is the largest ocean"], [PASSAGES[:3]], [[1]])
        assert after.item() < before.item()
