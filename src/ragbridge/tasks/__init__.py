"""Tasks: turn (example, ordered passages) into a prompt, and score an LLM output."""

from __future__ import annotations

from ragbridge.tasks.base import Task

__all__ = ["Task", "get_task"]


def get_task(name: str) -> Task:
    """A task by name: 'qa' or 'email-subject' (alias 'generation')."""
    from ragbridge.tasks.generation import SubjectGenerationTask
    from ragbridge.tasks.qa import QATask

    if name == "qa":
        return QATask()
    if name in ("email-subject", "generation"):
        return SubjectGenerationTask()
    raise ValueError(f"unknown task {name!r}: choose 'qa' or 'email-subject'")
