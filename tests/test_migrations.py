"""Migrations: upgrade, downgrade, no drift from the models, the wheel, the audit trigger, locking.

Each test runs on a scratch database of its own (``am_mig_<random>``), created on the
server behind the ``database`` fixture and dropped afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

import assistant_models.models  # noqa: F401  (defines the tables on the metadata)
from alembic import command
from assistant_models import _migrations
from assistant_models.core.base import metadata
from assistant_models.database import Database
from assistant_models.exceptions import DatabaseError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
MODEL_TABLES = frozenset(metadata.tables)
#: What a wheel build needs from the checkout; build artefacts land in the copy, not the repo.
SOURCE_ITEMS = ("pyproject.toml", "setup.cfg", "README.md", "LICENSE", "assistant_models", "alembic")
INSUFFICIENT_PRIVILEGE = "42501"


# ------------------------------------------------------------------ helpers


def _head(db: Database) -> str:
    """Return what ``current_revision()`` says once ``migrate()`` is done on ``db``'s server.

    The core branch's head, and each extension branch's head where the server has its
    extension; a head that another one depends on is not listed by Alembic.
    """
    script = ScriptDirectory(str(_migrations.script_location()))
    core = script.get_revisions(f"{_migrations.CORE_BRANCH}@head")
    assert len(core) == 1, f"unmerged core migration heads: {core}"
    with db.engine.connect() as connection:
        available = _migrations.available_extensions(connection)
    labels = [label for label, ext in _migrations.EXTENSION_BRANCHES.items() if ext in available]
    heads = {core[0].revision} | {script.get_revision(f"{label}@head").revision for label in labels}
    below = {
        r.revision for head in heads for r in script.iterate_revisions(head, "base") if r.revision != head
    }
    return ",".join(sorted(heads - below))


def _model_tables(db: Database) -> frozenset[str]:
    """Return the model tables ``migrate()`` creates on ``db``'s server (pgvector's only where it is)."""
    with db.engine.connect() as connection:
        available = _migrations.available_extensions(connection)
    waiting = {
        t
        for ext in _migrations.EXTENSION_BRANCHES.values()
        if ext not in available
        for t in _migrations.extension_tables(ext)
    }
    return MODEL_TABLES - waiting


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_migrations.script_location()).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _env_options(connection: Connection) -> dict[str, Any]:
    """Return the options env.py configures its migration context with (running no migration)."""
    config = _alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    with EnvironmentContext(config, script, fn=lambda _rev, _ctx: []) as env:
        script.run_env()
        return dict(env.get_context().opts)


def _schema_diff(connection: Connection) -> list[Any]:
    options = _env_options(connection)
    assert options["compare_type"] is True
    assert options["compare_server_default"] is True
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": options["include_object"],
        },
    )
    return list(compare_metadata(context, metadata))


def _assert_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as connection:
        assert _schema_diff(connection) == []
        if _model_tables(db) == MODEL_TABLES:  # Alembic's check wants every branch at its head
            command.check(_alembic_config(connection))


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _function_exists(db: Database, name: str) -> bool:
    with db.engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM pg_proc WHERE proname = :name"), {"name": name})
        return found.scalar() is not None


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def scratch_url(database: Database) -> Iterator[str]:
    """Create an empty database on the test server; drop it after the test."""
    name = f"am_mig_{uuid.uuid4().hex[:12]}"
    with database.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield database.engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with database.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_db(scratch_url: str) -> Iterator[Database]:
    db = Database(scratch_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def migrated_db(scratch_db: Database) -> Database:
    scratch_db.migrate()
    return scratch_db


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the project's wheel from a copy of the checkout.

    pip's build isolation is used because the build backend must satisfy
    ``[build-system] requires`` (the venv's own setuptools may be older).
    """
    source = tmp_path_factory.mktemp("source")
    for item in SOURCE_ITEMS:
        origin = REPO / item
        if origin.is_dir():
            shutil.copytree(origin, source / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif origin.is_file():
            shutil.copy2(origin, source / item)
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{build.stdout}\n{build.stderr}")
    built = sorted(out.glob("assistant_models-*.whl"))
    assert len(built) == 1, built
    return built[0]


# ------------------------------------------------------------------ upgrade, drift, downgrade


def test_migrate_brings_an_empty_database_to_head_with_every_model_table(scratch_db: Database) -> None:
    assert scratch_db.current_revision() is None
    assert not _tables(scratch_db) & MODEL_TABLES

    scratch_db.migrate()

    assert scratch_db.current_revision() == _head(scratch_db)
    assert _tables(scratch_db) >= _model_tables(scratch_db) | {"alembic_version"}


def test_migrated_schema_has_no_autogenerate_difference_from_the_models(migrated_db: Database) -> None:
    _assert_schema_matches_models(migrated_db)


def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(migrated_db: Database) -> None:
    assert _function_exists(migrated_db, "audit_logs_append_only")

    migrated_db.downgrade("base")

    assert migrated_db.current_revision() is None
    assert not _tables(migrated_db) & MODEL_TABLES
    assert not _function_exists(migrated_db, "audit_logs_append_only")

    migrated_db.migrate()

    assert migrated_db.current_revision() == _head(migrated_db)
    assert _tables(migrated_db) >= _model_tables(migrated_db)
    _assert_schema_matches_models(migrated_db)


def test_concurrent_migrations_of_one_database_both_succeed_and_reach_head(scratch_url: str) -> None:
    handles = [Database(scratch_url), Database(scratch_url)]
    start = threading.Barrier(len(handles))
    errors: list[BaseException] = []

    def migrate(db: Database) -> None:
        try:
            start.wait(timeout=10)
            db.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in handles]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
        assert handles[0].current_revision() == _head(handles[0])
        with handles[0].engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        for db in handles:
            db.dispose()


