"""Stage plumbing: crash-safe model folders, RL starts, and the run's own K."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ragbridge.bridge import Bridge, BridgeFormat, build_bridge
from ragbridge.bridge import rl_stage as rl_stage
from ragbridge.folders import latest_checkpoint, recover_folder, save_folder
from ragbridge.jsonl import InputError
from ragbridge.rundir import RunDir


def test_a_crash_between_moving_the_old_model_aside_and_renaming_the_new_one_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code deleted the old folder before renaming the new one in: a crash there left no
    model. Now the complete new folder (or else the old one) is always recoverable."""
    folder = tmp_path / "bridge-sl" / "model"
    first = build_bridge("tiny-fid", BridgeFormat(k=3), seed=1)
    save_folder(folder, first.save_pretrained)
    second = build_bridge("tiny-fid", BridgeFormat(k=3), seed=2)
    real_rename = Path.rename
    calls = []

    def crash_on_second_rename(self: Path, target: Path) -> Path:
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the two renames")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", crash_on_second_rename)
    with pytest.raises(KeyboardInterrupt):
        save_folder(folder, second.save_pretrained)
    monkeypatch.setattr(Path, "rename", real_rename)
    assert not folder.exists()  # the moment the old code would have lost the model
    loaded = Bridge.from_pretrained(folder)  # recovers the complete new folder
    probe = [next(iter(loaded.model.state_dict().values()))]
    assert probe[0].equal(next(iter(second.model.state_dict().values())))
    # nothing left over beside the model but its (empty) lock file
    assert sorted(p.name for p in folder.parent.iterdir()) == [".model.lock", "model"]


