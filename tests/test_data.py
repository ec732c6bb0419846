"""Data parsing on the real shipped files, and user import with bad lines."""

import json
import re
from pathlib import Path

import pytest

from ragbridge import assets
from ragbridge.data.dataset import split_of
from ragbridge.data.email_subject import (
    build_email_subject,
    clean_body,
    clean_subject,
    parse_message,
    split_subject,
)
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
    files = sorted((assets.spam_assassin_dir() / "easy-ham-1").glob("*.json"))[:40]
    parsed = [parse_message(json.loads(f.read_text())["text"]) for f in files]
    usable = [p for p in parsed if p is not None]
    assert len(usable) >= 25
    assert all("@" in p.sender and len(p.body.split()) >= 5 and p.subject for p in usable)
    assert 0 < sum(p.starts_thread for p in usable) < len(usable)
    assert clean_subject("Re: RE: Fwd: [ILUG] hello  world") == "hello world"
    assert clean_subject("[zzzzteana] FW: please give generously") == "please give generously"
    assert split_subject("[zzzzteana] FW: please give") == ("please give", True)
    assert split_subject("[ILUG] [OT] new laptop") == ("new laptop", False)


def test_quoted_headers_and_forwarded_blocks_are_not_the_authors_words() -> None:
    body = ("Thought you would like this one.\n\n-----Original Message-----\n"
            "Subject: please give generously\n> quoted text\nmore forwarded text")
    assert clean_body(body) == "Thought you would like this one."
    reply = "Agreed, let's ship it.\nOn Mon, 7 Oct 2002, Bob wrote:\n> ship it?\nThanks"
    assert clean_body(reply) == "Agreed, let's ship it. Thanks"
    assert clean_body("See below.\nFrom: Alice <a@b.c>\nSent: Monday\nhello") == "See below."


def subject_leaks(folder: Path) -> list[str]:
    """Examples whose target is the (cleaned) subject of an email they may retrieve, or
    whose input still carries a quoted header or forwarded block."""
    corpus = read_jsonl(folder / "corpus.jsonl")
    by_group: dict[str, list[dict]] = {}
    for passage in corpus:
        by_group.setdefault(passage["group"], []).append(passage)
    leaks = []
    for split in ("train", "dev", "test"):
        for record in read_jsonl(folder / f"{split}.jsonl"):
            target = clean_subject(record["target"]).lower()
            visible = [p for p in by_group[record["group"]] if p["id"] not in record["exclude"]]
            if any(clean_subject(p["title"]).lower() == target for p in visible) or \
                    "original message" in record["query"].lower() or \
                    re.search(r"\bsubject\s*:", record["query"], re.IGNORECASE):
                leaks.append(f"{split}/{record['id']}")
    return leaks


def test_email_subject_is_honest(tmp_path: Path) -> None:
    """No example can retrieve an email of its own thread (the old data let 109 of 315 test
    examples copy a thread sibling's subject), and inputs carry no quoted headers."""
    counts = build_email_subject(tmp_path / "email")
    assert counts["senders"] >= 50 and counts["dev"] >= 100 and counts["test"] >= 200
    assert subject_leaks(tmp_path / "email") == []
    corpus = {p["id"]: p for p in read_jsonl(tmp_path / "email" / "corpus.jsonl")}
    examples = read_jsonl(tmp_path / "email" / "test.jsonl")
    for record in examples:
        assert record["id"] in record["exclude"]
        assert corpus[record["id"]]["group"] == record["group"]
        assert not re.match(r"^(re|fwd?)\s*:", record["target"], re.IGNORECASE)
        assert not record["target"].startswith("[")  # list tags dropped
        visible = [p for p in corpus.values()
                   if p["group"] == record["group"] and p["id"] not in record["exclude"]]
        assert len(visible) >= 3
    # the check itself can fail: a thread sibling left visible is caught
    (tmp_path / "leaky").mkdir()
    sibling = dict(corpus[examples[0]["id"]], id="sibling")
    (tmp_path / "leaky" / "corpus.jsonl").write_text(json.dumps(sibling) + "\n")
    (tmp_path / "leaky" / "test.jsonl").write_text(json.dumps(examples[0]) + "\n")
    for split in ("train", "dev"):
        (tmp_path / "leaky" / f"{split}.jsonl").write_text("")
    assert subject_leaks(tmp_path / "leaky") == [f"test/{examples[0]['id']}"]


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