# ------------------------------------------------------------------ the audit log trigger


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_logs SET row_id = 'tampered'",
        "DELETE FROM audit_logs",
    ],
    ids=["update", "delete"],
)
def test_audit_log_rows_cannot_be_updated_or_deleted(migrated_db: Database, statement: str) -> None:
    with migrated_db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_logs (id, action, table_name, row_id, changes) "
                "VALUES (gen_random_uuid(), 'create', 'users', 'row-1', '{}'::jsonb)"
            )
        )

    with pytest.raises(DBAPIError, match="append-only") as raised, migrated_db.engine.begin() as connection:
        connection.execute(text(statement))

    assert getattr(raised.value.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE
    with migrated_db.engine.connect() as connection:
        rows = connection.execute(text("SELECT row_id FROM audit_logs")).scalars().all()
    assert rows == ["row-1"]


# ------------------------------------------------------------------ from an installed wheel


def test_wheel_ships_the_migration_scripts_and_the_typing_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())

    assert "assistant_models/py.typed" in names
    assert "assistant_models/migrations/env.py" in names
    assert "assistant_models/migrations/script.py.mako" in names
    versions = [
        name
        for name in names
        if name.startswith("assistant_models/migrations/versions/") and name.endswith(".py")
    ]
    assert any("0001" in Path(name).name for name in versions), versions
    assert not any(name.startswith("alembic/") for name in names)


MIGRATE_FROM_WHEEL = textwrap.dedent(
    """
    import json
    import sys

    import assistant_models
    from assistant_models import _migrations
    from assistant_models.database import Database

    db = Database(sys.argv[1])
    try:
        db.migrate()
        revision = db.current_revision()
    finally:
        db.dispose()
    print(json.dumps({
        "package": assistant_models.__file__,
        "scripts": str(_migrations.script_location()),
        "path": sys.path,
        "revision": revision,
    }))
    """
)


def test_migrations_run_from_the_unzipped_wheel_without_the_checkout(
    wheel: Path, scratch_url: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(site),
        "ASSISTANT_MODELS_DATA_DIR": str(tmp_path / "unused-pgdata"),
    }

    run = subprocess.run(
        [sys.executable, "-c", MIGRATE_FROM_WHEEL, scratch_url],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(site)
    assert Path(report["scripts"]).is_relative_to(site)
    assert str(REPO) not in report["path"]
    probe = Database(scratch_url)
    try:
        assert report["revision"] == _head(probe)
    finally:
        probe.dispose()


# ------------------------------------------------------------------ servers without pgvector


def test_migrate_without_pgvector_takes_the_core_and_names_what_waits(
    scratch_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with scratch_db.engine.connect() as connection:
        if "vector" in _migrations.available_extensions(connection):
            pytest.skip("this server has pgvector: the suite's run on PostgreSQL 15 covers this")

    with caplog.at_level("WARNING", logger="assistant_models.database"):
        scratch_db.migrate()

    assert scratch_db.current_revision() == _head(scratch_db)
    assert "conversation_memory" not in _tables(scratch_db)
    assert _tables(scratch_db) >= _model_tables(scratch_db)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "no extension 'vector'" in warning and "conversation_memory" in warning
    _assert_schema_matches_models(scratch_db)

    with pytest.raises(DatabaseError) as exc:
        scratch_db.migrate("heads")
    assert "pgvector" in str(exc.value) and "conversation_memory" in str(exc.value)
    assert scratch_db.current_revision() == _head(scratch_db)  # nothing half-written


def test_every_extension_branch_starts_with_its_extension_check() -> None:
    script = ScriptDirectory(str(_migrations.script_location()))
    for label, extension in _migrations.EXTENSION_BRANCHES.items():
        base = [r for r in script.iterate_revisions(f"{label}@head", "base") if label in r.branch_labels]
        assert len(base) == 1, base
        source = Path(base[0].path).read_text()
        assert f'require_extension(op.get_bind(), "{extension}"' in source
