"""Backends installed in CI give the reference's answers on a handful of prompts (greedy).

fp32 transformers at any batch size must be identical to the one-at-a-time reference;
llama.cpp (quantized kernels, other numerics) and the default backend (bf16 where the CPU
has it) one prompt at a time must get the same answers right and wrong as the reference
(answer containment per prompt). Batched bf16 rounds differently with the padding of its
batch: it is held to losing at most one answer here, and to within 1 point of the
reference's accuracy on 200 dev questions in BENCHMARKS.md.
"""

from __future__ import annotations

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
