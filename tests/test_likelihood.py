"""The likelihood utility: a hand computation on a tiny model, the cache, batch-size
invariance on the real model, the QA answer choice, and the silver search with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from silver_fakes import SequenceRewardTask, TableScorer, make_candidates

from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.llms.base import LLMError
from ragbridge.llms.hf import TransformersLLM
from ragbridge.records import Example
from ragbridge.silver.search import SilverConfig, search_batch
from ragbridge.tasks import get_task


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> TransformersLLM:
    """A tiny random Llama with the bundled SmolLM2 tokenizer and chat template."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ragbridge.llms.hf import smollm2_folder

    folder = tmp_path_factory.mktemp("tiny-llm")
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder())
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32,
                                 intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=2,
                                 eos_token_id=tokenizer.eos_token_id)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TransformersLLM(folder, dtype="float32", batch_size=3)


def test_likelihood_equals_a_hand_computation(tiny_llm: TransformersLLM) -> None:
    prompt, reference = "What is the capital of France?", "Paris"
    (value,) = tiny_llm.score([prompt], [reference])
    tokenizer = tiny_llm.tokenizer
    context = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            tokenize=False, add_generation_prompt=True)
    reply = tokenizer(reference + "<|im_end|>", add_special_tokens=False).input_ids
    ids = tokenizer(context, add_special_tokens=False).input_ids + reply
    with torch.no_grad():
        logits = tiny_llm.model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, -1)
    start = len(ids) - len(reply)
    expected = sum(logprobs[start + i - 1, token].item() for i, token in enumerate(reply))
    assert value.tokens == len(reply) == 2  # "Paris", then <|im_end|>
    assert value.total == pytest.approx(expected, abs=1e-5)
    assert value.mean == pytest.approx(expected / 2, abs=1e-5)


def test_likelihood_is_cached(tiny_llm: TransformersLLM, tmp_path: Path) -> None:
    calls = []
    original = tiny_llm.score

    def counting(prompts, references):  # type: ignore[no-untyped-def]
        calls.append(len(prompts))
        return original(prompts, references)

    tiny_llm.score = counting  # type: ignore[method-assign]
    try:
        cached = CachedLLM(tiny_llm, tmp_path / "cache.sqlite")
        first = cached.score(["a?", "b?", "a?"], ["x", "y", "x"])
        assert calls == [2] and cached.stats.scored == 2 and cached.stats.score_hits == 1
        reopened = CachedLLM(tiny_llm, tmp_path / "cache.sqlite")
        assert reopened.score(["b?", "a?"], ["y", "x"]) == [first[1], first[0]]
        assert calls == [2] and reopened.stats.scored == 0
    finally:
        del tiny_llm.score


def test_fp32_likelihoods_are_identical_across_batch_sizes(smollm2) -> None:
    """Bit-identical with one thread. With two, the Xeon's AVX-512 kernels split a single
    prompt's matrix products across threads and round differently from a batch of four
    (measured: at most 1.3e-6 relative; the EPYC stayed bit-identical), so there the values
    are held to 1e-5 relative, which a padding or masking mistake (>= 1e-3) exceeds."""
    prompts = ["Answer the question with a short answer.\nQuestion: who wrote hamlet",
               "What is the largest ocean?", "Write the subject line for the email below.\n"
               "Email:\nLunch on Friday at noon? I booked the usual place. " * 3,
               "Name a prime number."]
    references = ["William Shakespeare", "The Pacific Ocean", "Friday lunch", "7"]

    def both() -> tuple[list, list]:
        together = smollm2.score(prompts, references)  # the fixture's batch size: 4
        return together, [smollm2.score([p], [r])[0]
                          for p, r in zip(prompts, references, strict=True)]

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        together, one_at_a_time = both()
    finally:
        torch.set_num_threads(threads)
    assert together == one_at_a_time
    assert all(v.total < 0 and v.tokens >= 2 for v in together)
    threaded, threaded_singles = both()
    for batched, single, exact in zip(threaded, threaded_singles, together, strict=True):
        assert batched.tokens == single.tokens == exact.tokens
        assert batched.total == pytest.approx(single.total, rel=1e-5)
        assert single.total == pytest.approx(exact.total, rel=1e-5)


