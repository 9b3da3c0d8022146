"""Run the packaged Alembic migrations on a live connection.

The repository's top-level ``alembic/`` folder ships as the package
``assistant_models.migrations``. The :class:`alembic.config.Config` is built in
code and the open connection travels in ``config.attributes["connection"]``, so
no ini file is read and no URL or password is written anywhere. ``env.py``
must therefore use that connection when it is present.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from alembic.command import downgrade, upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

from assistant_models.exceptions import DatabaseError

__all__ = [
    "CORE_BRANCH",
    "EXTENSION_BRANCHES",
    "MIGRATIONS_PACKAGE",
    "absent_extensions",
    "available_extensions",
    "config_for",
    "current_revision",
    "extension_tables",
    "include_object_for",
    "installed_extensions",
    "render_item",
    "require_extension",
    "run",
    "script_location",
    "upgrade_targets",
]

_log = logging.getLogger("assistant_models.database")

#: Import name of the packaged migration scripts.
MIGRATIONS_PACKAGE = "assistant_models.migrations"

#: Key of the transaction-level advisory lock that serializes concurrent migrations.
ADVISORY_LOCK_KEY = 0x61_6D_5F_6D_69_67  # "am_mig"

#: Branch label of the migrations every server takes.
CORE_BRANCH = "core"
#: Branches whose tables need a PostgreSQL extension, by label: the extension's name.
EXTENSION_BRANCHES: dict[str, str] = {"vector": "vector"}

_COMMANDS: dict[str, Callable[[Config, str], None]] = {
    "upgrade": upgrade,
    "downgrade": downgrade,
}


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render a column type that knows how a migration writes it, with the import it needs.

    Alembic's ``render_item`` hook: a type with an ``alembic_render(imports)`` method
    (:class:`assistant_models.vector.Vector`) returns its own text and adds its import, and
    SQLModel's ``AutoString`` is written as ``sa.String``, so a generated migration imports
    what it uses; everything else is left to Alembic.
    """
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):  # SQLModel's str column: plain VARCHAR, no sqlmodel import needed
        return f"sa.String(length={obj.length})" if obj.length is not None else "sa.String()"
    render = getattr(obj, "alembic_render", None)
    if render is None:
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


def available_extensions(connection: Connection) -> set[str]:
    """Return the extensions the server could create (``pg_available_extensions``)."""
    return set(connection.execute(text("SELECT name FROM pg_available_extensions")).scalars())


def installed_extensions(connection: Connection) -> set[str]:
    """Return the extensions created in the connection's database."""
    return set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())


def extension_tables(extension: str, tables: Iterable[Any] | None = None) -> list[str]:
    """Return the names of the model tables with a column whose type needs ``extension``."""
    if tables is None:
        import assistant_models.models  # noqa: F401  (defines the tables on the metadata)
        from assistant_models.core.base import metadata

        tables = metadata.tables.values()
    from assistant_models.core.cascades import table_extensions

    return sorted(t.name for t in tables if extension in table_extensions(t))


def absent_extensions(connection: Connection) -> set[str]:
    """Return the extensions the migration branches need that the connection's database lacks."""
    installed = installed_extensions(connection)
    return {ext for ext in EXTENSION_BRANCHES.values() if ext not in installed}


def include_object_for(absent: set[str]) -> Callable[..., bool]:
    """Return Alembic's ``include_object`` filter for a database lacking the ``absent`` extensions.

    Tables that are not ours (extensions' tables, other applications') are left alone, and
    model tables needing an absent extension, with their indexes and constraints, are not
    part of that database's schema: ``migrate()`` leaves their branch out there.
    """
    waiting = {name for ext in absent for name in extension_tables(ext)}

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return False
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", None) not in waiting

    return include_object


def require_extension(connection: Connection, extension: str, product: str) -> None:
    """Create ``extension`` in the database, or say clearly that the server does not have it.

    Migrations of an extension's branch call this first.

    Raises:
        DatabaseError: The server cannot create the extension (its files are not installed).
    """
    if extension not in available_extensions(connection):
        needing = ", ".join(extension_tables(extension)) or "its tables"
        raise DatabaseError(
            f"the PostgreSQL server has no {product} (extension {extension!r}), needed by {needing}: "
            f"install {product} on the server and migrate again (migrate() without it brings "
            "every other table up to date)"
        )
    connection.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{extension}"'))


def upgrade_targets(connection: Connection, revision: str) -> tuple[list[str], list[str]]:
    """Return the revisions ``upgrade revision`` means here, and the branches it leaves out.

    ``"head"`` means every branch the server can take: all heads where every extension
    a branch needs is available, otherwise the core branch and the branches that can
    be taken. Any other revision (``"heads"``, ``"vector@head"``, ``"0009"``) is taken
    as given.
    """
    if revision != "head":
        return [revision], []
    available = available_extensions(connection)
    missing = [label for label, ext in EXTENSION_BRANCHES.items() if ext not in available]
    if not missing:
        return ["heads"], []
    kept = [f"{label}@head" for label in EXTENSION_BRANCHES if label not in missing]
    return [f"{CORE_BRANCH}@head", *kept], missing


def run(connection: Connection, command: str, revision: str, location: Path | None = None) -> None:
    """Run ``alembic <command> <revision>`` inside the connection's transaction.

    Upgrading to the head also runs every application's chain
    (:mod:`assistant_models.app_migrations`) after the package's; downgrading to base
    runs theirs first. An advisory lock keeps concurrent migrations of the same database apart,
    and the statement timeout is lifted for the transaction. Upgrading to
    ``"head"`` leaves out the branches whose extension the server lacks, with a
    warning naming it and the tables that wait for it (:func:`upgrade_targets`).

    Raises:
        DatabaseError: Alembic refused the command (unknown revision, ...).
    """
    config = config_for(connection, location)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.execute(text("SET LOCAL statement_timeout = 0"))
    targets, missing = upgrade_targets(connection, revision) if command == "upgrade" else ([revision], [])
    from assistant_models.app_migrations import app_chains, run_chains

    # applications build on the package: theirs go up after it, and down (to base) before it
    apps = app_chains() if revision in ("head", "heads", "base") else []
    if command == "downgrade":
        run_chains(connection, command, reversed(apps))
    try:
        for target in targets:
            _COMMANDS[command](config, target)
    except CommandError as exc:
        raise DatabaseError(f"migration {command} to {revision!r} failed: {exc}") from exc
    if command == "upgrade":
        run_chains(connection, command, apps)
    for label in missing:
        extension = EXTENSION_BRANCHES[label]
        _log.warning(
            "the PostgreSQL server has no extension %r: %s not created (migration branch %r); "
            "install it on the server and migrate again",
            extension,
            ", ".join(extension_tables(extension)) or "its tables were",
            label,
        )


def current_revision(connection: Connection) -> str | None:
    """Return the revision recorded in ``alembic_version`` (heads comma-joined), or ``None``."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) if heads else None
