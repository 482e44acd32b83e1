"""Federated task contracts shared by hub and site agent: features, model, indicators (no flwr)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standards.tasks.common import FederatedTask

TASK_MODULES: dict[str, str] = {
    "molecular-property": "standards.tasks.molecular_property",
    "equipment-anomaly": "standards.tasks.equipment_anomaly",
}


def task_names() -> list[str]:
    """Names of the tasks a run can ask for."""
    return sorted(TASK_MODULES)


def get_task(name: str) -> FederatedTask:
    """The task contract for a name (imported on first use: torch/RDKit load lazily)."""
    try:
        module = TASK_MODULES[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(task_names())}") from None
    task: FederatedTask = importlib.import_module(module).TASK
    return task


__all__ = ["TASK_MODULES", "get_task", "task_names"]