def test_qa_likelihood_takes_the_best_gold_answer(smollm2, tmp_path: Path) -> None:
    task = get_task("qa")
    judge = Judge(task, CachedLLM(smollm2, tmp_path / "c.sqlite"), utility="likelihood")
    example = Example("q", "what is the capital of france", answers=("xq zz vv", "Paris"))
    (judgment,) = judge.judge([example], [[]])
    singles = judge.llm.score([judgment.prompt] * 2, ["xq zz vv", "Paris"])
    assert judgment.likelihood == max(singles, key=lambda v: v.mean)
    assert judgment.likelihood == singles[1] and judgment.output is None
    assert judge.utility(judgment) == singles[1].mean


def _table() -> dict[str, dict[str, float]]:
    # the metric (task rewards) and the likelihood disagree on purpose
    return {"q0": {"": -3.0, "a": -2.0, "b": -2.5, "a|c": -1.0, "a|c|c": -1.2},
            "q1": {"": -1.0, "a": -1.5, "b": -2.0, "c": -1.1},
            "q2": {"": -4.0, "c": -3.0, "c|c": -2.0, "c|c|b": -1.9, "c|c|b|a": -1.95}}


REWARDS = {"q0": {"": 0, "b": 50, "b|a": 80}, "q1": {"": 10, "c": 30}, "q2": {"": 0, "a": 5}}


def test_silver_search_with_the_likelihood_finds_the_known_optimum(tmp_path: Path) -> None:
    items = make_candidates(3)
    llm = CachedLLM(TableScorer(_table()), tmp_path / "c.sqlite")
    task = SequenceRewardTask(REWARDS)
    by_likelihood = search_batch(items, Judge(task, llm, utility="likelihood"), SilverConfig())
    assert [r["silver"] for r in by_likelihood] == [["a", "c"], [], ["c", "c", "b"]]
    assert [r["utility_score"] for r in by_likelihood] == [-1.0, -1.0, -1.9]
    assert [r["score"] for r in by_likelihood] == [0, 10, 0]  # the metric of each choice
    assert by_likelihood[0]["trace"][1]["tried"][0] == {"append": 0, "utility": -2.0,
                                                        "loglik": -2.0}
    by_metric = search_batch(items, Judge(task, llm), SilverConfig())
    assert [r["silver"] for r in by_metric] == [["b", "a"], ["c"], ["a"]]
    # a minimum improvement stops the search before small gains
    cautious = search_batch(items, Judge(task, llm, utility="likelihood"),
                            SilverConfig(min_improvement=0.5))
    assert [r["silver"] for r in cautious] == [["a", "c"], [], ["c", "c"]]


def test_metric_ties_are_broken_by_the_likelihood(tmp_path: Path) -> None:
    items = make_candidates(3)
    llm = CachedLLM(TableScorer(_table()), tmp_path / "c.sqlite")
    flat = SequenceRewardTask({"q0": {}, "q1": {}, "q2": {"": 0, "a": 5}})  # q0, q1: all tie
    records = search_batch(items, Judge(flat, llm, utility="metric+likelihood"),
                           SilverConfig())
    assert [r["silver"] for r in records] == [["a", "c"], [], ["a"]]
    plain = search_batch(items, Judge(flat, llm), SilverConfig())
    assert [r["silver"] for r in plain] == [[], [], ["a"]]


def test_a_backend_that_cannot_score_says_so(tmp_path: Path) -> None:
    from silver_fakes import EchoLLM

    with pytest.raises(LLMError, match="cannot score"):
        CachedLLM(EchoLLM(), tmp_path / "c.sqlite").score(["p"], ["r"])


