"""What the Rasa server does on every turn, made cheaper without changing what it does.

Rasa 3.6 opens a new HTTP client session, and so a new TCP connection, for every call to the
action server (``EndpointConfig.request`` wraps each call in ``async with ClientSession()``).
A turn makes one to three such calls. Here every endpoint keeps one session per event loop,
with keep-alive connections, for as long as the server runs. Rasa also checks every answer of
the action server against a JSON schema with ``jsonschema.validate``, which first checks the
schema itself against the JSON-schema meta-schema and then tries every event against all 23
event schemas: here the validators are made once and an event meets the one schema its name
selects. Reading events back, Rasa walks every subclass of ``Event`` per event: here the class
for each name is remembered. And the rule policy's search for the rules that apply is
remembered for the newest states that decide it. And Rasa's filling of slots into responses logs an exception, with
its traceback, for every button whose payload carries entities in braces. Applied once, when the channels
are imported at start-up (``bot/channels/__init__.py``); measured in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import re
import ssl
from typing import Any

import aiohttp
import jsonschema
import rasa.core.run as rasa_run
import rasa.shared.utils.common
from aiohttp.client_exceptions import ContentTypeError
from rasa.core.actions.action import RemoteAction
from rasa.core.nlg import interpolator
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.utils import endpoints
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
        session = aiohttp.ClientSession(  # the endpoint's headers go with each request (_request)
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


class _ResultCheck:
    """Rasa's check of an action server's answer against ``action_response_format_spec()``.

    Rasa validates the whole answer with ``jsonschema.validate``, which first checks the schema
    itself against the meta-schema, and then tries every event of the answer against each of
    the 23 event schemas of a ``oneOf``. Here the validators are made once, and an event is
    checked against the one schema its ``event`` name selects (the other 22 require another
    name, so the ``oneOf`` holds exactly when that one does). Anything that fails, or does not
    have that shape, is checked again by the full validator, so the error is Rasa's own."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        self.full = cls(schema)
        self.outer = None
        self.by_event: dict[str, Any] = {}
        events = schema.get("properties", {}).get("events", {})
        item = events.get("items", {}) if isinstance(events, dict) else {}
        branches = item.get("oneOf", [])
        names = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
        if branches and "event" in item.get("required", ()) and None not in names and len(set(names)) == len(names):
            outer = dict(
                schema, properties=dict(schema["properties"], events={k: v for k, v in events.items() if k != "items"})
            )
            base = {k: v for k, v in item.items() if k != "oneOf"}
            self.outer = cls(outer)
            self.by_event = {name: cls({"allOf": [base, branch]}) for name, branch in zip(names, branches, strict=True)}

    def _fast_valid(self, result: Any) -> bool:
        if self.outer is None or not self.outer.is_valid(result):
            return False
        for event in result.get("events") or ():
            validator = self.by_event.get(event.get("event")) if isinstance(event, dict) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True

    def error(self, result: Any) -> jsonschema.ValidationError | None:
        if self._fast_valid(result):
            return None
        return jsonschema.exceptions.best_match(self.full.iter_errors(result))


_checks: dict[type, _ResultCheck] = {}
_rasa_validate_action_result = RemoteAction._validate_action_result


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the check above: the same answers pass,
    the same error is raised for the others."""
    check = _checks.get(type(self))
    if check is None:
        check = _checks[type(self)] = _ResultCheck(self.action_response_format_spec())
    error = check.error(result)
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


_rasa_resolve_by_type = Event.resolve_by_type
_event_types: dict[str, type[Event]] = {}


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type``, which walks every subclass of ``Event`` (about thirty, through
    a recursive helper) for every event read from the tracker store or an action's answer: here
    the first class for each name is remembered, and the walk is made again for a name not yet
    known (an event class defined later)."""
    cls = _event_types.get(type_name)
    if cls is None:
        _event_types.clear()
        for candidate in rasa.shared.utils.common.all_subclasses(Event):
            _event_types.setdefault(candidate.type_name, candidate)
        cls = _event_types.get(type_name)
    if cls is None:
        return _rasa_resolve_by_type(type_name, default)  # Rasa's answer for unknown names
    return cls


_rasa_get_possible_keys = RulePolicy._get_possible_keys
_MEMO_SIZE = 4096


def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[dict[str, Any]]) -> set[str]:
    """``RulePolicy._get_possible_keys``: the rules that apply to the conversation's states.

    Rasa tests each of its rules against the states, newest first, on every prediction (two to
    three per turn, each going through every rule). A rule with n states applies or not by the
    newest n states alone (older turns always pass), so the answer depends only on as many
    states as the longest rule has: it is remembered for those states, per lookup table, and a
    change to a table (its size) forgets what was remembered for it."""
    memo = self.__dict__.setdefault("_possible_keys_memo", {})
    table = memo.get(id(lookup))
    if table is None or table[0] != len(lookup):
        depth = max((len(self._rule_key_to_state(key)) for key in lookup), default=0)
        table = memo[id(lookup)] = (len(lookup), depth, collections.OrderedDict())
    _, depth, known = table
    key = json.dumps(states[-depth:] if depth else [], sort_keys=True, default=repr)
    keys = known.get(key)
    if keys is None:
        keys = known[key] = frozenset(_rasa_get_possible_keys(self, lookup, states))
        if len(known) > _MEMO_SIZE:
            known.popitem(last=False)
    else:
        known.move_to_end(key)
    return set(keys)


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
    """Replace them once, and close the kept sessions when the server stops."""
    if getattr(endpoints.EndpointConfig.request, "keeps_sessions", False):
        return
    _request.keeps_sessions = True  # type: ignore[attr-defined]
    endpoints.EndpointConfig.request = _request  # type: ignore[method-assign]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign]
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]
    interpolator.interpolate_text = _interpolate_text
    rasa_run.close_resources = _close_resources
