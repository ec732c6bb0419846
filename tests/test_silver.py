"""Silver search: known optima, repetition, empty wins, resume after kill -9, failures, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest.mock import patch

import pytest

from ragbridge.jsonl import InputError, write_jsonl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM, LLMError
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver_stage
from ragbridge.silver.search import SilverConfig, SilverSummary, search_batch

sys.path.insert(0, str(Path(__file__).parent))
from silver_fakes import (  # noqa: E402
    EchoLLM,
    SequenceRewardTask,
    make_candidates,
    varied_rewards,
)


def _search(tmp_path: Path, config: SilverConfig, count: int = 4) -> list[dict]:
    task = SequenceRewardTask(varied_rewards(count))
    llm = CachedLLM(EchoLLM(), tmp_path / "cache.sqlite")
    return search_batch(make_candidates(count), Judge(task, llm), config)


def test_greedy_finds_known_sequences(tmp_path: Path) -> None:
    records = _search(tmp_path, SilverConfig())
    assert [r["silver"] for r in records] == [["b", "a"], ["a", "a"], [], ["c"]]
    assert [r["score"] for r in records] == [80, 60, 30, 5]
    assert records[2]["empty_score"] == 30 and records[0]["top_k_score"] == 20
    first_step = records[0]["trace"][1]
    assert first_step["chosen"] == 1 and len(first_step["tried"]) == 3
    assert records[0]["trace"][-1]["chosen"] is None  # stopped: nothing improved


def test_repetition_can_be_switched_off(tmp_path: Path) -> None:
    records = _search(tmp_path, SilverConfig(allow_repeats=False))
    assert records[1]["silver"] == ["a"] and records[0]["silver"] == ["b", "a"]


def test_max_length_bounds_the_sequence(tmp_path: Path) -> None:
    records = _search(tmp_path, SilverConfig(max_length=1))
    assert records[0]["silver"] == ["b"]


def _prepare_run(path: Path, count: int) -> RunDir:
    run = RunDir(path)
    write_jsonl(run.candidates_path, (c.to_dict() for c in make_candidates(count)))
    run.record("retrieve", {"dataset": "toy", "task": "fake", "retriever": "fake", "k": 3})
    return run


def _run(run: RunDir, cache: Path, llm: EchoLLM, count: int, batch: int = 2,
         rewards: dict | None = None, limit: int | None = None,
         **search: object) -> tuple[CachedLLM, SilverSummary]:
    task = SequenceRewardTask(rewards or varied_rewards(count))
    config = silver_stage.SilverStageConfig(limit=limit,
                                            search=SilverConfig(batch_queries=batch, **search))
    cached = CachedLLM(llm, cache)
    with patch.object(RunDir, "task", lambda self: task):
        return cached, silver_stage.run(run, config, cached)


def test_rerun_makes_no_llm_calls(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 6)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), 6)
    first = (run.path / "silver.jsonl").read_bytes()
    (run.path / "silver.jsonl").unlink()
    llm = EchoLLM()
    _run(run, tmp_path / "c.sqlite", llm, 6)
    assert llm.calls == 0 and (run.path / "silver.jsonl").read_bytes() == first


CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from silver_fakes import EchoLLM
    from test_silver import _run
    from ragbridge.rundir import RunDir
    _run(RunDir({run!r}), Path({cache!r}), EchoLLM(delay=0.15), {count})
""")


def test_resume_after_kill_gives_identical_file(tmp_path: Path) -> None:
    count = 12
    reference = _prepare_run(tmp_path / "reference", count)
    _run(reference, tmp_path / "ref-cache.sqlite", EchoLLM(), count)
    run = _prepare_run(tmp_path / "killed", count)
    script = CHILD.format(tests=str(Path(__file__).parent), run=str(run.path),
                          cache=str(tmp_path / "cache.sqlite"), count=count)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    silver = run.path / "silver.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not silver.exists() or
                                      silver.read_bytes().count(b"\n") < 4):
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = silver.read_bytes().count(b"\n")
    assert 4 <= written < count
    with open(silver, "ab") as handle:  # a torn write, as a kill mid-append would leave
        handle.write(b'{"id": "q9", "silv')
    _run(run, tmp_path / "cache.sqlite", EchoLLM(), count)
    assert silver.read_bytes() == (reference.path / "silver.jsonl").read_bytes()


