"""Schema commands: migrate, downgrade, current, check."""

from __future__ import annotations

import argparse
import warnings

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from assistant_models import _migrations
from assistant_models.cli.output import Output
from assistant_models.database import Database

__all__ = ["check", "current", "downgrade", "migrate", "pending", "schema_drift"]


def migrate(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Upgrade to ``args.revision`` and print the revision reached."""
    out.progress(f"migrating {db.url_masked} to {args.revision}")
    db.migrate(args.revision)
    reached = db.current_revision()
    out.result({"revision": reached}, f"at {reached}")
    return 0


def downgrade(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Downgrade to ``args.revision`` and print the revision reached."""
    out.progress(f"downgrading {db.url_masked} to {args.revision}")
    db.downgrade(args.revision)
    reached = db.current_revision()
    out.result({"revision": reached}, f"at {reached or 'base (no tables)'}")
    return 0


def current(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Print the current revision ("none" for a database never migrated)."""
    revision = db.current_revision()
    out.result({"revision": revision}, revision or "none")
    return 0


def pending(db: Database) -> list[str]:
    """Return the revisions ``migrate()`` would apply on this database, oldest first."""
    script = ScriptDirectory(str(_migrations.script_location()))
    with db.engine.connect() as connection:
        targets, _ = _migrations.upgrade_targets(connection, "head")
        applied = set(MigrationContext.configure(connection).get_current_heads())
    done = {r.revision for head in applied for r in script.iterate_revisions(head, "base")}
    wanted: list[str] = []
    for target in targets:
        for revision in script.iterate_revisions(target, "base"):
            if revision.revision not in done and revision.revision not in wanted:
                wanted.append(revision.revision)
    return list(reversed(wanted))


def schema_drift(db: Database) -> list[str]:
    """Return the differences autogenerate finds between the models and the schema, as text."""
    import assistant_models.models  # noqa: F401  (defines the tables on the metadata)
    from assistant_models.core.base import metadata

    with db.engine.connect() as connection:
        include = _migrations.include_object_for(_migrations.absent_extensions(connection))
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True, "include_object": include},
        )
        with warnings.catch_warnings():  # Alembic notes it cannot compare generated columns' expressions
            warnings.filterwarnings("ignore", message="Computed default on .* cannot be modified")
            return [str(diff) for diff in compare_metadata(context, metadata)]


def check(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Exit 1 if migrations are pending or the schema differs from the models; else 0."""
    out.progress("comparing the schema with the migrations and the models")
    todo = pending(db)
    drift = [] if todo else schema_drift(db)  # a schema behind its migrations differs, naturally
    ok = not todo and not drift
    lines = [f"pending migration: {r}" for r in todo] + [f"differs from the models: {d}" for d in drift]
    out.result({"ok": ok, "pending": todo, "drift": drift}, "\n".join(lines) or "up to date")
    return 0 if ok else 1
