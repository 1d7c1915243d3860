"""Reading what a trainable component stored in Rasa's model storage."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)

T = TypeVar("T")


def read_stored(model_storage: ModelStorage, resource: Resource, read: Callable[[Path], T], component: str) -> T | None:
    """``read(directory)`` of the component's stored files, or None (logged) when it was never trained."""
    try:
        with model_storage.read_from(resource) as directory:
            return read(directory)
    except (ValueError, FileNotFoundError):
        logger.warning("%s: no trained model found", component)
        return None


def read_json(model_storage: ModelStorage, resource: Resource, file_name: str, component: str) -> Any | None:
    """The JSON value a component stored as ``file_name``, or None (logged) when it was never trained."""
    return read_stored(
        model_storage,
        resource,
        lambda directory: json.loads((directory / file_name).read_text(encoding="utf-8")),
        component,
    )


def write_json(model_storage: ModelStorage, resource: Resource, file_name: str, value: Any) -> None:
    """Store ``value`` as the component's ``file_name`` (UTF-8 JSON, Chinese kept readable)."""
    with model_storage.write_to(resource) as directory:
        (directory / file_name).write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
