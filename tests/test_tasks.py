"""Prompt building (order kept, repeats allowed, huge passages truncated) and scoring."""

from ragbridge.records import Example, Passage
from ragbridge.tasks import get_task


def test_qa_prompt_keeps_order_and_repeats(small_corpus, qa_example) -> None:
    task = get_task("qa")
    ocean, tower = small_corpus[2], small_corpus[0]
    prompt = task.build_prompt(qa_example, [ocean, tower, ocean])
    assert prompt.count("Pacific Ocean is the largest") == 2
    assert prompt.index("[1] Pacific Ocean") < prompt.index("[2] Eiffel Tower")
    assert "[3] Pacific Ocean" in prompt
    assert prompt.rstrip().endswith(f"Question: {qa_example.query}")


def test_qa_prompt_without_passages(qa_example) -> None:
    prompt = get_task("qa").build_prompt(qa_example, [])
    assert "[1]" not in prompt and qa_example.query in prompt


def test_huge_passage_is_truncated(qa_example) -> None:
    task = get_task("qa")
    huge = Passage("h", "word " * 50_000, "Huge")
    prompt = task.build_prompt(qa_example, [huge])
    assert len(prompt.split()) < task.max_passage_words + 40


def test_generation_prompt_and_scores() -> None:
    task = get_task("email-subject")
    example = Example("e1", "Can we move the budget meeting to Friday?",
                      target="Budget meeting", group="alice")
    past = Passage("m1", "Meeting about the budget.", "Budget review", "alice")
    prompt = task.build_prompt(example, [past, past])
    assert prompt.count("Subject: Budget review") == 2
    scores = task.score("Subject: Budget meeting", example)
    assert scores["bleu"] > 99 and scores["rougeL"] > 99


def test_qa_score_all_metrics(qa_example) -> None:
    scores = get_task("qa").score("The Pacific Ocean", qa_example)
    assert scores == {"accuracy": 100.0, "em": 100.0, "f1": 100.0}