SHARED_CASES = [
    ("Answer the question with a short answer, using the passages.\n[1] Pacific Ocean: The "
     "Pacific Ocean is the largest and deepest of Earth's five oceanic divisions.\n"
     "Question: what is the largest ocean", ["Pacific Ocean", "the Pacific"]),
    ("What is the capital of France? Answer in one word.", ["Paris"]),
    ("Write the subject line for the email below. Reply with the subject only.\nEmail:\n"
     "Lunch on Friday at noon? I booked the usual place.", ["Friday lunch", "Lunch", "x"]),
    ("Name a prime number.", []),
]


def _hf_generate(llm: TransformersLLM, prompt: str, settings) -> str:  # type: ignore[no-untyped-def]
    """transformers' own `generate`, one prompt at a time: the independent reference."""
    text = llm._chat_text(prompt)
    encoded = llm.tokenizer([text], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = llm.model.generate(**encoded, max_new_tokens=settings.max_new_tokens,
                                 do_sample=False, temperature=None, top_p=None, top_k=None,
                                 pad_token_id=llm.tokenizer.pad_token_id,
                                 stop_strings=["\n"], tokenizer=llm.tokenizer)
    new = llm.tokenizer.decode(out[0, encoded.input_ids.shape[1]:], skip_special_tokens=True)
    return new.strip().split("\n", 1)[0].strip()


def test_one_pass_generation_and_scoring_match_separate_passes(smollm2) -> None:
    from ragbridge.llms import GenerationSettings

    settings = GenerationSettings(max_new_tokens=12)
    prompts = [p for p, _ in SHARED_CASES]
    references = [r for _, r in SHARED_CASES]
    outputs, scored = smollm2.generate_scored(prompts, settings, references)
    assert outputs == [_hf_generate(smollm2, p, settings) for p in prompts]
    assert [len(values) for values in scored] == [2, 1, 3, 0]
    for prompt, refs, values in zip(prompts, references, scored, strict=True):
        separate = smollm2.score([prompt] * len(refs), refs)  # full forward per pair
        assert [v.tokens for v in values] == [v.tokens for v in separate]
        for mine, theirs in zip(values, separate, strict=True):
            assert mine.total == pytest.approx(theirs.total, abs=2e-4)


def test_generate_and_score_is_cached_and_takes_one_pass(smollm2, tmp_path: Path) -> None:
    from ragbridge.llms import GenerationSettings

    settings = GenerationSettings(max_new_tokens=8)
    calls: list[str] = []

    class Counting:
        identity = smollm2.identity

        def generate(self, prompts, settings):  # type: ignore[no-untyped-def]
            calls.append("generate")
            return smollm2.generate(prompts, settings)

        def score(self, prompts, references):  # type: ignore[no-untyped-def]
            calls.append("score")
            return smollm2.score(prompts, references)

        def generate_scored(self, prompts, settings, references):  # type: ignore[no-untyped-def]
            calls.append("both")
            return smollm2.generate_scored(prompts, settings, references)

    llm = CachedLLM(Counting(), tmp_path / "c.sqlite")
    prompts, references = ["Name a colour.", "Name a fruit."], [["red", "blue"], ["apple"]]
    llm.generate(["Name a colour."], settings)  # generated before: only its scores miss
    calls.clear()
    outputs, scored = llm.generate_and_score(prompts, settings, references)
    assert calls == ["both", "score"]  # the fruit in one pass, the colour's scores alone
    assert llm.stats.scored == 3 and llm.stats.score_hits == 0
    assert outputs == llm.generate(prompts, settings)
    assert scored == [llm.score(["Name a colour."] * 2, ["red", "blue"]),
                      llm.score(["Name a fruit."], ["apple"])]
    calls.clear()
    again = CachedLLM(Counting(), tmp_path / "c.sqlite")
    assert again.generate_and_score(prompts, settings, references) == (outputs, scored)
    assert calls == [] and again.stats.calls == 0 and again.stats.scored == 0
