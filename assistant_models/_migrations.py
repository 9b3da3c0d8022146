"""Run the packaged Alembic migrations on a live connection.

The repository's top-level ``alembic/`` folder ships as the package
``assistant_models.migrations``. The :class:`alembic.config.Config` is built in
code and the open connection travels in ``config.attributes["connection"]``, so
no ini file is read and no URL or password is written anywhere. ``env.py``
must therefore use that connection when it is present.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from alembic.command import downgrade, upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from assistant_models.exceptions import DatabaseError

__all__ = ["MIGRATIONS_PACKAGE", "config_for", "current_revision", "render_item", "run", "script_location"]

#: Import name of the packaged migration scripts.
MIGRATIONS_PACKAGE = "assistant_models.migrations"

#: Key of the transaction-level advisory lock that serializes concurrent migrations.
ADVISORY_LOCK_KEY = 0x61_6D_5F_6D_69_67  # "am_mig"

_COMMANDS: dict[str, Callable[[Config, str], None]] = {
    "upgrade": upgrade,
    "downgrade": downgrade,
}


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render a column type that knows how a migration writes it, with the import it needs.

    Alembic's ``render_item`` hook: a type with an ``alembic_render(imports)`` method
    (:class:`assistant_models.vector.Vector`) returns its own text and adds its import, so a
    generated migration imports what it uses; everything else is left to Alembic.
    """
    render = getattr(obj, "alembic_render", None)
    if type_ != "type" or render is None:
        return False
    text: str = render(autogen_context.imports)
    return text


def script_location() -> Path:
    """Return the directory holding ``env.py`` and ``versions/``.

    The installed package ``assistant_models.migrations`` is preferred; a plain
    checkout falls back to the repository's ``alembic/`` folder.
    """
    # ``alembic/`` has no ``__init__.py`` (it would shadow the alembic library in a
    # checkout), so the installed package is a namespace package: search its locations.
    try:
        spec = importlib.util.find_spec(MIGRATIONS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for entry in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(entry) / "env.py").is_file():
            return Path(entry)
    return Path(__file__).resolve().parent.parent / "alembic"


def config_for(connection: Connection, location: Path | None = None) -> Config:
    """Return an Alembic configuration that runs on ``connection``.

    Raises:
        DatabaseError: The migration scripts cannot be found.
    """
    where = location or script_location()
    if not (where / "env.py").is_file():
        raise DatabaseError(f"migration scripts not found: no env.py in {where}")
    config = Config()
    config.set_main_option("script_location", str(where).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def run(connection: Connection, command: str, revision: str, location: Path | None = None) -> None:
    """Run ``alembic <command> <revision>`` inside the connection's transaction.

    An advisory lock keeps concurrent migrations of the same database apart,
    and the statement timeout is lifted for the transaction.

    Raises:
        DatabaseError: Alembic refused the command (unknown revision, ...).
    """
    config = config_for(connection, location)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.execute(text("SET LOCAL statement_timeout = 0"))
    try:
        _COMMANDS[command](config, revision)
    except CommandError as exc:
        raise DatabaseError(f"migration {command} to {revision!r} failed: {exc}") from exc


def current_revision(connection: Connection) -> str | None:
    """Return the revision recorded in ``alembic_version`` (heads comma-joined), or ``None``."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) if heads else None
