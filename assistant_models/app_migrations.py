"""An application's own models and migrations, next to the package's.

An application declares its models on :class:`~assistant_models.AssistantModel` (they
share the package's metadata, so they may refer to ``users.id``) and keeps its own
Alembic chain, with its own version table, run after the package's::

    # myapp/migrations/env.py (the whole file)
    from assistant_models.app_migrations import run_env
    run_env("myapp", models=["myapp.models"])

    # once: register it, then every migrate() takes both, in order
    register_migrations("myapp", "myapp/migrations")    # or ASSISTANT_MODELS_MIGRATIONS
    Database().migrate()

    # a new migration of the application, written by autogenerate
    make_revision("myapp", "myapp/migrations", "add notes")

Autogenerate compares only the application's tables (the package's are the package's
business), writes SQLModel strings as ``sa.String`` and types such as ``Vector`` with
their import. ``ASSISTANT_MODELS_MIGRATIONS`` (``name=path,other=path``) registers chains
for processes that do not run the application's code first (the command line).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy.engine import Connection

from alembic import command
from assistant_models.exceptions import DatabaseError

__all__ = [
    "MIGRATIONS_ENV",
    "AppMigrations",
    "app_chains",
    "make_revision",
    "register_migrations",
    "run_env",
    "version_table",
]

#: The environment variable naming application chains: ``name=path[,name=path...]``.
MIGRATIONS_ENV = "ASSISTANT_MODELS_MIGRATIONS"


@dataclass(frozen=True)
class AppMigrations:
    """One application's migration chain: its name (its version table's suffix) and scripts."""

    name: str
    location: Path


_REGISTERED: dict[str, AppMigrations] = {}


def version_table(name: str) -> str:
    """Return the version table of application ``name``'s chain (``alembic_version_<name>``)."""
    return f"alembic_version_{name}"


def _checked(name: str, location: str | os.PathLike[str]) -> AppMigrations:
    if not isinstance(name, str) or not name.isidentifier():
        raise DatabaseError(f"an application's migration name must be an identifier, not {name!r}")
    path = Path(location).expanduser().resolve()
    return AppMigrations(name, path)


def register_migrations(name: str, location: str | os.PathLike[str]) -> AppMigrations:
    """Have every ``Database.migrate()`` (and the test plugin's) run this chain after the package's."""
    chain = _checked(name, location)
    _REGISTERED[chain.name] = chain
    return chain


def app_chains() -> list[AppMigrations]:
    """Return the registered chains, then those named in ``ASSISTANT_MODELS_MIGRATIONS``."""
    chains = dict(_REGISTERED)
    for item in filter(None, (part.strip() for part in os.environ.get(MIGRATIONS_ENV, "").split(","))):
        name, sep, location = item.partition("=")
        if not sep:
            raise DatabaseError(f"{MIGRATIONS_ENV} takes name=path items, not {item!r}")
        chains.setdefault(name.strip(), _checked(name.strip(), location.strip()))
    return list(chains.values())


def _config(chain: AppMigrations, connection: Connection | None) -> Config:
    if not (chain.location / "env.py").is_file():
        raise DatabaseError(f"migration scripts of {chain.name!r} not found: no env.py in {chain.location}")
    config = Config()
    config.set_main_option("script_location", str(chain.location).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_chains(connection: Connection, command_name: str, chains: Iterable[AppMigrations]) -> None:
    """Upgrade (to head) or downgrade (to base) each chain on ``connection``, in its transaction."""
    for chain in chains:
        config = _config(chain, connection)
        try:
            if command_name == "upgrade":
                command.upgrade(config, "head")
            else:
                command.downgrade(config, "base")
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                raise
            raise DatabaseError(f"migration {command_name} of {chain.name!r} failed: {exc}") from exc


def make_revision(
    name: str,
    location: str | os.PathLike[str],
    message: str,
    *,
    database: Any = None,
    autogenerate: bool = True,
) -> Path:
    """Write a new migration of application ``name``, by default found by comparing its models.

    ``location`` is created with the template of the package's own scripts if it has
    no ``env.py`` yet (give its ``env.py`` the models to import). ``database`` (a
    :class:`~assistant_models.Database`, ``Database()`` by default) is the schema
    compared with, already migrated.

    Returns:
        The new script's path.
    """
    from assistant_models import _migrations
    from assistant_models.database import Database

    chain = _checked(name, location)
    (chain.location / "versions").mkdir(parents=True, exist_ok=True)
    if not (chain.location / "script.py.mako").is_file():
        template = (_migrations.script_location() / "script.py.mako").read_text()
        (chain.location / "script.py.mako").write_text(template)
    db = database or Database()
    try:
        with db.engine.begin() as connection:
            script = command.revision(_config(chain, connection), message=message, autogenerate=autogenerate)
    finally:
        if database is None:
            db.dispose()
    scripts = script if isinstance(script, list) else [script]
    return Path(scripts[0].path)  # type: ignore[union-attr]


def run_env(name: str, models: Sequence[str] = ()) -> None:
    """Run an application's migrations: the body of its ``env.py``.

    Imports the package's models, then the application's ``models`` modules; compares
    and migrates only the tables the application adds, recording its revisions in
    ``alembic_version_<name>``. Runs on the connection ``Database.migrate()`` passes, or
    on one to the database ``Database()`` would use (the ``alembic`` command line).
    """
    import assistant_models.core.signing
    import assistant_models.models  # noqa: F401  (the package's tables come first)
    from alembic import context
    from assistant_models._migrations import render_item
    from assistant_models.core.base import metadata

    package_tables = set(metadata.tables)
    for module in models:
        importlib.import_module(module)
    mine = set(metadata.tables) - package_tables

    def include_object(obj: Any, obj_name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", obj_name) in mine

    def run_on(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=include_object,
            version_table=version_table(name),
            compare_type=True,
            compare_server_default=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from assistant_models.database import Database

    db = Database()
    try:
        with db.engine.begin() as conn:
            run_on(conn)
    finally:
        db.dispose()
