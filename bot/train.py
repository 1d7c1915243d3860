"""`make train`: train the assistant's model, printing a line per stage.

    python -m bot.train [--out models] [--fixed-model-name assistant] [--force]

It is `rasa train` with two differences:

* one progress line per stage of the training graph (which component, how long it took and
  the time since the start), so that a user sees where the minutes go and that nothing is stuck;
* Rasa's training cache identifies each stage's output by a fingerprint of every message:
  Rasa 3.6 hashes each token, each of its attributes and each sparse feature matrix written out
  as text, one JSON dump and one MD5 per item, after every stage. On this project's 13 k
  examples that is 6.5 million calls and 10-15 s after each tokenizer and featurizer, about a
  minute in all (docs/nlu-evaluation.md, "Training in minutes"). `fast_fingerprints()` hashes
  one serialisation of each message, and a sparse matrix's arrays, instead. A fingerprint stays
  a pure function of the message, so the cache works as before: two different messages never
  share one, and entries written by plain `rasa train` are simply not reused;
* Rasa validates each of the ~10 k entity annotations ({"entity": ..., "value": ...}) with
  `jsonschema.validate`, which first checks the schema itself, every time: about 15 s per
  reading of the data. `validated_schemas_once()` checks each schema once and keeps its
  validator; every annotation is still validated, and a wrong one fails with Rasa's own error.

`speed_up_training()` applies both; `bot.evaluation` trains the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent

_PATCHED = False


def _sparse_digest(matrix) -> str:
    import numpy as np

    csr = matrix.tocsr(copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    digest = hashlib.sha1(np.asarray(csr.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(csr.indptr, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(csr.indices, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(csr.data).tobytes())
    digest.update(str(csr.data.dtype).encode())
    return digest.hexdigest()


def fast_fingerprints() -> None:
    """Fingerprint each message by one hash of its data and each sparse matrix by a hash of its
    arrays, not item by item and printed as text (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.utils.io import deep_container_fingerprint

    def features_fingerprint(self: Features) -> str:
        if self._cached_fingerprint is None:
            payload = self.features.tobytes() if self.is_dense() else _sparse_digest(self.features)
            self._cached_fingerprint = deep_container_fingerprint([self.type, self.origin, self.attribute, payload])
        return self._cached_fingerprint

    rasa_message_fingerprint = Message.fingerprint

    def message_fingerprint(self: Message) -> str:
        if self._cached_fingerprint is None:
            try:
                data = pickle.dumps(self.data, protocol=4)
            except (pickle.PicklingError, TypeError, AttributeError):
                return rasa_message_fingerprint(self)
            digest = hashlib.sha1(data)
            for features in self.features:
                digest.update(features.fingerprint().encode())
            self._cached_fingerprint = digest.hexdigest()
        return self._cached_fingerprint

    Features.fingerprint = features_fingerprint
    Message.fingerprint = message_fingerprint
    _PATCHED = True


_SCHEMAS_PATCHED = False


def validated_schemas_once() -> None:
    """Rasa's `validate_training_data` with one validator per schema, built (and the schema
    checked) once; data that fails goes through Rasa's own function for its error (idempotent)."""
    global _SCHEMAS_PATCHED
    if _SCHEMAS_PATCHED:
        return
    import json

    import jsonschema
    import rasa.shared.utils.validation as validation

    rasa_validate = validation.validate_training_data
    validators: dict[str, Any] = {}

    def validate_training_data(json_data: dict[str, Any], schema: dict[str, Any]) -> None:
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = validators[key] = cls(schema)
        if not validator.is_valid(json_data):
            rasa_validate(json_data, schema)  # raises Rasa's SchemaValidationError with its message

    validation.validate_training_data = validate_training_data
    _SCHEMAS_PATCHED = True


def speed_up_training() -> None:
    """Both of the above: what `make train` and `make eval` train with."""
    fast_fingerprints()
    validated_schemas_once()


def _stage(node_name: str) -> str:
    """A readable name for a node of the training graph."""
    kind, _, rest = node_name.partition("_")
    component = rest.rstrip("0123456789").rsplit(".", 1)[-1] or node_name
    if kind == "train":
        return f"train {component}"
    if kind == "run":
        return f"run {component} over the training data"
    return node_name


class Progress:
    """Prints one line when a stage of the training graph ends (stages under 0.5 s are folded)."""

    def __init__(self, stream=sys.stdout) -> None:
        self.started = time.perf_counter()
        self.stream = stream

    def line(self, text: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"  [{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {text}", file=self.stream, flush=True)

    def install(self) -> None:
        from rasa.engine.training.hooks import LoggingHook

        progress = self
        before, after = LoggingHook.on_before_node, LoggingHook.on_after_node

        def on_before_node(hook, node_name, execution_context, config, received_inputs) -> dict[str, Any]:
            data = before(hook, node_name, execution_context, config, received_inputs)
            return {**data, "progress_started": time.perf_counter()}

        def on_after_node(hook, node_name, execution_context, config, output, input_hook_data) -> None:
            after(hook, node_name, execution_context, config, output, input_hook_data)
            took = time.perf_counter() - input_hook_data.get("progress_started", time.perf_counter())
            if took >= 0.5:
                progress.line(f"{_stage(node_name)}: {took:.1f} s")

        LoggingHook.on_before_node = on_before_node
        LoggingHook.on_after_node = on_after_node


def quiet_rasa_logs() -> None:
    """Rasa at warning level, as `rasa train --quiet`. Its structlog debug log prints everything until
    configured, each parsed message with its text among it: in `make eval` those are the real
    questions, which are only counted."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--domain", default=str(ROOT / "domain.yml"))
    parser.add_argument("--data", nargs="+", default=[str(ROOT / "data")])
    parser.add_argument("--out", default=str(ROOT / "models"))
    parser.add_argument("--fixed-model-name", default="assistant")
    parser.add_argument("--force", action="store_true", help="train even if nothing changed")
    args = parser.parse_args(argv)

    progress = Progress()
    progress.line("loading Rasa")
    from rasa.api import train

    quiet_rasa_logs()

    speed_up_training()
    progress.install()
    progress.line("reading the training data and the domain; then the stages of the training graph")
    result = train(
        domain=args.domain,
        config=args.config,
        training_files=args.data,
        output=args.out,
        fixed_model_name=args.fixed_model_name,
        force_training=args.force,
    )
    if result.code != 0 or not result.model:
        progress.line(f"training failed (code {result.code})")
        return result.code or 1
    progress.line(f"model saved: {os.path.relpath(result.model, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
