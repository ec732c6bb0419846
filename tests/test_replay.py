"""Shipped judgments: exported from one cache, imported into another, replayed with no LLM
call; refused for another LLM identity."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from silver_fakes import TableScorer

from ragbridge.jsonl import InputError
from ragbridge.llms import CachedLLM, GenerationSettings
from ragbridge.replay import SHIPPED, export_judgments, import_judgments, replay_source

SETTINGS = GenerationSettings()


def test_exported_judgments_replay_without_llm_calls(tmp_path: Path) -> None:
    study = CachedLLM(TableScorer({"q": {"a": -1.0, "b": -2.0}}), tmp_path / "study.sqlite")
    outputs = study.generate(["q:a", "q:b"], SETTINGS)
    scores = study.score(["q:a", "q:b"], ["r", "r"])
    shipped = tmp_path / "judgments.jsonl.gz"
    assert export_judgments(tmp_path / "study.sqlite", study.identity, shipped) == 4
    with gzip.open(shipped, "rt") as handle:
        rows = [json.loads(line) for line in handle][1:]
    assert all(len(r["key"]) == 64 and "prompt" not in r for r in rows)  # hashed keys only
    fresh_llm = TableScorer({"q": {}})
    fresh = CachedLLM(fresh_llm, tmp_path / "user.sqlite")
    assert import_judgments(shipped, fresh) == 4
    assert import_judgments(shipped, fresh) == 0  # already there
    assert fresh.generate(["q:a", "q:b"], SETTINGS) == outputs
    assert fresh.score(["q:a", "q:b"], ["r", "r"]) == scores
    assert fresh_llm.calls == 0 and fresh_llm.scored == 0
    fresh.generate(["q:c"], SETTINGS)  # what is new is computed
    assert fresh_llm.calls == 1


def test_an_export_can_leave_out_what_ships_already(tmp_path: Path) -> None:
    study = CachedLLM(TableScorer({"q": {"a": -1.0, "b": -2.0, "c": -3.0}}),
                      tmp_path / "study.sqlite")
    study.generate(["q:a"], SETTINGS)
    study.score(["q:a"], ["r"])
    shipped = tmp_path / "shipped.jsonl.gz"
    assert export_judgments(tmp_path / "study.sqlite", study.identity, shipped) == 2
    study.generate(["q:b", "q:c"], SETTINGS)  # new since the shipped file
    study.score(["q:b"], ["r"])
    new = tmp_path / "new.jsonl.gz"
    assert export_judgments(tmp_path / "study.sqlite", study.identity, new,
                            exclude=[shipped]) == 3
    with gzip.open(new, "rt") as handle:
        rows = [json.loads(line) for line in handle][1:]
    with gzip.open(shipped, "rt") as handle:
        shipped_keys = {json.loads(line)["key"] for line in list(handle)[1:]}
    assert not shipped_keys & {r["key"] for r in rows}
    fresh_llm = TableScorer({"q": {}})
    fresh = CachedLLM(fresh_llm, tmp_path / "user.sqlite")
    assert import_judgments(shipped, fresh) + import_judgments(new, fresh) == 5
    fresh.generate(["q:a", "q:b", "q:c"], SETTINGS)
    fresh.score(["q:a", "q:b"], ["r", "r"])
    assert fresh_llm.calls == 0 and fresh_llm.scored == 0  # the two files hold every one
    with pytest.raises(InputError, match="not of 'test:another-model'"):
        export_judgments(tmp_path / "study.sqlite", "test:another-model", new,
                         exclude=[shipped])


def test_judgments_of_another_llm_are_refused(tmp_path: Path) -> None:
    study = CachedLLM(TableScorer({}), tmp_path / "study.sqlite")
    study.generate(["q:a"], SETTINGS)
    shipped = tmp_path / "judgments.jsonl.gz"
    export_judgments(tmp_path / "study.sqlite", study.identity, shipped)

    class Other(TableScorer):
        identity = "test:another-model"

    with pytest.raises(InputError, match="not of 'test:another-model'"):
        import_judgments(shipped, CachedLLM(Other({}), tmp_path / "user.sqlite"))


def test_replay_source_prefers_a_given_file_and_names_a_missing_one(tmp_path: Path) -> None:
    progress = tmp_path / "judgments.jsonl.gz"
    with pytest.raises(InputError, match="judgments.jsonl.gz: no such judgments file"):
        replay_source(True, progress)
    progress.write_bytes(b"")
    assert replay_source(False, progress) == progress  # a given file replays even so
    assert replay_source(False) is None
    assert replay_source(True) == (SHIPPED if SHIPPED.exists() else None)


def test_the_shipped_judgments_are_the_bundled_llms_own(tmp_path: Path, smollm2) -> None:
    """The file `make demo` replays holds what the real fp32 SmolLM2 answers: the no-passage
    and top-1 prompts of the first email-subject test emails, asked of the live model, get
    the shipped replies (and replaying them asks the model nothing)."""
    from ragbridge.data.dataset import load_dataset
    from ragbridge.data.email_subject import build_email_subject
    from ragbridge.retrievers import build_retriever
    from ragbridge.tasks import get_task

    build_email_subject(tmp_path / "email")
    dataset = load_dataset(str(tmp_path / "email"))
    examples = dataset.examples("test")[:3]
    retriever = build_retriever("bm25", dataset.corpus())
    task = get_task(dataset.task)
    prompts = [task.build_prompt(e, []) for e in examples]
    prompts += [task.build_prompt(e, [hits[0].passage]) for e, hits in
                zip(examples, retriever.retrieve(examples, 5), strict=True)]

    class Offline:
        identity = smollm2.identity

        def generate(self, prompts: list[str], settings: GenerationSettings) -> list[str]:
            raise AssertionError("the shipped judgments should have answered")

    replayed = CachedLLM(Offline(), tmp_path / "replay.sqlite")
    assert import_judgments(SHIPPED, replayed) > 40_000
    assert replayed.generate(prompts, task.generation) == smollm2.generate(prompts,
                                                                           task.generation)


def test_exported_judgments_name_the_library_versions(tmp_path: Path) -> None:
    from importlib import metadata

    cached = CachedLLM(TableScorer({}), tmp_path / "cache.sqlite")
    cached._store([("k", "reply")])
    export_judgments(tmp_path / "cache.sqlite", cached.identity, tmp_path / "out.jsonl.gz")
    with gzip.open(tmp_path / "out.jsonl.gz", "rt") as handle:
        header = json.loads(handle.readline())
    assert header["exported_with"]["torch"] == metadata.version("torch")
    assert header["exported_with"]["transformers"] == metadata.version("transformers")


def test_a_failed_export_closes_its_database(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    import ragbridge.replay

    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def tracking_connect(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        opened.append(real_connect(path, *args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(ragbridge.replay.sqlite3, "connect", tracking_connect)
    empty = tmp_path / "not-a-cache.sqlite"
    real_connect(empty).close()  # a database without the cache's tables
    with pytest.raises(sqlite3.OperationalError):
        export_judgments(empty, "test:x", tmp_path / "out.jsonl.gz")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")
