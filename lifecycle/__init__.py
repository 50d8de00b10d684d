"""Lifecycles shared by the service's packages: background tasks owned for an `async with` block."""

from lifecycle.task_owner import TaskOwner

__all__ = ["TaskOwner"]