def test_a_load_during_a_save_waits_for_the_swap_and_never_breaks_the_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer pauses between moving the old model aside and renaming the new one in; a
    load then must not finish the swap itself (the old code did, and the writer's rename
    failed): it waits, and loads the new model."""
    import threading

    folder = tmp_path / "bridge-sl" / "model"
    save_folder(folder, build_bridge("tiny-fid", BridgeFormat(k=3), seed=1).save_pretrained)
    second = build_bridge("tiny-fid", BridgeFormat(k=3), seed=2)
    real_rename, paused, resume = Path.rename, threading.Event(), threading.Event()

    def pausing_rename(self: Path, target: Path) -> Path:
        moved = real_rename(self, target)
        if threading.current_thread().name == "writer" and target.name == ".model.old":
            paused.set()
            resume.wait(10)
        return moved

    monkeypatch.setattr(Path, "rename", pausing_rename)
    errors: list[BaseException] = []
    loaded: list[Bridge] = []

    def write() -> None:
        try:
            save_folder(folder, second.save_pretrained)
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    writer = threading.Thread(target=write, name="writer")
    writer.start()
    assert paused.wait(10)
    reader = threading.Thread(target=lambda: loaded.append(Bridge.from_pretrained(folder)))
    reader.start()
    reader.join(1.0)
    waited = reader.is_alive()
    resume.set()
    writer.join(10)
    reader.join(10)
    assert not errors, errors
    assert waited and loaded
    probe = next(iter(loaded[0].model.state_dict().values()))
    assert probe.equal(next(iter(second.model.state_dict().values())))


def test_an_interrupted_write_falls_back_to_the_old_folder(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-1"
    save_folder(folder, lambda path: (path / "state.json").write_text("{}"))
    folder.rename(tmp_path / ".checkpoint-1.old")  # moved aside, new one never completed
    (tmp_path / ".checkpoint-1.part").mkdir()
    assert latest_checkpoint(tmp_path) == folder
    assert (folder / "state.json").exists()
    recover_folder(folder)
    assert (folder / "state.json").exists()


def _run(tmp_path: Path, k: int = 3) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.record("retrieve", {"dataset": "toy", "task": "qa", "retriever": "bm25", "k": k})
    return run


def test_a_run_without_a_recorded_task_is_an_error_not_qa(tmp_path: Path) -> None:
    """Old code took "qa" for a run whose retrieve stage recorded no task: an email run's
    judgments were then scored by answer containment."""
    run = RunDir(tmp_path / "run")
    run.record("retrieve", {"dataset": "email-subject", "retriever": "bm25", "k": 3})
    with pytest.raises(InputError, match=r"run/config.json: the retrieve stage records no task"):
        run.settings()
    assert _run(tmp_path).settings().task == "qa"


def test_rl_only_accepts_any_family_including_paths(tmp_path: Path) -> None:
    """Old code refused `seq2seq:/path` (it tested '/' in the start) and loaded a whole
    bridge just to read K; a family given by a path (`encoder:PATH`) now starts RL-only."""
    from transformers import BertConfig, BertModel

    from ragbridge.bridge.build import _tiny_encoder

    encoder_folder = tmp_path / "tiny-encoder"
    _, tokenizer = _tiny_encoder()
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32)).save_pretrained(
        encoder_folder)
    tokenizer.save_pretrained(encoder_folder)
    run = _run(tmp_path)
    config = rl_stage.RLConfig()
    fresh = rl_stage._start(run, f"encoder:{encoder_folder}", 3, config)
    assert isinstance(fresh, Bridge) and fresh.k == 3
    assert fresh.model.encoder.config.hidden_size == 16
    folder = tmp_path / "sl-model"
    build_bridge("tiny-fid", BridgeFormat(k=4)).save_pretrained(folder)
    with pytest.raises(ValueError, match="K=4 candidates, this run has K=3"):
        rl_stage._start(run, str(folder), 3, config)
    with pytest.raises(FileNotFoundError, match="neither a bridge folder nor a family"):
        rl_stage._start(run, str(tmp_path / "missing"), 3, config)


def test_demo_task_selection_keeps_the_demo_order() -> None:
    from ragbridge.recipes import TASKS, select_tasks

    assert select_tasks(TASKS) == TASKS
    assert [t.dataset for t in select_tasks(TASKS, ("email-subject", "nq-wiki"))] == [
        "nq-wiki", "email-subject"]
    assert [t.name for t in select_tasks(TASKS, ("nq-wiki",))] == ["nq-wiki-dense"]


def test_retrieve_refuses_to_replace_the_candidates_a_silver_was_searched_on(
        tmp_path: Path) -> None:
    """Same settings again: allowed (the same candidates); another K: refused, file kept."""
    import json

    from ragbridge.data.user_import import import_user_data
    from ragbridge.jsonl import InputError
    from ragbridge.retrievers import stage as retrieve

    examples, corpus = tmp_path / "examples.jsonl", tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"p{n}", "text": f"passage about {w}"}) + "\n"
                              for n, w in enumerate(["oceans", "towers", "rivers", "hills"])))
    examples.write_text("".join(json.dumps({"id": f"q{n}", "query": f"tell me of {w}",
                                            "answers": [w], "split": "train"}) + "\n"
                                for n, w in enumerate(["oceans", "rivers"])))
    data = tmp_path / "tiny"
    import_user_data(examples, corpus, data, name="tiny", task="qa")
    run = RunDir(tmp_path / "run")
    retrieve.run(run, retrieve.RetrieveConfig(dataset=str(data), k=3, splits="train"))
    (run.path / "silver.jsonl").write_text('{"id": "q0", "silver_positions": [0]}\n')
    before = run.candidates_path.read_bytes()
    retrieve.run(run, retrieve.RetrieveConfig(dataset=str(data), k=3, splits="train"))
    with pytest.raises(InputError, match=r"silver searched on its candidates \(silver\.jsonl\)"):
        retrieve.run(run, retrieve.RetrieveConfig(dataset=str(data), k=2, splits="train"))
    assert run.candidates_path.read_bytes() == before


def test_demo_retrieves_again_when_its_data_set_is_rebuilt(tmp_path: Path) -> None:
    """A new data set version replaces the run's candidates; once silver was searched on
    them, a change is refused and the candidates are kept."""
    import json
    from types import SimpleNamespace

    from rich.console import Console

    from ragbridge.data.user_import import import_user_data
    from ragbridge.demo import Demo, DemoTask, demo_sizes
    from ragbridge.jsonl import InputError
    from ragbridge.recipes import RL_SETTINGS

    def build(words: list[str], version: int) -> None:
        examples, corpus = tmp_path / "examples.jsonl", tmp_path / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({"id": f"p{n}", "text": f"passage about {w}"})
                                  + "\n" for n, w in enumerate(words)))
        examples.write_text(json.dumps({"id": "q0", "query": "tell me of rivers",
                                        "answers": ["rivers"], "split": "train"}) + "\n")
        import_user_data(examples, corpus, tmp_path / "tiny", name="tiny", task="qa")
        meta = tmp_path / "tiny" / "meta.json"
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": version}))

    def texts() -> list[str]:
        record = json.loads(run.candidates_path.read_text())
        return [c["text"] for c in record["candidates"]]

    words = ["oceans", "towers", "rivers", "hills", "roads", "lakes"]
    build(words, 1)
    task = DemoTask("run", str(tmp_path / "tiny"), "bm25", "metric", RL_SETTINGS)
    demo = Demo(tmp_path / "runs", demo_sizes("quick"), SimpleNamespace(identity="none"),
                Console(quiet=True), None)
    run = RunDir(tmp_path / "runs" / "run")
    demo.retrieve(task)
    assert "passage about rivers" in texts()
    build([w.replace("rivers", "great rivers") for w in words], 2)
    demo.retrieve(task)
    assert "passage about great rivers" in texts()
    (run.path / "silver.jsonl").write_text('{"id": "q0", "silver_positions": [0]}\n')
    build(words, 3)
    with pytest.raises(InputError, match="silver searched on its candidates"):
        demo.retrieve(task)
    assert "passage about great rivers" in texts()


def test_dev_chooses_the_silver_by_its_sl_bridges_mean_dev_metric(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """With several seeds every SL bridge is kept under a seeded name; the utility whose
    bridges have the better mean best-dev metric is chosen; a tie keeps the task's own."""
    from types import SimpleNamespace

    from rich.console import Console

    from ragbridge.demo import Demo, DemoTask, demo_sizes
    from ragbridge.recipes import RL_SETTINGS

    dev = {("metric", 0): [1.0, 4.0], ("metric", 1): [2.0, 2.0],  # best 4, 2: mean 3
           ("metric+likelihood", 0): [3.5], ("metric+likelihood", 1): [3.0]}  # mean 3.25
    trained = []

    def fake_sl(self, run, name, seed=0):
        utility = name[len("SL ("):-1]
        trained.append((utility, seed))
        return SimpleNamespace(model=tmp_path / f"{utility}-{seed}",
                               history={"dev": [{"metric": m} for m in dev[utility, seed]]})

    monkeypatch.setattr(Demo, "sl", fake_sl)
    task = DemoTask("run", "nq-wiki", "dense", "metric", RL_SETTINGS)
    sizes = replace(demo_sizes("quick"), seeds=2, choose_utility_on_dev=True)
    demo = Demo(tmp_path, sizes, SimpleNamespace(identity="none"), Console(quiet=True), None)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "candidates.jsonl").write_text("")
    (tmp_path / "run" / "config.json").write_text('{"retrieve": {}}')
    chosen, bridges = demo.sl_bridges(task, ("metric", "metric+likelihood"))
    assert chosen == "metric+likelihood"
    assert sorted(trained) == [("metric", 0), ("metric", 1), ("metric+likelihood", 0),
                               ("metric+likelihood", 1)]
    assert list(bridges)[-2:] == ["SL (metric silver) seed 0", "SL (metric silver) seed 1"]
    assert demo.summary["utility"]["run"]["dev SL metric (mean over seeds)"] == {
        "metric": 3.0, "metric+likelihood": 3.25}
    dev[("metric", 1)] = [2.5]  # mean 3.25: a tie keeps the task's own utility
    assert demo.sl_bridges(task, ("metric", "metric+likelihood"))[0] == "metric"
    demo.sizes = replace(sizes, choose_utility_on_dev=False)
    dev[("metric", 1)] = [0.0]
    assert demo.sl_bridges(task, ("metric", "metric+likelihood"))[0] == "metric"


