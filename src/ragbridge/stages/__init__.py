"""The stages of a run, one module each: retrieve, gap, silver, sl, rl, reranker, evaluate.

Each has a config dataclass and `run(run_dir, config, llm, progress=None) -> report`: it
reads the artifacts of the stages before it from the run directory, writes its own, records
its settings in `config.json`, and returns a plain report that the CLI and the demo render.
The run's task, retriever and K are the ones `retrieve` recorded.
"""
