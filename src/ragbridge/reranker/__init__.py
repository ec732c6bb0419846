"""The point-wise reranker baseline (`model`) and its training stage (`stage`)."""
