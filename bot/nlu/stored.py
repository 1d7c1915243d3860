"""Reading what a trainable component stored in Rasa's model storage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
