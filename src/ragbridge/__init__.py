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
  `RerankerConfig`, `EvaluateConfig`); each stage is `run` in its concept's
  package: `retrievers.stage`, `gap.stage`, `silver.stage`, `bridge.sl_stage`,
  `bridge.rl_stage`, `reranker.stage`, `evaluation.stage`
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
    "BridgedRAG": "ragbridge.bridged_rag", "PointwiseReranker": "ragbridge.reranker.model",
    "Judge": "ragbridge.judge", "load_llm": "ragbridge.llms", "get_task": "ragbridge.tasks",
    "build_retriever": "ragbridge.retrievers", "load_dataset": "ragbridge.data",
    "RunDir": "ragbridge.rundir", "Passage": "ragbridge.records",
    "Example": "ragbridge.records", "Candidates": "ragbridge.records",
    "evaluate_selector": "ragbridge.evaluation.scoring",
    "paired_bootstrap": "ragbridge.evaluation.scoring",
    "SilverConfig": "ragbridge.silver.search", "SLConfig": "ragbridge.bridge.sl",
    "RLConfig": "ragbridge.bridge.rl", "RetrieveConfig": "ragbridge.retrievers.stage",
    "GapConfig": "ragbridge.gap.stage", "SilverStageConfig": "ragbridge.silver.stage",
    "SLStageConfig": "ragbridge.bridge.sl_stage", "RLStageConfig": "ragbridge.bridge.rl_stage",
    "RerankerConfig": "ragbridge.reranker.stage", "EvaluateConfig": "ragbridge.evaluation.stage",
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
    from ragbridge.bridge.rl_stage import RLStageConfig
    from ragbridge.bridge.sl import SLConfig
    from ragbridge.bridge.sl_stage import SLStageConfig
    from ragbridge.bridged_rag import BridgedRAG
    from ragbridge.data import load_dataset
    from ragbridge.evaluation.scoring import evaluate_selector, paired_bootstrap
    from ragbridge.evaluation.stage import EvaluateConfig
    from ragbridge.gap.stage import GapConfig
    from ragbridge.judge import Judge
    from ragbridge.llms import load_llm
    from ragbridge.llms.base import LLM
    from ragbridge.records import Candidates, Example, Passage
    from ragbridge.reranker.model import PointwiseReranker
    from ragbridge.reranker.stage import RerankerConfig
    from ragbridge.retrievers import build_retriever
    from ragbridge.retrievers.base import Retriever
    from ragbridge.retrievers.stage import RetrieveConfig
    from ragbridge.rundir import RunDir
    from ragbridge.selectors import NoRetrieval, Selector, SilverOracle, TopK
    from ragbridge.silver.search import SilverConfig
    from ragbridge.silver.stage import SilverStageConfig
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
