"""Backends installed in CI give the reference's answers on a handful of prompts (greedy).

fp32 transformers at any batch size must be identical to the one-at-a-time reference;
llama.cpp (quantized kernels, other numerics) and the default backend (bf16 where the CPU
has it) one prompt at a time must get the same answers right and wrong as the reference
(answer containment per prompt). Batched bf16 rounds differently with the padding of its
batch: it is held to losing at most one answer here, and to within 1 point of the
reference's accuracy on 200 dev questions in BENCHMARKS.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragbridge.llms import DEFAULT_LLM, GenerationSettings, build_llm
from ragbridge.llms.hf import cpu_has_native_bf16
from ragbridge.tasks.metrics import contains_answer

CASES = [
    ("What is the capital of France? Answer in one word.", ["Paris"]),
    ("Answer the question with a short answer, using the passages.\n"
     "[1] Pacific Ocean: The Pacific Ocean is the largest and deepest of Earth's five oceanic "
     "divisions.\nQuestion: what is the largest ocean", ["Pacific Ocean"]),
    ("Answer the question with a short answer, using the passages.\n"
     "[1] Alexander Graham Bell: Alexander Graham Bell was a Scottish-born inventor who is "
     "credited with patenting the first practical telephone.\n"
     "Question: who made the first telephone", ["Alexander Graham Bell"]),
    ("Answer the question with a short answer, using the passages.\n"
     "[1] Eiffel Tower: The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars "
     "in Paris, France.\nQuestion: in which city is the eiffel tower", ["Paris"]),
]
PROMPTS = [prompt for prompt, _ in CASES]
# room for the whole short answer: at 12 tokens bf16 on an AMX Xeon wrote "The Eiffel Tower is
# a wrought-iron lattice tower on" and lost "Paris" to truncation, not to a wrong answer
SETTINGS = GenerationSettings(max_new_tokens=24)


@pytest.fixture(scope="module")
def reference(smollm2) -> list[str]:
    return smollm2.generate(PROMPTS, SETTINGS)


def _correct(outputs: list[str]) -> list[bool]:
    return [contains_answer(o, answers) for o, (_, answers) in zip(outputs, CASES, strict=True)]


def test_reference_answers_correctly(reference: list[str]) -> None:
    assert _correct(reference) == [True] * len(CASES)


def test_fp32_batched_is_identical_to_one_at_a_time(reference: list[str]) -> None:
    one_at_a_time = build_llm("smollm2-fp32", batch_size=1)
    singles = [one_at_a_time.generate([prompt], SETTINGS)[0] for prompt in PROMPTS]
    assert build_llm("smollm2-fp32", batch_size=4).generate(PROMPTS, SETTINGS) == singles
    assert reference == singles


def test_default_backend_is_bf16_where_native_and_gives_the_same_answers(
        reference: list[str]) -> None:
    llm = build_llm(DEFAULT_LLM, batch_size=1)
    assert llm.identity.endswith("bfloat16" if cpu_has_native_bf16() else "float32")
    assert _correct(llm.generate(PROMPTS, SETTINGS)) == _correct(reference)


def test_bf16_batched_loses_at_most_one_answer(reference: list[str]) -> None:
    outputs = build_llm("smollm2-bf16", batch_size=4).generate(PROMPTS, SETTINGS)
    assert sum(_correct(outputs)) >= sum(_correct(reference)) - 1


def test_llamacpp_gives_the_same_answers(reference: list[str]) -> None:
    outputs = build_llm("llamacpp").generate(PROMPTS, SETTINGS)
    assert _correct(outputs) == _correct(reference)


def test_llamacpp_reply_does_not_depend_on_the_previous_prompt() -> None:
    """The same prompt alone, after prompts sharing its prefix, and in reverse order gets the
    same reply: the cache and replay rest on it (reusing the previous prompt's key/value
    cache changed 3-6 of 54 Qwen2.5-Coder-0.5B replies; benchmarks/llamacpp_determinism.py)."""
    llm = build_llm("llamacpp")
    stem = ("Answer the question with a short answer, using the passages.\n" + "".join(
        f"[{n}] {title}: {text}\n" for n, (title, text) in enumerate(
            [("Pacific Ocean", "The Pacific Ocean is the largest of the oceanic divisions."),
             ("Atlantic Ocean", "The Atlantic Ocean is the second-largest ocean."),
             ("Indian Ocean", "The Indian Ocean is the third-largest ocean.")], start=1)))
    prompts = [stem + f"Question: {q}" for q in
               ("what is the largest ocean", "what is the second largest ocean",
                "which ocean is the third largest", "name an ocean")]
    settings = GenerationSettings(max_new_tokens=16)
    alone = [build_llm("llamacpp").generate([p], settings)[0] for p in prompts]
    assert llm.generate(prompts, settings) == alone
    assert llm.generate(prompts[::-1], settings) == alone[::-1]


def test_llamacpp_evaluates_every_prompt_whole() -> None:
    """Each prompt is evaluated from its first token, although the previous one shares its
    prefix: a reused key/value cache (the old behaviour) evaluated only the new suffix."""
    llm = build_llm("llamacpp")
    stem = "Answer the question with a short answer.\n[1] Pacific Ocean: the largest ocean.\n"
    prompts = [stem + "Question: what is the largest ocean", stem + "Question: name an ocean"]
    evaluated: list[int] = []
    original_eval = llm.model.eval

    def counting_eval(tokens):  # noqa: ANN001, ANN202
        evaluated.append(len(tokens))
        return original_eval(tokens)

    llm.model.eval = counting_eval
    lengths = []
    for prompt in prompts:
        evaluated.clear()
        llm.generate([prompt], GenerationSettings(max_new_tokens=1))
        rendered = llm._render([{"role": "user", "content": prompt}], True)
        lengths.append((sum(evaluated), len(llm.model.tokenize(rendered.encode(),
                                                                 special=True))))
    for total, prompt_tokens in lengths:
        assert total >= prompt_tokens


def test_named_gguf_is_fetched_and_loaded_only_on_a_cache_miss(tmp_path, monkeypatch) -> None:
    """Replayed judgments never touch the model file; the first miss fetches, loads, answers
    (the bundled SmolLM2 GGUF stands in for the 1.1 GB download)."""
    import ragbridge.assets
    from ragbridge.llms import CachedLLM
    from ragbridge.llms.cache import cache_key

    fetched: list[str] = []

    def fake_fetch(name: str):  # noqa: ANN202
        fetched.append(name)
        return ragbridge.assets.smollm2_gguf()

    monkeypatch.setattr(ragbridge.assets, "split_gguf", fake_fetch)
    cached = CachedLLM(build_llm("llamacpp:qwen2.5-coder-0.5b"), tmp_path / "cache.sqlite")
    assert cached.identity == "llama.cpp:qwen2.5-coder-0.5b"
    cached._store([(cache_key(cached.identity, SETTINGS, PROMPTS[1]), "the Pacific")])
    assert cached.generate([PROMPTS[1]], SETTINGS) == ["the Pacific"]
    assert fetched == [] and not cached.llm.loaded
    output = cached.generate([PROMPTS[0]], SETTINGS)[0]
    assert fetched == ["qwen2.5-coder-0.5b"] and cached.llm.loaded
    assert contains_answer(output, ["Paris"])
    with pytest.raises(ValueError, match="unknown model"):
        build_llm("llamacpp:no-such-model")


def test_llamacpp_counts_prompt_tokens_as_the_models_own_tokenizer_does() -> None:
    """Prompt lengths through llama.cpp are the model's tokens (the GGUF's vocabulary), the
    same counts as the transformers tokenizer of the same model, not whitespace words."""
    from transformers import AutoTokenizer

    from ragbridge.assets import smollm2_gguf
    from ragbridge.llms.hf import smollm2_folder
    from ragbridge.llms.llamacpp import gguf_token_counter

    reference = AutoTokenizer.from_pretrained(smollm2_folder())
    expected = [len(reference(p, add_special_tokens=False).input_ids) for p in PROMPTS]
    assert [build_llm("llamacpp").token_counter()(p) for p in PROMPTS] == expected
    assert [gguf_token_counter(smollm2_gguf())(p) for p in PROMPTS] == expected
    assert expected != [len(p.split()) for p in PROMPTS]


def test_a_lazy_llm_counts_tokens_from_a_fetched_file_and_words_otherwise(
        tmp_path, monkeypatch) -> None:
    """A named GGUF already on disk gives token counts without loading its weights; one not
    yet fetched is never fetched for a count: the judge says it counts words."""
    import ragbridge.assets
    from ragbridge.judge import Judge
    from ragbridge.llms import CachedLLM
    from ragbridge.tasks import get_task

    def no_fetch(name: str):  # noqa: ANN202
        raise AssertionError("a token count must not fetch the model")

    monkeypatch.setattr(ragbridge.assets, "split_gguf", no_fetch)
    monkeypatch.setattr(ragbridge.assets, "fetched_split_gguf",
                        lambda name: ragbridge.assets.smollm2_gguf())
    on_disk = build_llm("llamacpp:qwen2.5-coder-0.5b")
    judge = Judge(get_task("qa"), CachedLLM(on_disk, tmp_path / "a.sqlite"))
    assert judge.length_unit == "tokens" and not on_disk.loaded
    assert judge.prompt_tokens(PROMPTS[1]) == build_llm("llamacpp").token_counter()(PROMPTS[1])
    monkeypatch.setattr(ragbridge.assets, "fetched_split_gguf", lambda name: None)
    not_fetched = Judge(get_task("qa"), CachedLLM(build_llm("llamacpp:qwen2.5-coder-0.5b"),
                                                  tmp_path / "b.sqlite"))
    assert not_fetched.length_unit == "words"
    assert not_fetched.prompt_tokens(PROMPTS[1]) == len(PROMPTS[1].split())


def _tiny_causal_lm(folder: Path, seed: int) -> Path:
    """A tiny random Llama with the bundled SmolLM2 tokenizer (mechanics only)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ragbridge.llms.hf import smollm2_folder

    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder())
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_two_model_folders_of_one_name_never_share_judgments(tmp_path: Path) -> None:
    """`hf:a/model` and `hf:b/model` hold other weights: other identities (the cache key);
    a copy of `a/model` elsewhere is the same model and keeps its judgments."""
    import shutil

    first = _tiny_causal_lm(tmp_path / "a" / "model", seed=0)
    second = _tiny_causal_lm(tmp_path / "b" / "model", seed=1)
    copy = shutil.copytree(first, tmp_path / "c" / "model")
    identities = [build_llm(f"hf:{folder}", dtype="float32").identity
                  for folder in (first, second, copy)]
    assert identities[0] != identities[1] and identities[0] == identities[2]
    assert identities[0].startswith("transformers:model@")


def test_a_model_name_that_is_no_local_folder_is_a_clear_offline_error(
        tmp_path: Path, monkeypatch) -> None:
    """Offline by default: no silent hub fetch for `hf:NAME` or `encoder:NAME`."""
    from ragbridge.bridge import build_bridge

    monkeypatch.delenv("RAGBRIDGE_ALLOW_HUB", raising=False)
    with pytest.raises(FileNotFoundError, match=r"'org/missing-model'.*RAGBRIDGE_ALLOW_HUB=1"):
        build_llm("hf:org/missing-model")
    with pytest.raises(FileNotFoundError, match=r"'org/missing-encoder'.*no such local folder"):
        build_bridge("encoder:org/missing-encoder")
