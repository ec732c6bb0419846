"""The bridge model: output form, constrained decoding, save/load, training, resume, and that
the real MiniLM bridge reads its input.

Tiny random encoders test mechanics only; the real bundled MiniLM bridge is trained a few
dozen steps on a content task whose answer is not the same position for every query.
"""

from __future__ import annotations

import json
import math
import random
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
from ragbridge.bridge.sl import SLConfig, first_step_targets, train_sl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.records import Passage

PASSAGES = [Passage(f"p{i}", f"Passage number {i} says something about topic {i}.", f"T{i}")
            for i in range(5)]


@pytest.fixture(scope="module")
def tiny() -> Bridge:
    return build_bridge("tiny-fid", BridgeFormat(k=5, max_ids=4), seed=1)


@given(st.lists(st.integers(0, 9), max_size=8))
def test_output_round_trips(positions: list[int]) -> None:
    text = serialize_output(positions)
    assert parse_output(text) == positions
    assert (text == "<empty>") == (not positions)


def test_parse_rejects_ids_outside_the_candidates() -> None:
    with pytest.raises(ValueError, match="names passage 4, but there are 3"):
        parse_output("<p1> <p4>", count=3)


def test_long_and_unicode_inputs_fit_their_budget(tiny: Bridge) -> None:
    long_text = "word " * 5000
    assert len(tiny.tokenizer(truncate_tokens(long_text, 64, tiny.tokenizer),
                              add_special_tokens=False)["input_ids"]) == 64
    assert truncate_tokens(long_text, 0, tiny.tokenizer) == ""
    assert truncate_tokens("Zürich — café 東京 🙂", 64, tiny.tokenizer) == "Zürich — café 東京 🙂"
    passages = [Passage("a", long_text), Passage("b", "Zürich — café naïve 東京 emoji 🙂", "Ünï")]
    chosen = tiny.select("où est le café ? " * 200, passages)
    assert all(0 <= p < 2 for p in chosen)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(0, 7), min_size=1, max_size=4), seed=st.integers(0, 10**6))
def test_decoding_never_emits_an_invalid_id(tiny: Bridge, counts: list[int], seed: int) -> None:
    torch.manual_seed(seed)
    passages = [(PASSAGES * 2)[:count] for count in counts]
    for sample in (False, True):
        outputs = tiny.generate([f"q{i}" for i in range(len(counts))], passages,
                                sample=sample, temperature=3.0)
        for positions, count in zip(outputs, counts, strict=True):
            assert all(0 <= p < min(count, tiny.k) for p in positions)
            assert len(positions) <= tiny.format.max_ids


def test_sampling_reaches_repeats_reorders_and_empty(tiny: Bridge) -> None:
    torch.manual_seed(0)
    seen = tiny.generate(["q"] * 400, [PASSAGES] * 400, sample=True, temperature=5.0)
    assert any(not s for s in seen)
    assert any(len(set(s)) < len(s) for s in seen)
    assert any(len(s) >= 2 and s[0] > s[1] for s in seen)


def test_save_and_load_give_identical_outputs(tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    bridge = build_bridge("tiny-fid", BridgeFormat(k=5), seed=3)
    bridge.save_pretrained(tmp_path / "b")
    capfd.readouterr()
    loaded = Bridge.from_pretrained(tmp_path / "b")
    assert "MISSING" not in capfd.readouterr().err  # no pooler reported missing, made at random
    bridge.model.eval()  # no dropout: both compute the same function
    loaded.model.eval()
    config = json.loads((tmp_path / "b" / "bridge_config.json").read_text())
    assert config["format"]["k"] == 5 and config["family"] == "tiny-fid"
    queries = ["alpha", "beta", "gamma"]
    lists = [PASSAGES, PASSAGES[:2], PASSAGES[:4]]
    assert loaded.generate(queries, lists) == bridge.generate(queries, lists)
    targets = [[0, 1, 0], [], [3]]
    assert torch.allclose(loaded.loss(queries, lists, targets), bridge.loss(queries, lists,
                                                                            targets))


def test_a_bridge_of_the_old_format_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "bridge_config.json").write_text('{"kind": "seq2seq", "format": {}}')
    with pytest.raises(ValueError, match="no longer reads"):
        Bridge.from_pretrained(tmp_path / "old")


