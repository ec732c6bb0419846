"""ragbridge: BGM, a trainable bridge between a frozen retriever and a frozen LLM.

The public API, importable from the top (heavy modules load on first use)::

    from ragbridge import Bridge, BridgedRAG, Selector, TopK, load_llm, get_task

- selectors: `Selector` (protocol), `Bridge`, `PointwiseReranker`, `TopK`, `NoRetrieval`,
  `SilverOracle`
- protocols a user implements: `Retriever`, `LLM`, `Task` (beside `Selector`)
- pipeline and parts: `BridgedRAG`, `load_llm`, `get_task`, `build_retriever`, `build_bridge`,
  `load_dataset`, `Judge`, `RunDir`; records `Passage`, `Example`, `Candidates`
- evaluation: `evaluate_selector`, `paired_bootstrap`
- configs: `SilverConfig`, `SLConfig`, `RLConfig` (trainers) and one per stage
  (`RetrieveConfig`, `GapConfig`, `SilverStageConfig`, `SLStageConfig`, `RLStageConfig`,
  `RerankerConfig`, `EvaluateConfig`); the stages themselves are `ragbridge.stages.*.run`
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Retriever": "ragbridge.retrievers.base", "LLM": "ragbridge.llms.base",
    "Task": "ragbridge.tasks.base",
    "Selector": "ragbridge.selectors", "TopK": "ragbridge.selectors",
    "NoRetrieval": "ragbridge.selectors", "SilverOracle": "ragbridge.selectors",
    "Bridge": "ragbridge.bridge.model", "build_bridge": "ragbridge.bridge.build",
    "BridgedRAG": "ragbridge.pipeline", "PointwiseReranker": "ragbridge.reranker",
    "Judge": "ragbridge.judge", "load_llm": "ragbridge.llms", "get_task": "ragbridge.tasks",
    "build_retriever": "ragbridge.retrievers", "load_dataset": "ragbridge.data",
    "RunDir": "ragbridge.rundir", "Passage": "ragbridge.records",
    "Example": "ragbridge.records", "Candidates": "ragbridge.records",
    "evaluate_selector": "ragbridge.evaluation", "paired_bootstrap": "ragbridge.evaluation",
    "SilverConfig": "ragbridge.silver", "SLConfig": "ragbridge.bridge.sl",
    "RLConfig": "ragbridge.bridge.rl", "RetrieveConfig": "ragbridge.stages.retrieve",
    "GapConfig": "ragbridge.stages.gap", "SilverStageConfig": "ragbridge.stages.silver",
    "SLStageConfig": "ragbridge.stages.sl", "RLStageConfig": "ragbridge.stages.rl",
    "RerankerConfig": "ragbridge.stages.reranker", "EvaluateConfig": "ragbridge.stages.evaluate",
}

__all__ = [
    "Bridge", "BridgedRAG", "Candidates", "EvaluateConfig", "Example", "GapConfig", "Judge",
    "LLM", "NoRetrieval", "Passage", "PointwiseReranker", "RLConfig", "RLStageConfig",
    "RerankerConfig", "RetrieveConfig", "Retriever", "RunDir", "SLConfig", "SLStageConfig",
    "Selector", "SilverConfig", "SilverOracle", "SilverStageConfig", "Task", "TopK",
    "build_bridge", "build_retriever", "evaluate_selector", "get_task", "load_dataset",
    "load_llm", "paired_bootstrap",
]

if TYPE_CHECKING:
    from ragbridge.bridge.build import build_bridge
    from ragbridge.bridge.model import Bridge
    from ragbridge.bridge.rl import RLConfig
    from ragbridge.bridge.sl import SLConfig
    from ragbridge.data import load_dataset
    from ragbridge.evaluation import evaluate_selector, paired_bootstrap
    from ragbridge.judge import Judge
    from ragbridge.llms import load_llm
    from ragbridge.llms.base import LLM
    from ragbridge.pipeline import BridgedRAG
    from ragbridge.records import Candidates, Example, Passage
    from ragbridge.reranker import PointwiseReranker
    from ragbridge.retrievers import build_retriever
    from ragbridge.retrievers.base import Retriever
    from ragbridge.rundir import RunDir
    from ragbridge.selectors import NoRetrieval, Selector, SilverOracle, TopK
    from ragbridge.silver import SilverConfig
    from ragbridge.stages.evaluate import EvaluateConfig
    from ragbridge.stages.gap import GapConfig
    from ragbridge.stages.reranker import RerankerConfig
    from ragbridge.stages.retrieve import RetrieveConfig
    from ragbridge.stages.rl import RLStageConfig
    from ragbridge.stages.silver import SilverStageConfig
    from ragbridge.stages.sl import SLStageConfig
    from ragbridge.tasks import get_task
    from ragbridge.tasks.base import Task


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ragbridge' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
