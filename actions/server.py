"""The action server, locked down: ``python -m actions.server``.

rasa-sdk's own entry point (``python -m rasa_sdk``) listens on every interface and runs
any action for anyone who can reach it: a direct call with an invented tracker could
write disclosure records and complaints for conversations that never existed. This
entry point serves the same rasa-sdk application, but

* listens on loopback unless ``ACTION_SERVER_HOST`` names the deployment's network;
* answers ``/webhook`` and ``/actions`` only to callers that present the shared secret
  ``ACTION_SERVER_TOKEN`` in the ``X-Action-Token`` header (the Rasa server sends it,
  see ``endpoints.yml``); ``/health`` stays open for load balancers;
* refuses to start when the knowledge base is missing, instead of creating an empty one;
* never echoes a request (trackers carry what customers typed) into a log line or an
  error response;
* takes sealed call-back numbers from the Rasa server's channel gateway
  (``POST /callback_numbers``, same secret; :mod:`banktext.sealing`) and deletes the old
  ones at start (:func:`knowledge.tickets.purge_callback_numbers`).
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import logging
import os
import re
import sys

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from banktext import MASKED_PHONE

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = frozenset({"/health"})
_SEALED = re.compile(r"^[A-Za-z0-9_=\-]{40,512}$")


def token_from_env() -> str:
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    if len(token) < 16:
        raise SystemExit(
            "ACTION_SERVER_TOKEN must be set to a shared secret of at least 16 characters "
            "(make run creates one in var/secrets.env)"
        )
    return token


def check_knowledge_base() -> None:
    """Stop at start-up when the knowledge base cannot answer (missing file, no catalogue)."""
    from knowledge import queries as q
    from knowledge.db import session_scope

    try:
        with session_scope() as s:
            if q.get_bank(s) is None:
                raise SystemExit("the knowledge base is empty: load it with `make kb`")
    except SystemExit:
        raise
    except Exception as exc:  # missing file, no tables, server down
        raise SystemExit(f"the knowledge base cannot be read ({type(exc).__name__}): load it with `make kb`") from None


def purge_callback_numbers() -> None:
    """Sealed call-back numbers past the retention, or that no ticket took, are deleted at start."""
    from knowledge import tickets

    try:
        removed = tickets.purge_expired_callback_numbers()
    except Exception as exc:  # a server down: the next start tries again
        logger.warning("could not purge old call-back numbers: %s", type(exc).__name__)
        return
    if removed:
        logger.info("deleted %d sealed call-back numbers past their time", removed)


def create_app(token: str) -> Sanic:
    """rasa-sdk's application with the shared-secret check and a quiet error handler."""
    from rasa_sdk.endpoint import create_app as sdk_app

    app = sdk_app("actions", cors_origins=None)

    @app.on_request
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            logger.warning("refused an action call without the shared secret from %s", request.ip)
            return response.json({"error": "unauthorised"}, status=401)
        return None

    @app.post("/callback_numbers")
    async def keep_callback_number(request: Request) -> HTTPResponse:
        """A call-back number the complaint form took, sealed by the gateway: kept for the ticket."""
        try:
            body = request.json
        except Exception:  # malformed JSON
            body = None
        body = body if isinstance(body, dict) else {}
        conversation, masked, sealed = (body.get(k) for k in ("conversation_id", "masked", "sealed"))
        if not (
            isinstance(conversation, str)
            and 0 < len(conversation) <= 255
            and isinstance(masked, str)
            and MASKED_PHONE.fullmatch(masked)
            and isinstance(sealed, str)
            and _SEALED.match(sealed)
        ):
            return response.json({"error": "conversation_id, masked and sealed are expected"}, status=400)
        from knowledge import tickets
        from knowledge.db import session_scope

        with session_scope() as s:
            tickets.keep_callback_number(s, conversation, masked, sealed)
        return response.json({"ok": True}, status=201)

    async def quiet_error(request: Request, exception: Exception) -> HTTPResponse:
        # rasa-sdk's handler logs the request and returns its body: the tracker, customer text included
        action = None
        with contextlib.suppress(Exception):  # the body is not JSON
            action = (request.json or {}).get("next_action")
        logger.error("action %s failed: %s", action, type(exception).__name__, exc_info=exception)
        return response.json({"error": "the action failed", "action_name": action}, status=500)

    app.error_handler.add(Exception, quiet_error)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ACTION_SERVER_WORKERS", "1")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # masking on every log line (the action server logs nothing of a customer's, but a library might)
    from banktext.logs import install as install_log_masking

    install_log_masking()
    os.environ.setdefault("KNOWLEDGE_DB_MUST_EXIST", "1")
    token = token_from_env()
    check_knowledge_base()
    purge_callback_numbers()
    app = create_app(token)
    logger.info("action server on http://%s:%s (workers: %s)", args.host, args.port, args.workers)
    app.run(args.host, args.port, workers=max(1, args.workers), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