def test_training_lowers_the_loss_and_learns_the_sequence() -> None:
    bridge = build_bridge("tiny-fid", BridgeFormat(k=5), seed=0)
    optimizer = torch.optim.AdamW(bridge.trainable_parameters(), lr=3e-3)
    queries, lists, targets = ["q a", "q b"], [PASSAGES, PASSAGES[:3]], [[2, 0, 2], []]
    first = bridge.loss(queries, lists, targets).item()
    for _ in range(150):
        loss = bridge.loss(queries, lists, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 4
    assert bridge.generate(queries, lists) == targets


def test_sequence_logprobs_follow_the_constraint(tiny: Bridge) -> None:
    logprobs, mask = tiny.sequence_logprobs(["q"], [PASSAGES[:2]], [[1, 1]])
    assert mask.tolist() == [[True, True, True]]  # <p2> <p2> stop
    assert torch.all(logprobs <= 0) and torch.all(logprobs > -50)
    full = tiny.sequence_logprobs(["q"], [PASSAGES], [[0, 1, 2, 3]])[0]
    assert full[0, 4].item() == pytest.approx(0.0)  # after max_ids ids only stop may follow
    with pytest.raises(ValueError, match="not a valid sequence"):
        tiny.sequence_logprobs(["q"], [PASSAGES[:2]], [[2]])
    # the probabilities of every sequence over 2 candidates with at most 2 ids sum to 1
    small = build_bridge("tiny-fid", BridgeFormat(k=2, max_ids=2), seed=4)
    small.model.eval()
    sequences = [[], [0], [1], [0, 0], [0, 1], [1, 0], [1, 1]]
    with torch.no_grad():
        values, _ = small.sequence_logprobs(["q"] * 7, [PASSAGES[:2]] * 7, sequences)
    assert values.sum(1).exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_a_soft_first_target_weighs_each_first_action_by_its_share(tiny: Bridge) -> None:
    """The loss with a first-decision distribution equals, computed another way, the share-
    weighted log-probs of each first action plus the silver's later decisions."""
    lists, silver = [PASSAGES[:3]], [[1, 0]]
    share = torch.tensor([[0.2, 0.5, 0.0, 0.0, 0.0, 0.3]])  # <p1>, <p2>, (stop: empty)
    tiny.model.eval()
    with torch.no_grad():
        soft = tiny.loss(["q"], lists, silver, first_targets=share).item()
        hard = tiny.loss(["q"], lists, silver).item()
        steps, _ = tiny.sequence_logprobs(["q"], lists, silver)  # <p2>, <p1>, stop
        first = {a: tiny.sequence_logprobs(["q"], lists, [seq])[0][0, 0].item()
                 for a, seq in ((0, [0]), (1, [1]), (5, []))}
    later = steps[0, 1:].sum().item()
    assert hard == pytest.approx(-(steps.sum().item()) / 3, abs=1e-5)
    assert soft == pytest.approx(-(0.2 * first[0] + 0.5 * first[1] + 0.3 * first[5] + later)
                                 / 3, abs=1e-5)
    with pytest.raises(ValueError, match="not allowed"):  # mass on a missing 4th candidate
        tiny.loss(["q"], lists, silver,
                  first_targets=torch.tensor([[0.5, 0.0, 0.0, 0.5, 0.0, 0.0]]))


def test_first_step_targets_mix_the_silver_with_the_utilities_softmax() -> None:
    item = make_candidates(2, k=3)
    example = BridgeExample(item[0], (1, 0), singles=(10.0, 30.0, None, 20.0))
    untraced = BridgeExample(item[1], ())
    targets = first_step_targets([example, untraced], k=4, weight=0.5, temperature=10.0)
    exps = [math.exp(1.0), math.exp(3.0), 0.0, 0.0, math.exp(2.0)]  # c untried, 4th absent
    soft = [e / sum(exps) for e in exps]
    expected = [0.5 * s + (0.5 if n == 1 else 0.0) for n, s in enumerate(soft)]
    assert targets[0].tolist() == pytest.approx(expected, abs=1e-6)
    assert targets[1].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]  # empty silver, no utilities
    assert first_step_targets([example], k=4, weight=0.0, temperature=10.0)[0].tolist() == [
        0.0, 1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="utility_targets"):
        SLConfig(utility_targets=1.5)


def test_training_on_soft_first_targets_learns_their_spread() -> None:
    """Imitating the argmax makes the first choice certain; a 50/50 target between two
    candidates that tie leaves both near one half."""
    bridge = build_bridge("tiny-fid", BridgeFormat(k=3), seed=0)
    optimizer = torch.optim.AdamW(bridge.trainable_parameters(), lr=3e-3)
    share = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    for _ in range(150):
        loss = bridge.loss(["q"], [PASSAGES[:3]], [[0]], first_targets=share)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    bridge.model.eval()
    with torch.no_grad():
        values, _ = bridge.sequence_logprobs(["q", "q"], [PASSAGES[:3]] * 2, [[0], [1]])
    assert values[:, 0].exp().tolist() == pytest.approx([0.5, 0.5], abs=0.08)


def _examples(count: int) -> list[BridgeExample]:
    items = make_candidates(count, k=3)
    return [BridgeExample(item, silver) for item, silver in
            zip(items, [(1, 0), (0, 0), (), (2,)] * count, strict=False)]


