"""What several of the project's Rasa components share."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


class CreatedFromConfig:
    """A component built from its configuration alone (``cls(config)``): it stores nothing and
    needs no context. Put it before Rasa's base class so its ``create`` is the one used."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Any:
        return cls(config)
