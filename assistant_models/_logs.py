"""Keep secrets out of SQLAlchemy's engine and pool logs.

SQLAlchemy logs result rows at DEBUG (``Row ('…', '$2b$…')``), so a password,
key or token hash read by a query reaches any handler listening at that level;
the pool logs each new DBAPI connection, whose ``repr`` shows the DSN with its
``sslpassword``. :func:`guard` puts a :class:`RedactSecrets` filter on the loggers
of one engine and its pool. Every engine of this package logs under the name
``assistant_models`` (``sqlalchemy.engine.Engine.assistant_models``), so the
filter touches our records only and nothing is changed on import.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.engine import Engine

__all__ = ["LOGGING_NAME", "REDACTED", "RedactSecrets", "guard"]

#: ``logging_name`` of every engine and pool the package creates.
LOGGING_NAME = "assistant_models"

#: What a secret is replaced with in a log record.
REDACTED = "[redacted]"

#: Result columns whose values never reach a log: hashes, tokens, passwords, keys.
SECRET_COLUMN = re.compile(r"password|passw|secret|token|hash|api_?key|credential|private", re.IGNORECASE)

#: ``password=…`` and ``sslpassword=…`` in DSNs and connection reprs, quoted or not.
_SECRET_PAIR = re.compile(r"""(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|"[^"]*"|[^\s,;)>'"]+)""", re.I)


class RedactSecrets(logging.Filter):
    """Rewrite a log record so no secret it carries is formatted; never drops a record.

    Result rows keep their shape, with the values of secret-looking columns
    (:data:`SECRET_COLUMN`) replaced; a row without column names is redacted
    whole. Any other message has its ``password=``/``sslpassword=`` values masked
    (psycopg2 masks a DSN's ``password`` itself, not its ``sslpassword``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and let it through."""
        args = record.args
        if record.msg == "Row %r" and isinstance(args, tuple) and len(args) == 1:
            record.msg, record.args = "Row %s", (_redacted_row(args[0]),)
            return True
        if args or _SECRET_PAIR.search(str(record.msg)):
            record.msg = _SECRET_PAIR.sub(rf"\1{REDACTED}", record.getMessage())
            record.args = None
        return True


def _redacted_row(logged: Any) -> str:
    """Return a row's text with the values of secret columns replaced."""
    row = getattr(logged, "row", logged)
    fields = getattr(row, "_fields", None)
    if fields is None:
        return REDACTED
    values = [
        REDACTED if SECRET_COLUMN.search(name) else _short(value)
        for name, value in zip(fields, row, strict=False)
    ]
    return "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 300 else f"{text[:150]} ... ({len(text)} characters)"


def _named_logger(identified: Any) -> logging.Logger:
    """Return the :class:`logging.Logger` behind an engine's or a pool's logger (or echo wrapper)."""
    logger = identified.logger
    inner = getattr(logger, "logger", logger)
    return inner if isinstance(inner, logging.Logger) else logging.getLogger(LOGGING_NAME)


_FILTER = RedactSecrets()


def guard(engine: Engine) -> None:
    """Put the redacting filter on ``engine``'s logger and its pool's (once each)."""
    for identified in (engine, engine.pool):
        logger = _named_logger(identified)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