def test_sl_resume_continues_the_same_run(tmp_path: Path) -> None:
    rewards = {f"q{n}": {"b|a": 80.0, "a|a": 60.0, "": 30.0, "c": 10.0} for n in range(8)}
    task = SequenceRewardTask(rewards)
    train, dev = _examples(8), _examples(4)
    config = SLConfig(family="tiny-fid", epochs=2, batch_size=4, learning_rate=1e-3)

    def judge(name: str) -> Judge:
        return Judge(task, CachedLLM(EchoLLM(), tmp_path / f"{name}.sqlite"))

    straight = train_sl(train, dev, judge("a"), config, tmp_path / "straight", k=3)
    one = train_sl(train, dev, judge("b"), SLConfig(**{**config.__dict__, "epochs": 1}),
                   tmp_path / "resumed", k=3)
    assert one["epoch"] == 1 and (tmp_path / "resumed" / "checkpoint-1" / "state.json").exists()
    with pytest.raises(ValueError, match=r"other settings \(seed\)"):
        train_sl(train, dev, judge("b"), SLConfig(**{**config.__dict__, "seed": 5}),
                 tmp_path / "resumed", k=3)
    # a checkpoint written before a knob existed resumes as if it had the knob's default
    state_path = tmp_path / "resumed" / "checkpoint-1" / "state.json"
    state = json.loads(state_path.read_text())
    for added in ("utility_targets", "utility_temperature"):
        del state["config"][added]
    state_path.write_text(json.dumps(state))
    resumed = train_sl(train, dev, judge("b"), config, tmp_path / "resumed", k=3)
    assert resumed["losses"] == pytest.approx(straight["losses"], abs=1e-5)
    assert [d["metric"] for d in resumed["dev"]] == [d["metric"] for d in straight["dev"]]
    assert (tmp_path / "resumed" / "model" / "bridge_config.json").exists()
    # only the newest checkpoint is kept
    assert [p.name for p in (tmp_path / "resumed").glob("checkpoint-*")] == ["checkpoint-2"]


