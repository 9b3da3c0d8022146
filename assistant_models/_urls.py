"""Resolve, normalize and mask PostgreSQL connection URLs.

Secrets never leave this module in clear text: a password in the query string
(``?password=...``) is moved into the URL's password slot, which SQLAlchemy
masks in every rendering, and other secret query keys are handed back
separately so they travel as connection arguments rather than URL text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy.engine import URL, make_url

from assistant_models.exceptions import ValidationError

__all__ = ["MASK", "SECRET_QUERY_KEYS", "URL_ENV_VARS", "mask", "normalize", "resolve", "split_secrets"]

#: What a secret is replaced with in any rendered URL.
MASK = "***"

#: Query-string keys whose values are secrets.
SECRET_QUERY_KEYS = ("password", "sslpassword")

#: Environment variables consulted for a URL, in order of precedence.
URL_ENV_VARS = ("DATABASE_URL", "POSTGRES_URL")

_DRIVER = "postgresql+psycopg2"
_ACCEPTED_SCHEMES = frozenset({"postgres", "postgresql", _DRIVER})


def resolve(explicit: str | None, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """Return the URL to use and where it came from.

    Precedence: the explicit argument, then ``DATABASE_URL``, then
    ``POSTGRES_URL``. Blank values count as unset.

    Args:
        explicit: The URL given by the caller, if any.
        environ: The environment to read; ``os.environ`` when omitted.

    Returns:
        ``(url, source)``; ``url`` is ``None`` and ``source`` is ``"embedded"``
        when no URL is configured anywhere.
    """
    if explicit is not None and explicit.strip():
        return explicit.strip(), "argument"
    env = os.environ if environ is None else environ
    for name in URL_ENV_VARS:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None, "embedded"


def normalize(raw: str) -> URL:
    """Parse ``raw`` and pin the psycopg2 driver.

    ``postgres://``, ``postgresql://`` and ``postgresql+psycopg2://`` are
    accepted and all become ``postgresql+psycopg2://``.

    Raises:
        ValidationError: On field ``url``; the URL itself is never echoed.
    """
    try:
        url = make_url(raw)
    except Exception:  # ArgumentError, ValueError (bad port), ...: their text may quote the URL
        raise ValidationError.single("url", "is not a valid database URL") from None
    if url.drivername not in _ACCEPTED_SCHEMES:
        raise ValidationError.single("url", "must be a PostgreSQL URL (postgresql://...)")
    return url.set(drivername=_DRIVER)


def split_secrets(url: URL) -> tuple[URL, dict[str, str]]:
    """Take secrets out of the query string.

    A ``password`` query value replaces the userinfo password (libpq gives the
    query value precedence too); other secret keys are returned for use as
    connection arguments.

    Returns:
        The URL without secret query keys, and the extra secret arguments.
    """
    query = url.query
    extra: dict[str, str] = {}
    for key in SECRET_QUERY_KEYS:
        value = query.get(key)
        if isinstance(value, tuple):
            value = value[-1] if value else None
        if value is None:
            continue
        if key == "password":
            url = url.set(password=value)
        else:
            extra[key] = value
    return url.difference_update_query(SECRET_QUERY_KEYS), extra


def mask(url: URL) -> str:
    """Render ``url`` with every password replaced by ``***``."""
    secrets = {key: MASK for key in SECRET_QUERY_KEYS if key in url.query}
    if secrets:
        url = url.update_query_dict(secrets)
    return url.render_as_string(hide_password=True)
