"""Direct reads: cached statements run on the driver's cursor keep the ORM's answers."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import event, inspect

from assistant_models.core import direct
from assistant_models.exceptions import AssistantModelsError
from assistant_models.models import AuthSession, Task, User


@pytest.fixture
def direct_reads(monkeypatch):
    """Collect the SELECTs that took the direct path."""
    taken: list[str] = []
    original = direct.DirectStatement.rows

    def counting(self, connection, params):
        if self.sql.lstrip().startswith("SELECT"):
            taken.append(self.sql)
        return original(self, connection, params)

    monkeypatch.setattr(direct.DirectStatement, "rows", counting)
    return taken


def _owner() -> User:
    tag = uuid.uuid4().hex[:8]
    return User.objects.create_user(f"{tag}@example.com", f"direct_{tag}", "a long enough password")


def test_get_list_values_and_values_list_take_the_direct_path(db_session, direct_reads):
    owner = _owner()
    task = Task.objects.create(title="direct", assignee_id=owner.id, priority=7)
    assert Task.objects.get(pk=task.id) is task
    mine = Task.objects.filter(assignee_id=owner.id)
    assert list(mine) == [task]
    assert list(mine.values("title", "priority")) == [{"title": "direct", "priority": 7}]
    assert list(mine.values_list("title", "status")) == [("direct", task.status)]
    assert list(mine.values_list("priority", flat=True)) == [7]
    (row,) = mine.values_list("title", named=True)
    assert row.title == "direct"
    assert len(direct_reads) == 6


def test_enums_arrive_converted_and_annotated_queries_take_the_orm_path(db_session, direct_reads):
    from assistant_models import F
    from assistant_models.models.work import TaskStatus

    owner = _owner()
    Task.objects.create(title="typed", assignee_id=owner.id, priority=2)
    db_session.expunge_all()
    (task,) = Task.objects.filter(assignee_id=owner.id)
    assert task.status is TaskStatus.PENDING
    assert len(direct_reads) == 1
    (annotated,) = Task.objects.filter(assignee_id=owner.id).annotate(double=F("priority") * 2)
    assert annotated is task and annotated.double == 4
    assert len(direct_reads) == 1


def test_a_row_read_again_returns_the_session_s_instance_with_its_pending_changes(db_session, direct_reads):
    owner = _owner()
    task = Task.objects.create(title="original", assignee_id=owner.id)
    task.description = "changed here"  # not flushed: autoflush sends it before the read
    assert list(Task.objects.filter(description="changed here")) == [task]
    again = Task.objects.filter(assignee_id=owner.id).get()
    assert again is task and again.description == "changed here"
    assert len(direct_reads) == 2


def test_a_directly_loaded_instance_tracks_changes_and_documents(db_session, direct_reads):
    owner = _owner()
    created = Task.objects.create(title="tracked", assignee_id=owner.id, results={"steps": [1]})
    db_session.expunge_all()
    task = Task.objects.get(pk=created.id)
    assert inspect(task).persistent
    task.title = "renamed"
    task.results["steps"].append(2)  # in place: the JSONB document is tracked
    db_session.flush()
    db_session.expunge_all()
    fresh = Task.objects.get(pk=created.id)
    assert (fresh.title, fresh.results) == ("renamed", {"steps": [1, 2]})
    assert len(direct_reads) == 2


def test_expired_attributes_are_filled_from_the_row(db_session, direct_reads):
    owner = _owner()
    task = Task.objects.create(title="expire me", assignee_id=owner.id)
    Task.objects.filter(pk=task.id).update(title="updated elsewhere")
    db_session.expire(task, ["title"])
    assert list(Task.objects.filter(pk=task.id)) == [task]
    assert "title" in task.__dict__ and task.title == "updated elsewhere"
    assert direct_reads


def test_sql_logging_sees_every_read(database, direct_reads, caplog):
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"), database.session():
        list(Task.objects.filter(title="no such task"))  # a read only: nothing to roll back
    assert not direct_reads
    assert any("FROM tasks" in r.getMessage() for r in caplog.records)


def test_cursor_execute_listeners_see_every_read(db_session, direct_reads):
    seen: list[str] = []
    conn = db_session.connection()

    def collect(_conn, _cursor, statement, *_rest) -> None:
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", collect)
    try:
        Task.objects.filter(title="nothing").exists()
        list(Task.objects.filter(title="nothing"))
    finally:
        event.remove(conn, "before_cursor_execute", collect)
    assert not direct_reads
    assert sum("FROM tasks" in s for s in seen) == 2


def test_an_application_load_listener_is_called(db_session, direct_reads):
    owner = _owner()
    created = Task.objects.create(title="loaded", assignee_id=owner.id)
    db_session.expunge_all()
    loaded: list[object] = []

    def on_load(target, _context) -> None:
        loaded.append(target)

    event.listen(Task, "load", on_load)
    try:
        task = Task.objects.get(pk=created.id)
    finally:
        event.remove(Task, "load", on_load)
    assert loaded == [task]
    assert not direct_reads


def test_a_database_error_is_translated(db_session, direct_reads):
    with pytest.raises(AssistantModelsError):
        list(Task.objects.filter(title__regex="("))  # PostgreSQL refuses the pattern
    assert direct_reads


def test_create_and_update_run_directly_and_return_what_the_server_made(db_session, monkeypatch):
    sent: list[str] = []
    original = direct.DirectStatement.rows

    def counting(self, connection, params):
        sent.append(self.sql.lstrip().split()[0])
        return original(self, connection, params)

    monkeypatch.setattr(direct.DirectStatement, "rows", counting)
    owner = _owner()  # audited: INSERT in a CTE with its audit row
    session = AuthSession.objects.start(owner)[0]  # not audited: a plain INSERT ... RETURNING
    assert session.created_at is not None and session.id is not None
    assert AuthSession.objects.filter(pk=session.id).update(user_agent="direct agent") == 1
    assert AuthSession.objects.filter(pk=session.id).update(user_agent="again") == 1
    assert sent.count("INSERT") >= 1 and sent.count("UPDATE") == 2
    db_session.expunge_all()
    assert AuthSession.objects.get(pk=session.id).user_agent == "again"


def test_distinct_values_ordered_by_an_unlisted_field_return_only_the_listed_ones(db_session, direct_reads):
    owner = _owner()
    for title, priority in (("b", 1), ("a", 2), ("b", 3)):
        Task.objects.create(title=title, assignee_id=owner.id, priority=priority)
    mine = Task.objects.filter(assignee_id=owner.id).order_by("-priority").distinct()
    assert list(mine.values_list("title", flat=True)) == ["b", "a", "b"]  # distinct over the ordering too
    assert list(mine.values("title")) == [{"title": "b"}, {"title": "a"}, {"title": "b"}]
    assert len(direct_reads) == 2


def test_a_search_ranked_by_an_annotation_runs_directly_and_sets_the_rank(db_session, direct_reads):
    from assistant_models import SearchQuery, SearchRank

    owner = _owner()
    Task.objects.create(title="direct platypus", assignee_id=owner.id)
    db_session.expunge_all()
    query = SearchQuery("platypus")
    (task,) = Task.objects.filter(assignee_id=owner.id).annotate(rank=SearchRank(query)).order_by("-rank")
    assert task.title == "direct platypus" and task.rank > 0
    assert len(direct_reads) == 1