def test_failing_llm_keeps_finished_records(tmp_path: Path) -> None:
    count = 8
    run = _prepare_run(tmp_path / "run", count)
    with pytest.raises(LLMError, match="127.0.0.1"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(fail_from_call=6), count)
    kept = [json.loads(line) for line in (run.path / "silver.jsonl").read_text().splitlines()]
    assert kept and len(kept) < count and [r["id"] for r in kept] == [f"q{i}" for i in
                                                                      range(len(kept))]
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count)
    reference = _prepare_run(tmp_path / "reference", count)
    _run(reference, tmp_path / "c2.sqlite", EchoLLM(), count)
    assert (run.path / "silver.jsonl").read_bytes() == \
        (reference.path / "silver.jsonl").read_bytes()


def test_single_process_path_does_not_import_ray(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from silver_fakes import EchoLLM
        from test_silver import _run, _prepare_run
        from pathlib import Path
        _run(_prepare_run(Path({str(tmp_path / 'r')!r}), 4), Path({str(tmp_path / 'c')!r}),
             EchoLLM(), 4)
        print("ray" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_bridge_data_can_keep_only_informative_searches(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 3)
    rewards = {"q0": {"": 0, "b": 50}, "q1": {"": 0}, "q2": {"": 30}}  # q1: every passage ties
    _run(run, tmp_path / "c.sqlite", EchoLLM(), 3, batch=16, rewards=rewards)
    every = run.examples("train")
    kept = run.examples("train", informative_only=True)
    assert [e.silver for e in every] == [(1,), (), ()]
    assert [e.item.example.id for e in kept] == ["q0", "q2"]  # q2: passages hurt, empty wins


def test_bridge_data_carries_each_candidates_utility_alone(tmp_path: Path) -> None:
    """The soft SL target reads what the search's first step measured: each candidate alone,
    then the empty sequence (here the reward table itself, a missing entry scoring 0)."""
    from ragbridge.bridge.data import join_silver

    for strategy in ("singles", "greedy"):
        records = _search(tmp_path / strategy, SilverConfig(strategy=strategy, max_length=2))
        examples = join_silver(make_candidates(4), records)
        assert [e.singles for e in examples] == [(10, 50, 0, 0), (40, 30, 0, 0),
                                                 (20, 30, 10, 30), (0, 0, 5, 0)]
    untraced = [{**r, "trace": []} for r in records]
    assert [e.singles for e in join_silver(make_candidates(4), untraced)] == [None] * 4


def test_corruption_before_the_last_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    """Only a torn last line may be cut on resume; a bad line before it must not silently
    drop the good records written after it."""
    count = 6
    run = _prepare_run(tmp_path / "run", count)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count)
    silver = run.path / "silver.jsonl"
    lines = silver.read_bytes().split(b"\n")
    lines[1] = b'{"id": "q1", "silver_positions": [0'  # damaged in the middle
    silver.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"silver\.jsonl:2: invalid JSON"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), count)
    assert silver.read_bytes().count(b"\n") == count  # nothing was cut


def test_resume_with_other_settings_refuses_and_names_them(tmp_path: Path) -> None:
    count = 6
    run = _prepare_run(tmp_path / "run", count)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count, limit=4)  # 4 of 6 queries searched
    before = (run.path / "silver.jsonl").read_bytes()
    with pytest.raises(InputError, match=r"max_length 5 -> 1"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), count, max_length=1)
    with pytest.raises(InputError, match=r"allow_repeats True -> False"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), count, allow_repeats=False)
    assert (run.path / "silver.jsonl").read_bytes() == before
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count)  # same settings: resumes


def test_two_processes_cannot_write_one_run(tmp_path: Path) -> None:
    from ragbridge.rundir import RunLockedError

    run = _prepare_run(tmp_path / "run", 4)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from ragbridge.rundir import RunDir
            with RunDir({str(run.path)!r}).lock("silver train"):
                print("locked", flush=True)
                time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"pid {holder.pid} .*silver train"):
            _run(run, tmp_path / "c.sqlite", EchoLLM(), 4)
    finally:
        holder.kill()
        holder.wait()
    _run(run, tmp_path / "c.sqlite", EchoLLM(), 4)  # the lock died with its holder


def _rendered(summary: SilverSummary) -> str:
    from rich.console import Console

    from ragbridge.terminal import silver_table

    console = Console(record=True, width=120)
    console.print(silver_table(summary, "silver"))
    return console.export_text()


