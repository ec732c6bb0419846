"""The preference-gap probe (`probe`) and its stage over a run directory (`stage`)."""
