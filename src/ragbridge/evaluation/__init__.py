"""Scoring selectors through the frozen LLM (`scoring`: metrics, diversity,
paired bootstrap) and the evaluate stage over a run directory (`stage`)."""