def test_import_names_the_lines_of_clashing_ids_and_missing_answers_or_targets(
        write_lines, tmp_path: Path) -> None:
    examples = write_lines("ex.jsonl", [
        json.dumps({"id": "a", "query": "q?", "answers": ["x"]}),
        json.dumps({"id": "b", "query": "r?", "target": "a text, not answers"}),
        json.dumps({"id": "a", "query": "s?", "answers": ["z"]})])
    corpus = write_lines("c.jsonl", [json.dumps({"id": "p", "text": "x"}),
                                     json.dumps({"id": "q", "text": "y"}),
                                     json.dumps({"id": "p", "text": "z"})])
    with pytest.raises(InputError) as raised:
        import_user_data(examples, corpus, tmp_path / "out", "mine", "qa")
    message = str(raised.value)
    assert f"{corpus}:3: passage id 'p' is already used on line 1" in message
    assert f"{examples}:3: example 'a': the id is already used on line 1" in message
    assert f"{examples}:2: example 'b' needs 'answers'" in message
    emails = write_lines("mail.jsonl", [json.dumps({"id": "m", "query": "body text",
                                                    "answers": ["x"]})])
    with pytest.raises(InputError, match=rf"{re.escape(str(emails))}:1: example 'm' needs a "
                                         r"non-empty 'target'"):
        import_user_data(emails, write_lines("c2.jsonl", [json.dumps({"id": "p", "text": "x"})]),
                         tmp_path / "out", "mine", "email-subject")
    assert not (tmp_path / "out").exists()


def test_cli_import_exit_code(write_lines, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ragbridge.cli import app

    examples = write_lines("ex.jsonl", ["{broken"])
    corpus = write_lines("c.jsonl", [json.dumps({"id": "p", "text": "t"})])
    result = CliRunner().invoke(app, ["data", "import", "--examples", str(examples), "--corpus",
                                      str(corpus), "--name", "x", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "ex.jsonl:1" in result.output


def test_cli_errors_print_a_long_bracketed_path_whole(tmp_path: Path) -> None:
    """The path in an error is one unbroken word to copy: no line break inserted in a
    message longer than the terminal, and its brackets are not eaten as markup."""
    from typer.testing import CliRunner

    from ragbridge.cli import app

    folder = tmp_path / ("a-folder-name-long-enough-to-pass-the-terminal-width " * 2).strip()
    folder = folder.with_name(folder.name.replace(" ", "-") + " [v2]")
    folder.mkdir()
    examples = folder / "ex.jsonl"
    examples.write_text("{broken\n")
    corpus = folder / "c.jsonl"
    corpus.write_text(json.dumps({"id": "p", "text": "t"}) + "\n")
    result = CliRunner().invoke(app, ["data", "import", "--examples", str(examples), "--corpus",
                                      str(corpus), "--name", "x", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"{examples}:1:" in result.output


def test_a_bad_utf8_byte_is_named_by_file_and_line(tmp_path: Path) -> None:
    examples = tmp_path / "ex.jsonl"
    examples.write_bytes(json.dumps({"id": "a", "query": "q?", "answers": ["x"]}).encode()
                         + b'\n{"id": "b", "query": "caf\xe9?", "answers": ["y"]}\n')
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "p", "text": "x y"}) + "\n")
    with pytest.raises(InputError, match=rf"{re.escape(str(examples))}:2: not UTF-8 "
                                         r"\(byte 0xe9 at column 26\)"):
        import_user_data(examples, corpus, tmp_path / "out", "mine", "qa")


def test_infinite_values_are_written_as_standard_json(tmp_path: Path) -> None:
    """A reranker that keeps everything has threshold -inf: strict parsers must read it."""
    from ragbridge.jsonl import write_json

    write_json(tmp_path / "t.json", {"threshold": float("-inf"), "trials": [float("inf")]})
    text = (tmp_path / "t.json").read_text()
    value = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard {name}"))
    assert float(value["threshold"]) == float("-inf") and float(value["trials"][0]) > 1e308


def test_atomic_writes_get_the_permissions_a_plain_write_would(tmp_path: Path) -> None:
    from ragbridge.jsonl import write_json

    reference, written = tmp_path / "plain.json", tmp_path / "atomic.json"
    reference.write_text("{}")  # open(..., "w"): 0666 less the umask
    write_json(written, {})
    assert written.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
    written.chmod(0o640)  # an existing file keeps its own
    write_json(written, {"again": 1})
    assert written.stat().st_mode & 0o777 == 0o640