def test_a_resumed_search_reports_the_cost_of_every_record(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 8)
    llm_calls = []
    for limit in (4, 8):  # the second run resumes the first
        cached, summary = _run(run, tmp_path / "c.sqlite", EchoLLM(), 8, limit=limit)
        llm_calls.append(cached.stats.calls)
    assert summary.queries == 8 and min(llm_calls) > 0
    assert summary.llm_calls == sum(llm_calls)  # not only the resumed run's share
    cost = json.loads((run.path / "silver.cost.json").read_text())
    assert cost["queries"] == 8 and cost["calls"] == sum(llm_calls)


def test_records_of_unknown_cost_are_not_counted_as_free(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 8)
    for limit in (4, 8):  # the second run resumes records whose cost file was lost
        cached, summary = _run(run, tmp_path / f"c{limit}.sqlite", EchoLLM(), 8, limit=limit)
        if limit == 4:
            (run.path / "silver.cost.json").unlink()
    assert summary.queries == 8 and summary.costed == 4
    assert summary.llm_calls == cached.stats.calls  # the four resumed records only
    assert "cost known for 4 queries" in _rendered(summary)


def test_a_finished_search_with_a_short_last_window_is_not_redone(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 6)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), 6, 4)  # windows of 4 and 2
    again, summary = _run(run, tmp_path / "c.sqlite", EchoLLM(), 6, 4)
    assert summary.queries == 6
    assert again.stats.calls + again.stats.hits == 0  # nothing searched, not even cached


def test_a_resume_that_cuts_a_torn_window_keeps_the_cost_of_every_record(tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 8)
    first, _ = _run(run, tmp_path / "c.sqlite", EchoLLM(), 8, 4)
    silver = run.path / "silver.jsonl"
    silver.write_bytes(silver.read_bytes()[:-5])  # the last record torn: its window is cut
    again, summary = _run(run, tmp_path / "c.sqlite", EchoLLM(), 8, 4)
    assert again.stats.calls == 0 and again.stats.hits > 0  # the window redone from the cache
    assert summary.costed == 8 and summary.llm_calls == first.stats.calls


def test_singles_search_can_try_the_best_single_repeated(tmp_path: Path) -> None:
    """q1's optimum is a|a: the singles search only finds it when it tries repeating its best
    single, and then agrees with the greedy search on every query, for fewer prompts."""
    plain = _search(tmp_path / "plain", SilverConfig(strategy="singles", max_length=2))
    assert [r["silver"] for r in plain] == [["b", "a"], ["a"], [], ["c"]]
    repeated = _search(tmp_path / "repeat", SilverConfig(strategy="singles", max_length=2,
                                                         repeat_best=2))
    greedy = _search(tmp_path / "greedy", SilverConfig(max_length=2))
    assert [r["silver"] for r in repeated] == [r["silver"] for r in greedy] == [
        ["b", "a"], ["a", "a"], [], ["c"]]
    assert [r["score"] for r in repeated] == [80, 60, 30, 5]
    # q3: c|c was judged but only ties c, so the shorter sequence stays
    assert [v["sequence"] for v in repeated[3]["trace"][-1]["verified"]] == [[2, 2]]
    assert [v["sequence"] for v in plain[3]["trace"][-1]["verified"]] == []


def test_top_k_stays_the_silver_unless_the_search_beats_it_by_the_margin(
        tmp_path: Path) -> None:
    """With a margin, top-K (a|b|c, worth 20 on q0 and 0 elsewhere) is the silver wherever
    the search's best (b|a 80, a 40, empty 30, c 5) does not beat it by more than it."""
    none = _search(tmp_path / "none", SilverConfig(strategy="singles", max_length=2,
                                                   judge_top_k=False))
    assert [r["silver"] for r in none] == [["b", "a"], ["a"], [], ["c"]]
    ten = _search(tmp_path / "ten", SilverConfig(strategy="singles", max_length=2,
                                                 judge_top_k=False, top_k_margin=10))
    assert [r["silver"] for r in ten] == [["b", "a"], ["a"], [], ["a", "b", "c"]]
    fifty = _search(tmp_path / "fifty", SilverConfig(strategy="singles", max_length=2,
                                                     top_k_margin=50))
    assert [r["silver"] for r in fifty] == [["b", "a"]] + [["a", "b", "c"]] * 3
    assert [r["score"] for r in fifty] == [80, 0, 0, 0]
    assert [r["top_k_score"] for r in ten] == [20, 0, 0, 0]  # judged although not asked


