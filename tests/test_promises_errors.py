"""Every row of the error-translation table, provoked on the real server; parameters stay hidden.

The README promises one error tree (``assistant_models.exceptions``) and that bound
parameters are kept out of logs and errors. Each test here makes the server raise the
error for real and checks the class and field the caller gets.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from assistant_models import Database
from assistant_models.exceptions import (
    ConflictError,
    DatabaseError,
    QueryTimeoutError,
    SerializationError,
    ValidationError,
)
from assistant_models.models import Task

pytestmark = pytest.mark.integration

#: Looks like a credential; it must never reach a log record or an error's text.
SECRET = "sk-live-" + "7c3f9a0e5b2d4e61"


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def tag() -> str:
    return f"promise-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def two_tasks(database: Database, tag: str) -> Iterator[list[uuid.UUID]]:
    """Commit two tasks other connections can lock; hard-delete them afterwards."""
    with database.session():
        ids = [Task.objects.enqueue(f"{tag} {n}").id for n in range(2)]
    try:
        yield ids
    finally:
        with database.session():
            Task.all_objects.filter(title__startswith=tag).delete(hard=True)


# -- bound parameters are kept out of logs and errors ----------------------------------------


def test_a_failing_statement_never_shows_its_bound_values_in_errors_or_the_sql_log(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    echoing = Database(_url(database), echo=True)
    with (
        echoing,
        caplog.at_level(logging.DEBUG),
        pytest.raises(DatabaseError) as caught,
        echoing.session() as session,
    ):
        # division by zero: the server's own message does not quote the value
        session.execute(text("SELECT CAST(:token AS text), 1 / (0 * length(:token))"), {"token": SECRET})
    logged = [record.getMessage() for record in caught_records(caplog)]
    assert any("SELECT CAST" in message for message in logged)  # the statement itself was logged
    rendered = "".join(traceback.format_exception(caught.value))  # the whole chain, __cause__ too
    assert "SELECT CAST" in rendered
    assert SECRET not in rendered
    assert SECRET not in caplog.text
    assert all(SECRET not in message for message in logged)


def caught_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("sqlalchemy.engine")]


# -- integrity errors ----------------------------------------------------------------------


def test_a_foreign_key_violation_is_a_validation_error_naming_the_reference(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.create(title="orphan", assignee_id=uuid.uuid4())
    assert caught.value.fields == ["assignee_id"]
    assert "does not exist" in str(caught.value)


def test_a_not_null_violation_is_a_validation_error_naming_the_column(database: Database, db_session) -> None:
    with pytest.raises(ValidationError) as caught, database.session() as session:
        session.execute(text("INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), NULL)"))
    assert caught.value.fields == ["title"]
    assert "may not be null" in str(caught.value)


def test_a_check_constraint_violation_is_a_validation_error_naming_the_field(
    database: Database, db_session
) -> None:
    task = Task.objects.enqueue("checked")
    with pytest.raises(ValidationError) as caught, database.session() as session:
        session.execute(text("UPDATE tasks SET priority = 99 WHERE id = :id"), {"id": task.id})
    # the constraint's expression names one column: the error names that field
    assert caught.value.fields == ["priority"]
    assert "check constraint" in str(caught.value)


# -- a session that must be rolled back ----------------------------------------------------


def test_using_a_session_after_a_failed_flush_is_a_database_error_asking_for_a_new_unit(
    database: Database,
) -> None:
    with pytest.raises(DatabaseError) as caught, database.session() as session:
        session.add(Task(title="orphan", assignee_id=uuid.uuid4()))
        with pytest.raises(Exception):  # noqa: B017 - the flush's own error is not what is checked
            session.flush()
        Task.objects.count()
    assert type(caught.value) is DatabaseError
    assert "rolled back by an earlier error" in str(caught.value)


# -- locks, deadlocks and timeouts ---------------------------------------------------------


def test_a_nowait_lock_on_a_locked_row_is_a_conflict_error(database: Database, two_tasks) -> None:
    with Database(_url(database)) as other, database.session():
        Task.objects.filter(pk=two_tasks[0]).select_for_update().get()
        with pytest.raises(ConflictError) as caught, other.session():
            Task.objects.filter(pk=two_tasks[0]).select_for_update(nowait=True).first()
    assert type(caught.value) is ConflictError
    assert caught.value.field is None
    assert "locked by another transaction" in str(caught.value)


def test_two_transactions_locking_rows_in_crossed_order_get_one_serialization_error(
    database: Database, two_tasks
) -> None:
    barrier = threading.Barrier(2, timeout=60)
    errors: dict[str, BaseException] = {}
    done: list[str] = []

    def work(name: str, first: uuid.UUID, second: uuid.UUID) -> None:
        try:
            with database.session() as session:
                session.execute(text("UPDATE tasks SET priority = 1 WHERE id = :id"), {"id": first})
                barrier.wait()  # both hold their first row: the second updates cross
                session.execute(text("UPDATE tasks SET priority = 2 WHERE id = :id"), {"id": second})
            done.append(name)
        except BaseException as exc:
            errors[name] = exc

    a, b = two_tasks
    threads = [
        threading.Thread(target=work, args=("ab", a, b)),
        threading.Thread(target=work, args=("ba", b, a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert len(done) == 1 and len(errors) == 1, (done, errors)
    (lost,) = errors.values()
    assert isinstance(lost, SerializationError)
    assert lost.__cause__ is not None and getattr(lost.__cause__.orig, "pgcode", None) == "40P01"


def test_a_statement_past_the_statement_timeout_is_a_query_timeout_error(database: Database) -> None:
    short = Database(_url(database), statement_timeout=100)
    with short, pytest.raises(QueryTimeoutError) as caught, short.session() as session:
        session.execute(text("SELECT pg_sleep(5)"))
    assert "statement timeout" in str(caught.value)
