"""Keep personal numbers out of log files: a logging filter that masks every record.

A filter on a *handler* sees every record the handler writes, whichever logger
it came from (a filter on a logger only sees records logged on that very
logger, not those propagated from its children). :func:`install` therefore puts
one :class:`RedactingFilter` on each handler of the root logger.

Handlers added later (a library that configures logging when it starts, a
``logging.config.dictConfig`` call) do not have the filter. Either call
:func:`install` again once logging is configured (it is idempotent), or name the
filter in the configuration itself::

    logging.config.dictConfig({
        "version": 1,
        "filters": {"redact": {"()": "banktext.logs.RedactingFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
        "root": {"handlers": ["console"], "level": "INFO"},
    })

or, for one handler built in code: ``handler.addFilter(RedactingFilter())``.
"""

from __future__ import annotations

import logging

from banktext.masking import redact

__all__ = ["RedactingFilter", "install"]


class RedactingFilter(logging.Filter):
    """Masks card, ID and phone numbers in a record's message and exception text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let the handler report it as logging would
            return True
        masked = redact(message)
        if masked != message or record.args:
            # the message is now final: args are applied once, here, and cannot bring numbers back
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (the root logger by default),
    and mask every record made from now on, whichever handler writes it.

    Idempotent: a handler that already has one gets no second.

    Args:
        logger: The logger whose handlers are filtered.
    """
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    _mask_new_records()


def _mask_new_records() -> None:
    """Mask every record as it is made, so handlers added later (a library configuring its own
    logging, a log file) never see a number either."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_personal_numbers", False):
        return
    mask = RedactingFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = current(*args, **kwargs)
        mask.filter(record)
        return record

    factory.masks_personal_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