def test_the_demo_runs_fit_on_each_bundled_data_set_with_its_recipe(
        tmp_path: Path, monkeypatch) -> None:
    """`make demo` is `ragbridge fit` per task with the recipe's retriever, K, utility, RL
    reward and sizes, into the task's run directory; the study presets (seeds, a second
    silver, RL-only) keep their own sequence."""
    from types import SimpleNamespace

    from rich.console import Console

    import ragbridge.demo as demo_module
    import ragbridge.fit as fit_module
    from ragbridge.recipes import RECIPES, TASKS

    assert RECIPES["default"].sizes.one_fit and RECIPES["quick"].sizes.one_fit
    assert not RECIPES["study"].sizes.one_fit and not RECIPES["qwen-study"].sizes.one_fit
    fitted = []
    evaluation = SimpleNamespace(results=[], title="t", metric="BLEU", length_unit="tokens",
                                 comparisons=[], answerable_comparisons=[])

    def fake_fit(run, config, llm, progress=None, on_estimate=None):
        fitted.append((run, config))
        return SimpleNamespace(evaluation=evaluation)

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    monkeypatch.setattr(demo_module, "_ensure_data", lambda *args: None)
    monkeypatch.setattr(demo_module, "load_llm", lambda spec: SimpleNamespace(
        identity=spec, stats=SimpleNamespace(calls=0, scored=0)))
    plan = replace(RECIPES["default"], sizes=replace(RECIPES["default"].sizes, gap_n=0))
    summary = demo_module.run_demo(tmp_path, plan, Console(quiet=True))
    sizes = plan.sizes
    assert [run for run, _ in fitted] == [tmp_path / t.name for t in reversed(TASKS)]
    for (_, config), task in zip(fitted, reversed(TASKS), strict=True):
        assert (config.dataset, config.retriever, config.k, config.utility) == (
            task.dataset, task.retriever, task.k, task.utility)
        assert config.task == {"nq-wiki": "qa", "email-subject": "email-subject"}[task.dataset]
        assert (config.dev_n, config.test_n, config.sl_epochs, config.rl_iterations) == (
            sizes.dev_n, sizes.test_n, sizes.sl_epochs, sizes.rl_iterations)
        assert config.train_n == {"nq-wiki": sizes.silver_n,
                                  "email-subject": sizes.email_silver_n}[task.dataset]
        assert config.chain == "sl+rl" and config.bridge_rows() == ("SL", "SL+RL (BGM)")
        trainer = config.rl_trainer()  # the task's reward, the recipe's iterations
        assert trainer.passage_cost == task.reward.passage_cost
        assert trainer.likelihood_weight == task.reward.likelihood_weight
        assert trainer.iterations == sizes.rl_iterations
    assert set(summary["test tables"]) == {t.name for t in TASKS}
