"""What the Rasa server does on every turn, made cheaper without changing what it does.

Rasa 3.6 opens a new HTTP client session, and so a new TCP connection, for every call to the
action server (``EndpointConfig.request`` wraps each call in ``async with ClientSession()``).
A turn makes one to three such calls. Here every endpoint keeps one session per event loop,
with keep-alive connections, for as long as the server runs. Rasa also checks every answer of
the action server against a JSON schema with ``jsonschema.validate``, which first checks the
schema itself against the JSON-schema meta-schema: that costs more than the check; here the
validator is made once. And Rasa's filling of slots into responses logs an exception, with
its traceback, for every button whose payload carries entities in braces. Applied once, when the channels
are imported at start-up (``bot/channels/__init__.py``); measured in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
from typing import Any

import aiohttp
import jsonschema
from rasa.core.actions.action import RemoteAction
import rasa.core.run as rasa_run
from rasa.core.nlg import interpolator
from rasa.shared.constants import DOCS_BASE_URL
from rasa.utils import endpoints
from aiohttp.client_exceptions import ContentTypeError
from rasa.utils.endpoints import ClientResponseError, concat_url

logger = logging.getLogger(__name__)

_rasa_close_resources = rasa_run.close_resources

_sessions: dict[tuple[int, tuple], aiohttp.ClientSession] = {}


def _session(config: endpoints.EndpointConfig) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    key = (id(loop), (config.url, tuple(sorted((config.headers or {}).items())), str(config.basic_auth)))
    session = _sessions.get(key)
    if session is None or session.closed or session._loop is not loop:  # noqa: SLF001 - a loop per test
        auth = (
            aiohttp.BasicAuth(config.basic_auth["username"], config.basic_auth["password"])
            if config.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=config.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
            # an idle connection is dropped after 2 s, before the action server (Sanic, 5 s)
            # drops it: a call never goes out on a connection the other side has just closed
            connector=aiohttp.TCPConnector(keepalive_timeout=2, limit=64),
        )
        _sessions[key] = session
    return session


async def _request(
    self: endpoints.EndpointConfig,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
    """Rasa's ``EndpointConfig.request``, on a kept session instead of a new one per call."""
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(kwargs.pop("headers", None) or {})
    if self.headers:
        headers.update(self.headers)
    sslcontext = None
    if self.cafile:
        if not os.path.exists(self.cafile):
            raise FileNotFoundError(f"Failed to find certificate file '{self.cafile}'.")
        sslcontext = ssl.create_default_context(cafile=self.cafile)
    async with _session(self).request(
        method,
        concat_url(self.url, subpath),
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


_validators: dict[type, Any] = {}


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server's answer against its schema, with the schema's own
    check and the validator made once instead of on every action call."""
    validator = _validators.get(type(self))
    if validator is None:
        schema = self.action_response_format_spec()
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _validators[type(self)] = cls(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")
_rasa_interpolate_text = interpolator.interpolate_text


def _interpolate_text(response: str, values: dict[str, Any]) -> str:
    """Rasa's filling of ``{slot}`` placeholders, without its way of handling text that has
    braces but no such slot (a button payload such as ``/inform{"segment": "student"}``): Rasa
    tries, fails, logs the exception with its traceback and returns the text unchanged, on
    every button of every menu. Here the text is returned unchanged without trying."""
    if "{" not in response:
        return response
    missing = [name for name in _PLACEHOLDER.findall(response) if name not in values]
    if not missing:
        return _rasa_interpolate_text(response, values)
    if any(name.isidentifier() for name in missing):
        logger.warning("a response names a slot that has no value: %s", ", ".join(missing))
    return response


async def close_sessions() -> None:
    """Close the sessions kept on the running loop (when the server stops)."""
    loop = asyncio.get_running_loop()
    for key, session in list(_sessions.items()):
        if key[0] == id(loop):
            del _sessions[key]
            await session.close()


async def _close_resources(app: Any, loop: Any) -> None:
    await _rasa_close_resources(app, loop)
    await close_sessions()


def install() -> None:
    """Replace the three once, and close the kept sessions when the server stops."""
    if getattr(endpoints.EndpointConfig.request, "keeps_sessions", False):
        return
    _request.keeps_sessions = True  # type: ignore[attr-defined]
    endpoints.EndpointConfig.request = _request  # type: ignore[method-assign]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    interpolator.interpolate_text = _interpolate_text
    rasa_run.close_resources = _close_resources
