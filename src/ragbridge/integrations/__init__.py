"""Adapters that drop a trained bridge into RAG frameworks; each needs its framework installed:

- `ragbridge.integrations.langchain.BridgeCompressor` (`pip install 'ragbridge[langchain]'`)
- `ragbridge.integrations.llamaindex.BridgePostprocessor` (`pip install 'ragbridge[llamaindex]'`)
- `ragbridge.integrations.haystack.BridgeRanker` (`pip install 'ragbridge[haystack]'`)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_bridge(bridge: Any) -> Any:
    """A `Bridge` as given, or loaded from a folder path."""
    from ragbridge.bridge import Bridge

    return bridge if isinstance(bridge, Bridge) else Bridge.from_pretrained(Path(bridge))


def missing(framework: str, extra: str) -> ImportError:
    """The error raised when an adapter's framework is not installed."""
    return ImportError(f"{framework} is not installed: pip install 'ragbridge[{extra}]'")