def test_repeating_the_best_single_is_not_bounded_by_max_length(tmp_path: Path) -> None:
    """a|a|a|a beats a while a|a does not (the email-subject LLM's taste): singles with
    max_length 2 finds it when asked to repeat up to 4 times."""
    rewards = {"q0": {"": 0, "a": 40, "a|a": 30, "a|a|a": 35, "a|a|a|a": 70, "b": 20,
                      "a|b": 25}}
    llm = CachedLLM(EchoLLM(), tmp_path / "cache.sqlite")
    records = search_batch(make_candidates(1), Judge(SequenceRewardTask(rewards), llm),
                           SilverConfig(strategy="singles", max_length=2, repeat_best=4))
    assert records[0]["silver"] == ["a", "a", "a", "a"] and records[0]["score"] == 70
    verified = [v["sequence"] for v in records[0]["trace"][-1]["verified"]]
    assert verified == [[0, 1], [0, 0], [0, 0, 0], [0, 0, 0, 0]]  # no prefix beyond 2


def test_a_silver_file_resumes_only_with_the_repeat_setting_it_was_made_with(
        tmp_path: Path) -> None:
    run = _prepare_run(tmp_path / "run", 4)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), 4, limit=2, strategy="singles", max_length=2)
    with pytest.raises(InputError, match="repeat_best None -> 2"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), 4, strategy="singles", max_length=2,
             repeat_best=2)
    made_with_repeats = _prepare_run(tmp_path / "repeats", 4)
    _run(made_with_repeats, tmp_path / "c.sqlite", EchoLLM(), 4, limit=2, strategy="singles",
         max_length=2, repeat_best=2)
    with pytest.raises(InputError, match="repeat_best 2 -> None"):
        _run(made_with_repeats, tmp_path / "c.sqlite", EchoLLM(), 4, strategy="singles",
             max_length=2)


def test_a_resume_with_another_window_refuses_before_cutting_anything(tmp_path: Path) -> None:
    """3 of 6 queries searched in windows of 2: a resume in windows of 4 would keep none of
    them; it must refuse and leave the file whole, not cut it and start afresh."""
    count = 6
    run = _prepare_run(tmp_path / "run", count)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count, batch=2, limit=3)
    silver = run.path / "silver.jsonl"
    before = silver.read_bytes()
    assert before.count(b"\n") == 3
    with pytest.raises(InputError, match=r"batch_queries 2 -> 4"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), count, batch=4)
    assert silver.read_bytes() == before


def _reorder_candidates(run: RunDir, count: int) -> None:
    """The same queries with their candidates in reverse order (a changed retriever)."""
    from ragbridge.records import Candidates

    items = [Candidates(c.example, tuple(reversed(c.hits)), c.split, c.retriever)
             for c in make_candidates(count)]
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))


def test_silver_records_name_their_candidates_and_a_changed_set_is_refused(
        tmp_path: Path) -> None:
    """Positions index passages: records searched on other candidates are refused on resume,
    by the SL data and by the oracle, rather than labelling the wrong passages."""
    from ragbridge.selectors import SilverOracle
    from ragbridge.silver.records import read_silver

    count = 6
    run = _prepare_run(tmp_path / "run", count)
    _run(run, tmp_path / "c.sqlite", EchoLLM(), count, limit=4)
    records = read_silver(run.path / "silver.jsonl")
    assert [r["candidate_ids"] for r in records] == [["a", "b", "c"]] * 4
    _reorder_candidates(run, count)
    with pytest.raises(InputError, match=r"silver\.jsonl:1: 'q0' was searched on candidates"):
        _run(run, tmp_path / "c.sqlite", EchoLLM(), count)
    with pytest.raises(ValueError, match=r"the candidates changed"):
        run.examples("train")
    with pytest.raises(ValueError, match=r"the candidates changed"):
        SilverOracle.from_records(run.candidates("train"), records)


def test_records_without_candidate_ids_are_checked_by_their_silver_ids(tmp_path: Path) -> None:
    """Older silver files (no `candidate_ids`) still name the passages they chose."""
    from ragbridge.bridge.data import join_silver

    items = make_candidates(1)
    record = {"id": "q0", "silver": ["b"], "silver_positions": [1]}
    assert join_silver(items, [record])[0].silver == (1,)
    with pytest.raises(ValueError, match=r"not at positions \[0\]"):
        join_silver(items, [{**record, "silver_positions": [0]}])
