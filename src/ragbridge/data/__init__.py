"""Data sets: prepared folders of examples (train/dev/test) and a passage corpus."""

from ragbridge.data.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
