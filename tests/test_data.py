"""Data parsing on the real shipped files, and user import with bad lines."""

import json
from pathlib import Path

import pytest

from ragbridge import assets
from ragbridge.data.dataset import split_of
from ragbridge.data.email_subject import build_email_subject, clean_subject, parse_message
from ragbridge.data.nq_wiki import chunk_words, read_nq_open, wikipedia_passages
from ragbridge.data.user_import import import_user_data
from ragbridge.jsonl import InputError, read_jsonl


def test_nq_open_files_parse() -> None:
    dev, test = assets.nq_open_topics()
    rows = read_nq_open(dev)
    assert len(rows) == 8757 and len(read_nq_open(test)) == 3610
    assert rows[0] == ("who sings does he love me with reba", ["Linda Davis"])


def test_wikipedia_passages_are_about_100_words() -> None:
    passages = wikipedia_passages(assets.wikipedia_summaries())
    lengths = [len(p.text.split()) for p in passages]
    assert len(passages) > 10_033  # long lead sections are cut into several passages
    assert max(lengths) < 200 and 60 < sum(lengths) / len(lengths) < 110
    assert all(p.title for p in passages)


def test_chunking_keeps_every_word() -> None:
    text = " ".join(f"Sentence number {i} has six words." for i in range(60))
    chunks = chunk_words(text, 100)
    assert " ".join(chunks).split() == text.split()
    assert all(len(c.split()) <= 130 for c in chunks)


def test_split_is_deterministic() -> None:
    assert [split_of(f"q{i}") for i in range(50)] == [split_of(f"q{i}") for i in range(50)]
    shares = [split_of(f"q{i}") for i in range(5000)]
    assert 0.07 < shares.count("dev") / 5000 < 0.13


def test_real_email_parses() -> None:
    raw = json.loads(next((assets.spam_assassin_dir() / "easy-ham-1").glob("00001.*.json"))
                     .read_text())["text"]
    sender, subject, body = parse_message(raw)
    assert "@" in sender and subject and len(body.split()) >= 5
    assert clean_subject("Re: RE: Fwd: [ILUG] hello  world") == "[ILUG] hello world"


def test_email_subject_never_leaks_target(tmp_path: Path) -> None:
    counts = build_email_subject(tmp_path / "email")
    assert counts["senders"] >= 50 and counts["dev"] >= 200
    corpus = {p["id"]: p for p in read_jsonl(tmp_path / "email" / "corpus.jsonl")}
    groups: dict[str, int] = {}
    for passage in corpus.values():
        groups[passage["group"]] = groups.get(passage["group"], 0) + 1
    assert min(groups.values()) >= 5
    for record in read_jsonl(tmp_path / "email" / "test.jsonl"):
        assert record["exclude"] == [record["id"]]
        assert corpus[record["id"]]["group"] == record["group"]


def test_import_good_data(write_lines, tmp_path: Path) -> None:
    examples = write_lines("ex.jsonl", [
        json.dumps({"id": "a", "query": "q?", "answers": ["x"], "split": "dev"}),
        json.dumps({"id": "b", "query": "r?", "answers": ["y"]})])
    corpus = write_lines("c.jsonl", [json.dumps({"id": "p", "text": "x y"})])
    counts = import_user_data(examples, corpus, tmp_path / "out", "mine", "qa")
    assert counts["corpus"] == 1 and counts["dev"] >= 1
    assert sum(counts[s] for s in ("train", "dev", "test")) == 2


def test_import_reports_every_bad_line_and_writes_nothing(write_lines, tmp_path: Path) -> None:
    examples = write_lines("ex.jsonl", [
        json.dumps({"id": "a", "query": "q?", "answers": ["x"]}),
        "{not json",
        json.dumps({"id": "c", "query": ""}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "e", "query": "q?", "answers": "ok"})])
    corpus = write_lines("c.jsonl", [json.dumps({"id": "p", "text": ""})])
    with pytest.raises(InputError) as raised:
        import_user_data(examples, corpus, tmp_path / "out", "mine", "qa")
    message = str(raised.value)
    assert f"{examples}:2: invalid JSON" in message
    assert f"{examples}:3:" in message and f"{examples}:4: expected a JSON object" in message
    assert f"{corpus}:1:" in message and ":5:" not in message
    assert not (tmp_path / "out").exists()


def test_cli_import_exit_code(write_lines, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ragbridge.cli import app

    examples = write_lines("ex.jsonl", ["{broken"])
    corpus = write_lines("c.jsonl", [json.dumps({"id": "p", "text": "t"})])
    result = CliRunner().invoke(app, ["data", "import", "--examples", str(examples), "--corpus",
                                      str(corpus), "--name", "x", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "ex.jsonl:1" in result.output
