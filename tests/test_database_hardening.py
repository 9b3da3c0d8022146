"""The database handle under stress: forks, logs at DEBUG, isolation and retries, migration locks."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from scratch import scratch_database
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models import Database
from assistant_models._settings import migration_lock_timeout
from assistant_models.core.context import bind_session, current_session, unbind_session
from assistant_models.exceptions import ConflictError, DatabaseError, SerializationError, ValidationError
from assistant_models.models import ApiKey, AuthSession, User

pytestmark = pytest.mark.integration


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


# -- fork safety -----------------------------------------------------------------------------

_inherited: Database | None = None


def _backend_pid_in_child(_: int) -> int:
    assert _inherited is not None
    with _inherited.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_forked_children_open_connections_of_their_own_and_leave_the_parents_alone(database):
    global _inherited
    db = Database(_url(database), pool_size=3)
    try:
        held = [db.engine.connect() for _ in range(3)]  # the pool keeps these for reuse
        parent_pids = {conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in held}
        for conn in held:
            conn.close()
        _inherited = db
        with multiprocessing.get_context("fork").Pool(3) as pool:
            child_pids = pool.map_async(_backend_pid_in_child, range(9)).get(timeout=60)
        assert not set(child_pids) & parent_pids
        with db.engine.connect() as conn:  # the parent's pooled connections still work
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() in parent_pids
    finally:
        _inherited = None
        db.dispose()


_parent_db: Database | None = None


def _backend_pid_in_a_unit_of_work(_: int) -> int:
    assert _parent_db is not None
    with _parent_db.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_child_forked_inside_a_unit_of_work_opens_its_own(database, db_session):
    global _parent_db
    parent_pid = db_session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _parent_db = database
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            child_pids = pool.map_async(_backend_pid_in_a_unit_of_work, range(4)).get(timeout=60)
    finally:
        _parent_db = None
    assert parent_pid not in child_pids
    assert db_session.execute(text("SELECT pg_backend_pid()")).scalar_one() == parent_pid


# -- no secret in any log --------------------------------------------------------------------

SSL_PASSWORD = "ssl-pass-8c1e4d"


@contextmanager
def _rolled_back(db: Database) -> Iterator[Session]:
    """Bind a session of ``db`` as the current unit of work; roll everything back afterwards."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        token = bind_session(session)
        try:
            yield session
        finally:
            unbind_session(token)
            session.close()
            transaction.rollback()


def test_no_secret_or_hash_reaches_the_engine_or_pool_logs_at_debug(database, caplog):
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.pool")
    url = database.engine.url.update_query_dict({"sslpassword": SSL_PASSWORD})
    password = "correct horse battery staple"
    with Database(url.render_as_string(hide_password=False), echo="debug") as db, _rolled_back(db) as session:
        user = User.objects.create_user("logs@example.com", "logs", password)
        assert User.objects.authenticate("logs@example.com", password) == user
        key, raw_key = ApiKey.objects.issue(user, "ci")
        assert ApiKey.objects.verify(raw_key) == key
        auth, raw_token = AuthSession.objects.start(user)
        assert AuthSession.objects.find_by_token(raw_token) == auth
        raw_sql = "SELECT password_hash, key_hash FROM users JOIN api_keys ON user_id = users.id"
        assert session.execute(text(raw_sql)).all()
    logged = caplog.text
    assert "Row (" in logged and "Created new connection" in logged  # rows and connections were logged
    for secret in (password, user.password_hash, raw_key, key.key_hash, raw_token, auth.token_hash):
        assert secret not in logged
    assert SSL_PASSWORD not in logged


