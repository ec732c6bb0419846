"""The BGM bridge model: reads a query and its candidates, writes the passage-id sequence."""

from ragbridge.bridge.build import DEFAULT_FAMILY, FAMILIES, build_bridge, is_family
from ragbridge.bridge.format import BridgeFormat, parse_output, serialize_output
from ragbridge.bridge.model import Bridge

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Bridge", "BridgeFormat", "build_bridge", "is_family",
           "parse_output", "serialize_output"]
