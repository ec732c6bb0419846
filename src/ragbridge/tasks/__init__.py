"""Tasks: turn (example, ordered passages) into a prompt, and score an LLM output."""

from ragbridge.tasks.base import Task, get_task

__all__ = ["Task", "get_task"]
