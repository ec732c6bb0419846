"""Retrievers: query -> ranked passages, behind one protocol."""

from ragbridge.retrievers.base import Retriever, allowed_mask, build_retriever

__all__ = ["Retriever", "allowed_mask", "build_retriever"]
