"""ragbridge: BGM, a trainable bridge between a frozen retriever and a frozen LLM."""

__version__ = "0.1.0"
