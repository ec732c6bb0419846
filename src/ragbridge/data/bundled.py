"""The bundled data sets (built from the package registries on first use) and their tasks."""

from __future__ import annotations

import json
from typing import Any

from ragbridge.paths import dataset_dir
from ragbridge.progress import ProgressCallback

BUNDLED_TASKS = {"nq-wiki": "qa", "email-subject": "email-subject"}  # data set -> task


def bundled_version(name: str) -> int:
    """The version a bundled data set's builder makes now (a cached older one is rebuilt)."""
    from ragbridge.data import email_subject, nq_wiki

    return {"nq-wiki": nq_wiki.VERSION, "email-subject": email_subject.VERSION}[name]


def ensure_bundled(name: str, progress: ProgressCallback | None = None
                   ) -> dict[str, Any] | None:
    """Build a bundled data set unless the cache holds its current version; the counts of
    what was built (None: it was there)."""
    from ragbridge.data import email_subject, nq_wiki

    if name not in BUNDLED_TASKS:
        raise ValueError(f"unknown bundled data set {name!r}: choose one of "
                         f"{', '.join(BUNDLED_TASKS)}")
    meta = dataset_dir(name) / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("version", 1) == bundled_version(name):
        return None
    builder = {"nq-wiki": nq_wiki.build_nq_wiki,
               "email-subject": email_subject.build_email_subject}[name]
    return builder(dataset_dir(name), progress=progress)
