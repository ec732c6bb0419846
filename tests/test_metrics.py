"""Metrics against hand-computed values."""

import pytest

from ragbridge.tasks.metrics import (
    answer_accuracy,
    exact_match,
    normalize_answer,
    rouge_l,
    sentence_bleu,
    token_f1,
)


def test_normalize_drops_case_punctuation_articles() -> None:
    assert normalize_answer("The  Eiffel-Tower, in PARIS!") == "eiffeltower in paris"


def test_exact_match_uses_normalisation() -> None:
    assert exact_match("the Pacific Ocean.", ["Pacific Ocean"]) == 100.0
    assert exact_match("Pacific", ["Pacific Ocean"]) == 0.0


def test_token_f1_hand_computed() -> None:
    # prediction tokens: pacific ocean is big (4); answer: pacific ocean (2); overlap 2
    # precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 0.6667
    assert token_f1("Pacific Ocean is big", ["Pacific Ocean"]) == pytest.approx(66.6667, abs=1e-3)
    assert token_f1("Atlantic", ["Pacific Ocean", "the Atlantic"]) == 100.0
    assert token_f1("nothing", ["Pacific"]) == 0.0


def test_containment_needs_whole_words() -> None:
    assert answer_accuracy("It is the Pacific Ocean, of course", ["pacific ocean"]) == 100.0
    assert answer_accuracy("In 1876 he did", ["876"]) == 0.0


def test_bleu_identical_and_disjoint() -> None:
    assert sentence_bleu("budget meeting moved", "budget meeting moved") == pytest.approx(100.0)
    assert sentence_bleu("zebra", "budget meeting moved") < 1.0


def test_rouge_l_hand_computed() -> None:
    # LCS("the cat sat", "the cat lay down") = 2; P = 2/3, R = 2/4 -> F = 4/7
    assert rouge_l("the cat sat", "the cat lay down") == pytest.approx(100 * 4 / 7, abs=1e-3)
