"""Ray with 2 workers gives the same silver.jsonl as one process (real bundled LLM)."""

from __future__ import annotations

from pathlib import Path

from ragbridge.jsonl import write_jsonl
from ragbridge.llms import load_llm
from ragbridge.records import Candidates, Example, Hit
from ragbridge.rundir import RunDir
from ragbridge.silver import stage as silver_stage
from ragbridge.silver.search import SilverConfig


def _candidates(small_corpus) -> list[Candidates]:
    questions = [("what is the largest ocean", "Pacific"), ("where is the eiffel tower", "Paris"),
                 ("how do plants make energy", "photosynthesis")]
    return [Candidates(Example(f"q{n}", q, answers=(a,)),
                       tuple(Hit(p, 1.0, r + 1) for r, p in enumerate(small_corpus[:2])), "train")
            for n, (q, a) in enumerate(questions)]


def test_ray_matches_single_process(tmp_path: Path, small_corpus) -> None:
    items = _candidates(small_corpus)
    config = silver_stage.SilverStageConfig(
        search=SilverConfig(max_length=1, batch_queries=1, metric="f1"))
    outputs = {}
    for name, workers in (("single", 1), ("ray", 2)):
        run = RunDir(tmp_path / name)
        write_jsonl(run.candidates_path, (c.to_dict() for c in items))
        run.record("retrieve", {"dataset": "toy", "task": "qa", "retriever": "toy", "k": 2})
        # separate caches: both really compute; the Ray workers rebuild the LLM from its recipe
        llm = load_llm("smollm2", cache_path=tmp_path / f"{name}.sqlite", batch_size=4)
        stage_config = silver_stage.SilverStageConfig(workers=workers, search=config.search)
        summary = silver_stage.run(run, stage_config, llm)
        assert summary.queries == 3 and summary.llm_calls > 0
        outputs[name] = (run.path / "silver.jsonl").read_text()
    assert outputs["ray"] == outputs["single"]
