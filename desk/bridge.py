"""The desk's calls into conversations: the Rasa server's token-protected desk API
(:mod:`bot.channels.desk`), which reaches the customer's channel and stores the events."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
TIMEOUT_SECONDS = 15


class BridgeError(RuntimeError):
    """The Rasa server could not be reached or refused the call."""


class Bridge:
    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        self.base_url = (base_url or os.environ.get("DESK_RASA_URL") or DEFAULT_RASA_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("DESK_BRIDGE_TOKEN", "")

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/webhooks/desk/{route}",
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                return json.loads(answer.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.error("the Rasa server's desk API failed on %s: %s", route, type(exc).__name__)
            raise BridgeError(route) from exc

    def hand_over(self, conversation_id: str, agent: str | None) -> bool:
        return bool(self._post("hand_over", {"conversation_id": conversation_id, "agent": agent}).get("reached"))

    def say(self, conversation_id: str, agent: str, text: str) -> bool:
        return bool(
            self._post("say", {"conversation_id": conversation_id, "agent": agent, "text": text}).get("reached")
        )

    def resolve(self, conversation_id: str) -> bool:
        return bool(self._post("resolve", {"conversation_id": conversation_id}).get("reached"))

    def remind(self, conversation_id: str) -> dict[str, Any]:
        """The bot says the conversation's claimed reminders: ``{"said": n, "reached": bool}``."""
        return self._post("remind", {"conversation_id": conversation_id})
