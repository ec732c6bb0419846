"""Task metrics on a 0-100 scale: SQuAD-normalised EM / F1 / containment, BLEU, ROUGE-L."""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, fold white space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """100 if the normalised prediction equals any normalised answer, else 0."""
    normalized = normalize_answer(prediction)
    return 100.0 if any(normalized == normalize_answer(a) for a in answers) else 0.0


def token_f1(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """Best token-level F1 (0-100) of the prediction against any answer."""
    predicted_tokens = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        answer_tokens = normalize_answer(answer).split()
        common = Counter(predicted_tokens) & Counter(answer_tokens)
        overlap = sum(common.values())
        if overlap == 0:
            continue
        precision = overlap / len(predicted_tokens)
        recall = overlap / len(answer_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return 100.0 * best


def contains_answer(text: str, answers: list[str] | tuple[str, ...]) -> bool:
    """Whether any normalised answer occurs in the normalised text as whole words."""
    haystack = f" {normalize_answer(text)} "
    for answer in answers:
        needle = normalize_answer(answer)
        if needle and f" {needle} " in haystack:
            return True
    return False


def answer_accuracy(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """Answer containment accuracy: 100 if an answer occurs in the prediction, else 0."""
    return 100.0 if contains_answer(prediction, answers) else 0.0


def sentence_bleu(prediction: str, reference: str) -> float:
    """Smoothed sentence BLEU (sacrebleu, 0-100)."""
    from sacrebleu.metrics import BLEU

    return float(_bleu(BLEU).sentence_score(prediction, [reference]).score)


@lru_cache(maxsize=1)
def _bleu(bleu_class: type) -> object:
    return bleu_class(effective_order=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge-score, stemmed, 0-100)."""
    return 100.0 * _rouge().score(reference, prediction)["rougeL"].fmeasure


@lru_cache(maxsize=1)
def _rouge() -> object:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
