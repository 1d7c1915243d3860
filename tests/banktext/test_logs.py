"""Personal numbers never reach a log file: the filter masks messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest

from banktext import RedactingFilter, install


@pytest.fixture
def captured():
    """A logger writing to a string, isolated from the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("banktext-test")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    yield logger, handler, stream
    logger.handlers = []


def test_messages_and_their_arguments_are_masked(captured):
    logger, handler, stream = captured
    install(logger)
    logger.info("card %s, phone %s", "6228 4800 1234 5678", "13812345678")
    logger.info("身份证%(id)s", {"id": "11010519491231002X"})
    assert stream.getvalue().splitlines() == ["card 6228********5678, phone 138****5678", "身份证1101**********002X"]


def test_exception_text_and_stack_are_masked(captured):
    logger, handler, stream = captured
    install(logger)
    try:
        raise ValueError("no account for card 6222020200112233445")
    except ValueError:
        logger.exception("lookup failed for 13812345678", stack_info=True)
    out = stream.getvalue()
    assert "6222020200112233445" not in out and "13812345678" not in out
    assert "6222***********3445" in out and "Traceback" in out and "Stack (most recent call last)" in out


def test_text_without_numbers_passes_unchanged_and_no_record_is_dropped(captured):
    logger, handler, stream = captured
    install(logger)
    logger.info("rate %s%% on %s", 3.25, "2026-12-03")
    assert stream.getvalue() == "rate 3.25% on 2026-12-03\n"


def test_install_is_idempotent_and_covers_handlers_added_later(captured):
    logger, handler, stream = captured
    install(logger)
    install(logger)
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    late = logging.StreamHandler(io.StringIO())
    logger.addHandler(late)
    install(logger)  # called again once logging is configured
    assert [isinstance(f, RedactingFilter) for f in late.filters] == [True]


def test_install_defaults_to_the_root_logger():
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        install()
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)


def test_the_filter_can_be_named_in_a_logging_configuration():
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"redact": {"()": "banktext.logs.RedactingFilter"}},
            "handlers": {
                "mem": {"class": "logging.StreamHandler", "stream": stream, "filters": ["redact"]},
            },
            "loggers": {"banktext-config-test": {"handlers": ["mem"], "level": "INFO", "propagate": False}},
        }
    )
    logging.getLogger("banktext-config-test").info("call me on 010-62586601")
    assert stream.getvalue() == "call me on 010-****6601\n"


def test_a_handler_added_after_install_sees_masked_records():
    install()
    stream = io.StringIO()
    late = logging.StreamHandler(stream)
    late.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("banktext-late")
    logger.handlers, logger.propagate = [late], False
    logger.setLevel(logging.INFO)
    logger.info("customer said: my card is %s", "6228 4800 1234 5678")
    try:
        raise RuntimeError("phone 13812345678")
    except RuntimeError:
        logger.exception("failed for %s", "110105194912310021")
    out = stream.getvalue()
    assert "6228 4800 1234 5678" not in out and "13812345678" not in out and "19491231" not in out
    assert "6228********5678" in out
    logger.handlers = []