def test_the_log_filter_is_installed_by_database_not_on_import():
    import subprocess
    import sys

    probe = (
        "import logging, assistant_models, assistant_models.database;"
        "names = ['sqlalchemy.engine.Engine.assistant_models',"
        " 'sqlalchemy.pool.impl.QueuePool.assistant_models'];"
        "assert not any(logging.getLogger(n).filters for n in names)"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


# -- isolation levels and retries ------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_scratch_url(database: Database) -> Iterator[str]:
    """Yield a scratch database for this module's committing tests; drop it afterwards."""
    with scratch_database(database, "am_hardening") as url:
        yield url


@pytest.fixture
def counters(shared_scratch_url: str) -> Iterator[Database]:
    """A database on a scratch database holding one counter row at 0."""
    db = Database(shared_scratch_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS counters")
        conn.exec_driver_sql("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counters VALUES (1, 0)")
    yield db
    db.dispose()


def _level() -> str:
    return str(current_session().execute(text("SHOW transaction_isolation")).scalar_one())


@pytest.mark.parametrize("level", ["serializable", "repeatable read", "read committed", "REPEATABLE_READ"])
def test_a_unit_of_work_runs_at_the_isolation_level_it_asks_for(counters, level):
    with counters.session(isolation=level):
        assert _level() == level.lower().replace("_", " ")
    with counters.session():  # the pool hands the connection back at the default level
        assert _level() == "read committed"


@pytest.mark.parametrize("level", ["chaos", "", "snapshot", 3])
def test_an_unknown_isolation_level_raises_validation_error_naming_isolation(counters, level):
    with pytest.raises(ValidationError) as caught, counters.session(isolation=level):
        pass
    assert caught.value.fields == ["isolation"]


def test_a_nested_unit_of_work_cannot_choose_its_isolation_level(counters):
    with (
        counters.session(),
        pytest.raises(ValidationError) as caught,
        counters.session(isolation="serializable"),
    ):
        pass
    assert caught.value.fields == ["isolation"]


def _conflicting_increments(db: Database, retries: int) -> tuple[Counter[str], list[BaseException]]:
    """Run two serializable increments that both read before either writes."""
    barrier = threading.Barrier(2, timeout=20)
    calls: Counter[str] = Counter()
    errors: list[BaseException] = []

    def increment(name: str) -> None:
        calls[name] += 1
        session = current_session()
        n = session.execute(text("SELECT n FROM counters WHERE id = 1")).scalar_one()
        if calls[name] == 1:
            barrier.wait()  # both have read 0: whoever writes second must lose
        session.execute(text("UPDATE counters SET n = :n WHERE id = 1"), {"n": n + 1})

    def worker(name: str) -> None:
        try:
            db.run_in_transaction(lambda: increment(name), retries=retries, isolation="serializable")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a transaction hung"
    return calls, errors


def _counter(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT n FROM counters WHERE id = 1")).scalar_one())


def test_run_in_transaction_retries_the_loser_of_two_conflicting_serializable_transactions(counters):
    calls, errors = _conflicting_increments(counters, retries=3)
    assert errors == []
    assert sorted(calls.values()) == [1, 2]  # the loser ran again, and only it
    assert _counter(counters) == 2  # no lost update


def test_without_retries_the_loser_gets_a_serialization_error(counters):
    _calls, errors = _conflicting_increments(counters, retries=0)
    assert [type(e) for e in errors] == [SerializationError]
    assert _counter(counters) == 1


def test_run_in_transaction_does_not_retry_other_errors(counters):
    calls = 0

    def fail() -> None:
        nonlocal calls
        calls += 1
        current_session().execute(text("INSERT INTO counters VALUES (1, 5)"))  # duplicate key

    with pytest.raises(ConflictError):
        counters.run_in_transaction(fail, retries=3)
    assert calls == 1
    assert _counter(counters) == 0


def test_run_in_transaction_returns_what_the_work_returns_and_commits_it(counters):
    def bump() -> int:
        return int(current_session().execute(text("UPDATE counters SET n = n + 1 RETURNING n")).scalar_one())

    assert counters.run_in_transaction(bump, isolation="repeatable read") == 1
    assert _counter(counters) == 1


@pytest.mark.parametrize("retries", [-1, 1.5, True])
def test_run_in_transaction_refuses_a_bad_retry_count(counters, retries):
    with pytest.raises(ValidationError) as caught:
        counters.run_in_transaction(lambda: None, retries=retries)
    assert caught.value.fields == ["retries"]


def test_run_in_transaction_inside_an_open_unit_of_work_runs_once_in_a_savepoint(db_session, database):
    assert database.run_in_transaction(lambda: current_session()) is db_session


# -- lock timeout on migrations --------------------------------------------------------------


def test_migration_lock_timeout_defaults_to_ten_seconds_and_reads_its_variable():
    assert migration_lock_timeout({}) == 10_000
    assert migration_lock_timeout({"DB_MIGRATION_LOCK_TIMEOUT": "250"}) == 250
    with pytest.raises(ValidationError) as caught:
        migration_lock_timeout({"DB_MIGRATION_LOCK_TIMEOUT": "soon"})
    assert caught.value.fields == ["DB_MIGRATION_LOCK_TIMEOUT"]


def test_a_migration_blocked_by_a_lock_fails_fast_with_a_clear_error(scratch_url, monkeypatch):
    monkeypatch.setenv("DB_MIGRATION_LOCK_TIMEOUT", "300")
    db = Database(scratch_url)
    holder = db.engine.connect()
    try:
        db.migrate("0002")
        holder.begin()
        holder.execute(text("SELECT count(*) FROM tasks"))  # idle in transaction, holding a lock
        outcome: list[BaseException | None] = []

        def migrate() -> None:
            try:
                db.migrate()
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        started = time.monotonic()
        runner = threading.Thread(target=migrate)
        runner.start()
        runner.join(timeout=20)
        hung = runner.is_alive()
        holder.rollback()  # let a hung migration finish before failing the test
        runner.join(timeout=60)
        assert not hung, "the migration waited for the lock instead of giving up"
        assert time.monotonic() - started < 10
        (error,) = outcome
        assert isinstance(error, DatabaseError)
        assert "lock" in str(error) and "DB_MIGRATION_LOCK_TIMEOUT" in str(error)
        assert db.current_revision() == "0002"  # nothing half-done
        db.migrate()
        assert db.current_revision() not in (None, "0002")  # reached head once the lock was gone
    finally:
        holder.close()
        db.dispose()
