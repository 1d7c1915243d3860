"""What several of the project's Rasa components share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
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


ROOT = Path(__file__).resolve().parents[2]
# the project's code a component's output can depend on besides the class itself (helpers, word tables)
_CODE = ("banktext", "bot/nlu")


def sources_digest(paths: Iterable[str | Path] = ()) -> str:
    """One hash of the project's NLU code and of the given files (a folder: every file in it)."""
    files: list[Path] = [f for folder in _CODE for f in (ROOT / folder).rglob("*.py")]
    for path in paths:
        path = Path(path)
        path = path if path.is_absolute() else ROOT / path
        files += [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
    digest = hashlib.sha1()
    for file in sorted(set(files)):
        digest.update(str(file.relative_to(ROOT) if file.is_relative_to(ROOT) else file).encode())
        digest.update(file.read_bytes() if file.is_file() else b"<missing>")
    return digest.hexdigest()


class FingerprintsItsSources:
    """Rasa reuses a training stage's cached output when the component's class source, its config and
    its inputs are unchanged. It does not see the helpers a component calls (the Cantonese table, the
    number reader) nor the files it reads (a word list named in its config), so editing those would
    train on stale output, or leave the model unchanged while the server reads the new list. This adds
    both to the stage's fingerprint. Put it before Rasa's base class; ``files_read`` names the files."""

    @classmethod
    def files_read(cls, config: dict[str, Any]) -> list[str]:
        return []

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return sources_digest(p for p in cls.files_read(config) if p)
