"""The BGM bridge model: reads a query and its candidates, writes the passage-id sequence."""

from ragbridge.bridge.build import FAMILIES, build_bridge
from ragbridge.bridge.format import BridgeFormat, parse_output, serialize_input, serialize_output
from ragbridge.bridge.model import Bridge

__all__ = ["FAMILIES", "Bridge", "BridgeFormat", "build_bridge", "parse_output",
           "serialize_input", "serialize_output"]