def test_sl_resume_refuses_a_changed_silver(tmp_path: Path) -> None:
    """A checkpoint trained on one silver is not continued (or returned as done) on another."""
    task = SequenceRewardTask({f"q{n}": {"b": 80.0} for n in range(8)})
    judge = Judge(task, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    config = SLConfig(family="tiny-fid", epochs=1, batch_size=4, learning_rate=1e-3)
    train = _examples(8)
    train_sl(train, _examples(4), judge, config, tmp_path / "out", k=3)
    relabelled = [BridgeExample(e.item, (2,)) for e in train]
    with pytest.raises(ValueError, match="trained on other examples or silver"):
        train_sl(relabelled, _examples(4), judge, config, tmp_path / "out", k=3)
    again = train_sl(train, _examples(4), judge, config, tmp_path / "out", k=3)
    assert again["epoch"] == 1


def test_a_silver_longer_than_the_bridge_may_emit_is_refused_before_training(
        tmp_path: Path) -> None:
    """Top-K as the silver at K=10 has 10 ids; a bridge of at most 5 must say so at once, not
    fail in its first batch."""
    task = SequenceRewardTask({f"q{n}": {"b": 80.0} for n in range(8)})
    judge = Judge(task, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    items = make_candidates(4, k=3)
    train = [BridgeExample(items[0], (0,)), BridgeExample(items[1], (0, 1, 2, 0)),
             BridgeExample(items[2], ()), BridgeExample(items[3], (2, 1))]
    config = SLConfig(family="tiny-fid", epochs=1, batch_size=4, max_ids=3)
    with pytest.raises(ValueError, match=rf"{items[1].example.id!r} has 4 ids.*--max-ids 4"):
        train_sl(train, [], judge, config, tmp_path / "out", k=3)
    assert not list((tmp_path / "out").glob("checkpoint-*"))
    history = train_sl(train, [], judge, SLConfig(**{**config.__dict__, "max_ids": 4}),
                       tmp_path / "out", k=3)
    assert history["epoch"] == 1


def test_sl_without_dev_keeps_the_last_epoch_and_says_so(tmp_path: Path) -> None:
    task = SequenceRewardTask({f"q{n}": {"b": 80.0} for n in range(8)})
    judge = Judge(task, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    config = SLConfig(family="tiny-fid", epochs=2, batch_size=4, learning_rate=1e-3)
    history = train_sl(_examples(8), [], judge, config, tmp_path / "out", k=3)
    assert history["best_epoch"] == 2 and history["selection"].startswith("last epoch")
    last = Bridge.from_pretrained(tmp_path / "out" / "checkpoint-2")
    model = Bridge.from_pretrained(tmp_path / "out" / "model")
    assert all(torch.equal(a, b) for a, b in zip(last.model.state_dict().values(),
                                                 model.model.state_dict().values(),
                                                 strict=True))


def test_a_checkpoint_left_half_written_by_a_crash_is_pruned(tmp_path: Path) -> None:
    from ragbridge.folders import prune_checkpoints, save_folder

    out = tmp_path / "out"
    (out / ".checkpoint-3.part").mkdir(parents=True)  # a crash while writing checkpoint 3
    (out / ".checkpoint-3.part" / "weights.bin").write_bytes(b"0" * 1000)
    kept = save_folder(out / "checkpoint-4", lambda f: (f / "state.json").write_text("{}"))
    prune_checkpoints(out, keep=kept)
    assert sorted(p.name for p in out.iterdir()) == [".checkpoint-4.lock", "checkpoint-4"]


WORDS = ["ocean", "river", "mountain", "desert", "forest", "island", "volcano", "glacier",
         "canyon", "valley", "meadow", "harbor", "castle", "temple", "bridge", "tower"]


def _content_task(count: int, seed: int) -> list[tuple[str, list[Passage], list[int]]]:
    """The query names one candidate's topic word; candidates are shuffled, so only reading
    them finds it (a constant position is right 1 time in 4)."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        topics = rng.sample(WORDS, 4)
        passages = [Passage(t, f"A long text about the {t}, its history and its visitors.",
                            t.title()) for t in topics]
        target = rng.randrange(4)
        examples.append((f"tell me about the {topics[target]}", passages, [target]))
    return examples


def test_the_real_minilm_bridge_reads_its_input(tmp_path: Path,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    """The bundled MiniLM FiD bridge learns to point by content within 60 steps of 8; its
    choices vary with the query (a constant output would score about 25%); saved and loaded,
    it chooses the same, and neither building nor loading reports weights missing or unused."""
    capfd.readouterr()
    bridge = build_bridge("minilm-fid", BridgeFormat(k=4, passage_tokens=24, query_tokens=16))
    built = capfd.readouterr().err
    assert "MISSING" not in built and "UNEXPECTED" not in built
    train, dev = _content_task(480, seed=0), _content_task(40, seed=1)
    decoder = {id(p) for p in bridge.model.decoder.parameters()}
    trainable = list(bridge.trainable_parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in trainable if id(p) not in decoder], "lr": 5e-5},
         {"params": [p for p in trainable if id(p) in decoder], "lr": 5e-4}])
    torch.manual_seed(0)
    for step in range(60):
        batch = train[step * 8:(step + 1) * 8]
        loss = bridge.loss([q for q, _, _ in batch], [p for _, p, _ in batch],
                           [y for _, _, y in batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    chosen = bridge.generate([q for q, _, _ in dev], [p for _, p, _ in dev])
    accuracy = sum(c == y for c, (_, _, y) in zip(chosen, dev, strict=True)) / len(dev)
    assert accuracy >= 0.8, chosen
    assert len({tuple(c) for c in chosen}) >= 3
    bridge.save_pretrained(tmp_path / "minilm")
    capfd.readouterr()
    loaded = Bridge.from_pretrained(tmp_path / "minilm")
    reloaded = capfd.readouterr().err
    assert "MISSING" not in reloaded and "UNEXPECTED" not in reloaded
    assert loaded.generate([q for q, _, _ in dev], [p for _, p, _ in dev]) == chosen


def test_by_default_a_bridge_reading_k_candidates_may_say_all_k(tmp_path: Path) -> None:
    """Top-K is a silver (and the baseline to beat): at K=7, with no --max-ids, SL trains on
    a seven-id silver, and the bridge it saves (as RL-only's fresh start) may emit seven ids,
    against the fixed 5 before."""
    from ragbridge.bridge.rl import RLConfig
    from ragbridge.bridge.rl_stage import _start

    k = 7
    task = SequenceRewardTask({f"q{n}": {"b": 80.0} for n in range(4)})
    judge = Judge(task, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    items = make_candidates(4, k=k)
    train = [BridgeExample(items[0], tuple(range(k))), BridgeExample(items[1], (3,)),
             BridgeExample(items[2], ()), BridgeExample(items[3], (6, 0))]
    history = train_sl(train, [], judge, SLConfig(family="tiny-fid", epochs=1, batch_size=4),
                       tmp_path / "out", k=k)
    assert history["config"]["max_ids"] == k
    assert Bridge.from_pretrained(tmp_path / "out" / "model").format.max_ids == k
    fresh = _start(None, "tiny-fid", k, RLConfig())  # type: ignore[arg-type]
    assert fresh.format.max_ids == k
    assert SLConfig(max_ids=9).bridge_format(k).max_ids == 9  # more, for repeats
