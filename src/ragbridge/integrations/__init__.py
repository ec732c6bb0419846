"""Adapters that drop any `Selector` (a trained bridge, by default) into RAG frameworks; each
needs its framework installed:

- `ragbridge.integrations.langchain.BridgeCompressor` (`pip install 'ragbridge[langchain]'`)
- `ragbridge.integrations.llamaindex.BridgePostprocessor` (`pip install 'ragbridge[llamaindex]'`)
- `ragbridge.integrations.haystack.BridgeRanker` (`pip install 'ragbridge[haystack]'`)
"""

from __future__ import annotations

import os
from pathlib import Path

from ragbridge.selectors import Selector


def load_selector(selector: Selector | str | os.PathLike[str]) -> Selector:
    """A selector as given, or the bridge saved in a folder."""
    if isinstance(selector, (str, os.PathLike)):
        from ragbridge.bridge import Bridge

        return Bridge.from_pretrained(Path(selector))
    return selector


def missing(framework: str, extra: str) -> ImportError:
    """The error raised when an adapter's framework is not installed."""
    return ImportError(f"{framework} is not installed: pip install 'ragbridge[{extra}]'")
