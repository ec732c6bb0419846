"""A study's committed results can be put back: silver records gzipped on collect come back
byte for byte on restore, with their settings and cost, and never over a file that is there."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType


def _script() -> ModuleType:
    from ragbridge import collect

    return collect


def _run(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    files = {"config.json": b"{}",
             "silver.jsonl": b'{"id": "a", "sequence": [1]}\n{"id": "b", "sequence": []}\n',
             "silver.settings.json": json.dumps({"k": 5}).encode(),
             "silver.cost.json": json.dumps({"queries": 2, "calls": 12}).encode(),
             "silver-dev.jsonl": "{\"id\": \"é\"}\n".encode(),
             "silver-dev.settings.json": b'{"k": 5}'}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_collected_silver_restores_byte_for_byte(tmp_path: Path) -> None:
    script = _script()
    files = _run(tmp_path / "study" / "email")
    script.collect(tmp_path / "study", tmp_path / "results")
    packed = tmp_path / "results" / "email" / "silver.jsonl.gz"
    assert gzip.decompress(packed.read_bytes()) == files["silver.jsonl"]
    assert not (tmp_path / "results" / "email" / "silver.jsonl").exists()

    fresh = tmp_path / "elsewhere"
    restored = script.restore(tmp_path / "results", fresh)
    assert {p.name for p in restored} == {"silver.jsonl", "silver.settings.json",
                                          "silver.cost.json", "silver-dev.jsonl",
                                          "silver-dev.settings.json"}
    for name in ("silver.jsonl", "silver.cost.json", "silver-dev.jsonl"):
        assert (fresh / "email" / name).read_bytes() == files[name]
    assert not list(fresh.rglob("*.part"))


def test_restore_keeps_what_a_run_already_has(tmp_path: Path) -> None:
    script = _script()
    _run(tmp_path / "study" / "email")
    script.collect(tmp_path / "study", tmp_path / "results")
    fresh = tmp_path / "elsewhere" / "email"
    fresh.mkdir(parents=True)
    (fresh / "silver.jsonl").write_bytes(b'{"id": "a", "sequence": [2]}\n')
    (fresh / "silver.cost.json").write_bytes(b'{"queries": 1}')
    restored = script.restore(tmp_path / "results", tmp_path / "elsewhere")
    assert {p.name for p in restored} == {"silver-dev.jsonl", "silver-dev.settings.json"}
    assert (fresh / "silver.jsonl").read_bytes() == b'{"id": "a", "sequence": [2]}\n'
    assert (fresh / "silver.cost.json").read_bytes() == b'{"queries": 1}'


def test_restore_brings_back_the_summary_and_test_tables_but_no_plots(tmp_path: Path) -> None:
    script = _script()
    _run(tmp_path / "study" / "email")
    summary = json.dumps({"test tables": {"email": {"top-5": {"BLEU": 10.7}}}}).encode()
    (tmp_path / "study" / "demo-summary.json").write_bytes(summary)
    for name, data in (("eval-test.md", b"| top-5 | 10.7 |\n"), ("eval-test.json", b"{}"),
                       ("eval-test.png", b"\x89PNG"), ("eval-dev.md", b"| dev |\n")):
        (tmp_path / "study" / "email" / name).write_bytes(data)
    script.collect(tmp_path / "study", tmp_path / "results")
    fresh = tmp_path / "elsewhere"
    (fresh / "email").mkdir(parents=True)
    (fresh / "email" / "eval-test.json").write_bytes(b'{"newer": true}')
    restored = {p.relative_to(fresh).as_posix() for p in script.restore(
        tmp_path / "results", fresh)}
    assert {"demo-summary.json", "email/eval-test.md"} <= restored
    assert not restored & {"email/eval-test.json", "email/eval-test.png", "email/eval-dev.md"}
    assert (fresh / "demo-summary.json").read_bytes() == summary
    assert (fresh / "email" / "eval-test.md").read_bytes() == b"| top-5 | 10.7 |\n"
    assert (fresh / "email" / "eval-test.json").read_bytes() == b'{"newer": true}'


def test_the_collect_command_copies_and_restores(tmp_path: Path) -> None:
    """`ragbridge collect` as the Makefile calls it: collect, then restore elsewhere."""
    from typer.testing import CliRunner

    from ragbridge.cli import app

    files = _run(tmp_path / "study" / "email")
    runner = CliRunner()
    collected = runner.invoke(app, ["collect", "--runs", str(tmp_path / "study"), "--name",
                                    "s", "--out", str(tmp_path / "results")])
    assert collected.exit_code == 0, collected.output
    assert (tmp_path / "results" / "s" / "email" / "silver.jsonl.gz").exists()
    restored = runner.invoke(app, ["collect", "--runs", str(tmp_path / "fresh"), "--name", "s",
                                   "--out", str(tmp_path / "results"), "--restore"])
    assert restored.exit_code == 0 and "5 files restored" in restored.output, restored.output
    assert (tmp_path / "fresh" / "email" / "silver.jsonl").read_bytes() == files["silver.jsonl"]
