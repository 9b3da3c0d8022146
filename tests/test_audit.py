"""Audit trail: one row per change on every write path, rolled back with it, and append-only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from assistant_models.core.audit import REDACTED, audit_actor, current_actor
from assistant_models.core.types import utcnow
from assistant_models.database import Database
from assistant_models.exceptions import ValidationError
from assistant_models.models import ApiKey, AuditLog, AuthSession, Task, TaskStatus, User
from assistant_models.models.identity.passwords import hash_password

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def _user(**fields: object) -> User:
    tag = uuid.uuid4().hex[:16]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", PASSWORD, **fields)


def _trail(table: str, row_id: object) -> list[AuditLog]:
    return list(AuditLog.objects.filter(table_name=table, row_id=str(row_id)))


class Trail:
    """The audit rows of one row, read step by step: each step must add exactly one."""

    def __init__(self, table: str, row_id: object) -> None:
        self.table, self.row_id = table, row_id
        self.seen = {log.id for log in _trail(table, row_id)}

    def new(self) -> list[AuditLog]:
        fresh = [log for log in _trail(self.table, self.row_id) if log.id not in self.seen]
        self.seen |= {log.id for log in fresh}
        return fresh

    def one(self, action: str) -> AuditLog:
        fresh = self.new()
        assert [log.action.value for log in fresh] == [action]
        (log,) = fresh
        assert (log.table_name, log.row_id) == (self.table, str(self.row_id))
        return log


def _secret_in_audit(session: Session, secret: str) -> int:
    sql = text("SELECT count(*) FROM audit_logs WHERE strpos(changes::text, :secret) > 0")
    return int(session.execute(sql, {"secret": secret}).scalar_one())


# ------------------------------------------------------------------ single-instance writes


def test_user_lifecycle_writes_one_row_per_change_with_actor_and_diff(db_session: Session) -> None:
    admin = _user(role="admin")
    with audit_actor(admin.id):
        user = _user(first_name="Ann")
        trail = Trail("users", user.id)
        trail.seen.clear()
        created = trail.one("create")
        assert created.actor_id == admin.id
        assert created.changes["after"]["email"] == user.email
        assert created.changes["after"]["first_name"] == "Ann"
        assert created.changes["after"]["password_hash"] == REDACTED

        user.last_name = "Lee"
        db_session.flush()
        updated = trail.one("update")
        assert updated.changes == {"fields": {"last_name": {"before": None, "after": "Lee"}}}
        assert updated.actor_id == admin.id

        user.delete()
        deleted = trail.one("soft_delete")
        assert set(deleted.changes["fields"]) == {"deleted_at"}
        assert deleted.changes["fields"]["deleted_at"]["before"] is None
        assert deleted.changes["fields"]["deleted_at"]["after"] is not None

        user.restore()
        restored = trail.one("restore")
        assert restored.changes["fields"]["deleted_at"]["after"] is None

        user.delete(hard=True)
        removed = trail.one("delete")
        assert removed.changes["before"]["id"] == str(user.id)
        assert removed.changes["before"]["email"] == user.email
        assert removed.changes["before"]["password_hash"] == REDACTED
        assert removed.actor_id == admin.id


def test_changes_without_an_actor_record_none(db_session: Session) -> None:
    task = Task.objects.enqueue("anonymous")
    (log,) = _trail("tasks", task.id)
    assert log.actor_id is None


def test_actor_is_scoped_to_its_block_and_nests(db_session: Session) -> None:
    outer, inner = uuid.uuid4(), uuid.uuid4()
    with audit_actor(outer):
        first = Task.objects.enqueue("outer")
        with audit_actor(str(inner)):
            second = Task.objects.enqueue("inner")
        third = Task.objects.enqueue("outer again")
    assert current_actor() is None
    actors = [_trail("tasks", t.id)[0].actor_id for t in (first, second, third)]
    assert actors == [outer, inner, outer]
    assert {log.row_id for log in AuditLog.objects.by_actor(inner)} == {str(second.id)}


def test_task_lifecycle_writes_one_row_per_change(db_session: Session) -> None:
    task = Task.objects.enqueue("audited")
    trail = Trail("tasks", task.id)
    trail.seen.clear()
    assert trail.one("create").changes["after"]["status"] == "pending"

    Task.objects.start(task, worker="w1")
    started = trail.one("update")
    assert started.changes["fields"]["status"] == {"before": "pending", "after": "running"}
    assert started.changes["fields"]["claimed_by"] == {"before": None, "after": "w1"}
    assert "version" not in started.changes["fields"]
    assert "updated_at" not in started.changes["fields"]

    Task.objects.complete(task, {"ok": True})
    assert trail.one("update").changes["fields"]["results"] == {"before": None, "after": {"ok": True}}

    task.delete()
    trail.one("soft_delete")
    task.restore()
    trail.one("restore")
    task.delete(hard=True)
    assert trail.one("delete").changes["before"]["title"] == "audited"


def test_api_key_issue_revoke_rotate_and_delete_are_audited_with_the_hash_redacted(
    db_session: Session,
) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci", scopes=["read"])
    trail = Trail("api_keys", key.id)
    trail.seen.clear()
    assert trail.one("create").changes["after"]["key_hash"] == REDACTED

    ApiKey.objects.verify(raw)  # last_used_at alone is bookkeeping
    assert trail.new() == []

    new_key, _new_raw = ApiKey.objects.rotate(key)
    assert set(trail.one("update").changes["fields"]) == {"revoked_at"}
    assert [log.action.value for log in _trail("api_keys", new_key.id)] == ["create"]

    db_session.delete(key)
    db_session.flush()
    assert trail.one("delete").changes["before"]["key_hash"] == REDACTED
    assert _secret_in_audit(db_session, key.key_hash) == 0
    assert _secret_in_audit(db_session, new_key.key_hash) == 0


def test_auth_sessions_are_not_audited(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user())
    AuthSession.objects.touch(session)
    assert _trail("auth_sessions", session.id) == []


def test_a_flush_that_changes_nothing_writes_no_row(db_session: Session) -> None:
    task = Task.objects.enqueue("same")
    trail = Trail("tasks", task.id)
    task.title = "same"
    db_session.flush()
    assert trail.new() == []


def test_bookkeeping_login_time_writes_no_row(db_session: Session) -> None:
    user = _user()
    trail = Trail("users", user.id)
    assert User.objects.authenticate(user.email, PASSWORD) is user
    assert trail.new() == []


def test_password_change_is_audited_redacted(db_session: Session) -> None:
    user = _user()
    old_hash = user.password_hash
    trail = Trail("users", user.id)
    User.objects.set_password(user, "another long secret")
    log = trail.one("update")
    assert log.changes["fields"]["password_hash"] == {"before": REDACTED, "after": REDACTED}
    assert _secret_in_audit(db_session, old_hash) == 0
    assert _secret_in_audit(db_session, user.password_hash) == 0


# ------------------------------------------------------------------ set-based writes


def test_queryset_update_writes_one_row_per_changed_row(db_session: Session) -> None:
    tasks = [Task.objects.enqueue("bulk", priority=p) for p in (1, 2, 9)]
    trails = [Trail("tasks", t.id) for t in tasks]
    actor = uuid.uuid4()
    with audit_actor(actor):
        assert Task.objects.filter(pk__in=[t.id for t in tasks]).update(priority=9) == 3
    for trail, before in zip(trails[:2], (1, 2), strict=True):
        log = trail.one("update")
        assert log.changes == {"fields": {"priority": {"before": before, "after": 9}}}
        assert log.actor_id == actor
    assert trails[2].new() == []  # already 9: nothing changed
    assert [t.priority for t in tasks] == [9, 9, 9]


@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_set_based_write_of_a_secret_is_audited_redacted(db_session: Session, path: str) -> None:
    user = _user()
    trail = Trail("users", user.id)
    new_hash = hash_password("a completely new one")
    if path == "update":
        User.objects.filter(pk=user.id).update(password_hash=new_hash)
    else:
        user.password_hash = new_hash
        User.objects.bulk_update([user], ["password_hash"])
    log = trail.one("update")
    assert log.changes["fields"]["password_hash"] == {"before": REDACTED, "after": REDACTED}
    assert _secret_in_audit(db_session, new_hash) == 0


def test_queryset_soft_delete_and_restore_write_one_row_each(db_session: Session) -> None:
    tasks = [Task.objects.enqueue("set delete") for _ in range(3)]
    ids = [t.id for t in tasks]
    tasks[0].delete()
    trails = [Trail("tasks", i) for i in ids]
    assert Task.objects.filter(pk__in=ids).delete()[0] == 2
    assert trails[0].new() == []  # was already deleted
    for trail in trails[1:]:
        fields = trail.one("soft_delete").changes["fields"]
        assert fields["deleted_at"]["before"] is None and fields["deleted_at"]["after"] is not None
    assert Task.deleted_objects.filter(pk__in=ids).update(deleted_at=None) == 3
    for trail in trails:
        assert trail.one("restore").changes["fields"]["deleted_at"]["after"] is None


def test_queryset_hard_delete_writes_one_row_per_removed_row(db_session: Session) -> None:
    tasks = [Task.objects.enqueue(f"gone {i}") for i in range(3)]
    ids = [t.id for t in tasks]
    trails = [Trail("tasks", i) for i in ids]
    actor = uuid.uuid4()
    with audit_actor(actor):
        assert Task.all_objects.filter(pk__in=ids).delete(hard=True)[0] == 3
    for i, trail in enumerate(trails):
        log = trail.one("delete")
        assert log.changes["before"]["title"] == f"gone {i}"
        assert log.changes["before"]["id"] == str(ids[i])
        assert log.actor_id == actor
    assert Task.all_objects.filter(pk__in=ids).count() == 0


def test_queryset_hard_delete_of_users_redacts_the_password_hash(db_session: Session) -> None:
    user = _user()
    trail = Trail("users", user.id)
    User.all_objects.filter(pk=user.id).delete(hard=True)
    log = trail.one("delete")
    assert log.changes["before"]["password_hash"] == REDACTED
    assert log.changes["before"]["email"] == user.email
    assert _secret_in_audit(db_session, user.password_hash) == 0


def test_bulk_create_writes_one_create_row_per_instance(db_session: Session) -> None:
    actor = uuid.uuid4()
    tasks = [Task(title=f"copied {i}", priority=i) for i in range(4)]
    with audit_actor(actor):
        Task.objects.bulk_create(tasks)
    for i, task in enumerate(tasks):
        (log,) = _trail("tasks", task.id)
        assert log.action.value == "create"
        assert log.actor_id == actor
        assert log.changes["after"]["title"] == f"copied {i}"
        assert log.changes["after"]["priority"] == i


def test_bulk_create_of_users_redacts_the_password_hash(db_session: Session) -> None:
    tag = uuid.uuid4().hex[:12]
    secret = hash_password(PASSWORD)
    users = [
        User(email=f"{tag}{i}@example.com", username=f"b{tag}{i}", password_hash=secret) for i in range(2)
    ]
    User.objects.bulk_create(users)
    for user in users:
        (log,) = _trail("users", user.id)
        assert log.changes["after"]["password_hash"] == REDACTED
    assert _secret_in_audit(db_session, secret) == 0


def test_bulk_update_writes_one_row_per_changed_instance(db_session: Session) -> None:
    tasks = [Task.objects.enqueue(f"before {i}") for i in range(3)]
    trails = [Trail("tasks", t.id) for t in tasks]
    tasks[0].title, tasks[1].title = "after 0", "after 1"
    with audit_actor(uuid.uuid4()):
        assert Task.objects.bulk_update(tasks, ["title"]) == 3
    for i, trail in enumerate(trails[:2]):
        log = trail.one("update")
        assert log.changes == {"fields": {"title": {"before": f"before {i}", "after": f"after {i}"}}}
        assert log.actor_id is not None
    assert trails[2].new() == []


def test_secrets_never_reach_the_audit_log_on_any_path(db_session: Session) -> None:
    user = _user()
    hashes = [user.password_hash]
    User.objects.set_password(user, "second password")
    hashes.append(user.password_hash)
    key, _raw = ApiKey.objects.issue(user, "k")
    ApiKey.objects.revoke(key)
    user.delete()
    user.restore()
    User.all_objects.filter(pk=user.id).delete(hard=True)
    for secret in (*hashes, key.key_hash):
        assert _secret_in_audit(db_session, secret) == 0


# ------------------------------------------------------------------ rollback


def test_rolled_back_unit_of_work_takes_its_audit_rows_with_it(
    db_session: Session, database: Database
) -> None:
    kept = Task.objects.enqueue("kept")
    with pytest.raises(RuntimeError), database.session():
        lost = Task.objects.enqueue("lost")
        Task.objects.filter(pk=kept.id).update(priority=1)
        raise RuntimeError("roll back")
    assert _trail("tasks", lost.id) == []
    assert [log.action.value for log in _trail("tasks", kept.id)] == ["create"]
    assert Task.all_objects.filter(pk=lost.id).count() == 0


def test_rolled_back_transaction_leaves_no_audit_row_in_the_database(database: Database) -> None:
    with pytest.raises(RuntimeError), database.session():
        task_id = Task.objects.enqueue("never committed").id
        assert len(_trail("tasks", task_id)) == 1
        raise RuntimeError("roll back")
    with database.session():
        assert _trail("tasks", task_id) == []
        assert Task.all_objects.filter(pk=task_id).count() == 0


# ------------------------------------------------------------------ append-only


def test_audit_row_cannot_be_changed_through_the_orm(db_session: Session, record_sql) -> None:
    (log,) = _trail("tasks", Task.objects.enqueue("x").id)
    log.action = "delete"  # type: ignore[assignment]
    with record_sql() as sent:
        with pytest.raises(ValidationError) as caught:
            db_session.flush()
        assert sent == []
        db_session.expire(log)
        assert log.action.value == "create"
        assert len(sent) == 1  # the recorder does see SQL: the reload
    assert caught.value.fields == ["audit_logs"]


def test_audit_row_cannot_be_deleted_through_the_orm(db_session: Session, record_sql) -> None:
    task = Task.objects.enqueue("x")
    (log,) = _trail("tasks", task.id)
    db_session.delete(log)
    with record_sql() as sent, pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert sent == []
    assert caught.value.fields == ["audit_logs"]
    db_session.expunge(log)
    assert len(_trail("tasks", task.id)) == 1


@pytest.mark.parametrize("write", ["update", "delete", "hard delete"])
def test_audit_rows_cannot_be_changed_by_set_based_writes(
    db_session: Session, write: str, record_sql
) -> None:
    (log,) = _trail("tasks", Task.objects.enqueue("x").id)
    rows = AuditLog.objects.filter(pk=log.id)
    with record_sql() as sent, pytest.raises(ValidationError), db_session.begin_nested():
        if write == "update":
            rows.update(action="delete")
        else:
            rows.delete(hard=write == "hard delete")
    assert sent == []


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_logs SET action = 'delete' WHERE id = :id",
        "UPDATE audit_logs SET changes = '{}'::jsonb WHERE id = :id",
        "DELETE FROM audit_logs WHERE id = :id",
    ],
)
def test_database_refuses_raw_changes_to_audit_rows(db_session: Session, sql: str) -> None:
    task = Task.objects.enqueue("x")
    (log,) = _trail("tasks", task.id)
    with pytest.raises(DBAPIError), db_session.begin_nested():
        db_session.execute(text(sql), {"id": log.id})
    db_session.expire(log)
    (again,) = _trail("tasks", task.id)
    assert (again.action.value, again.changes) == ("create", log.changes)


# ------------------------------------------------------------------ order and cascades


def test_trail_of_one_transaction_lists_changes_in_the_order_they_happened(db_session: Session) -> None:
    task = Task.objects.enqueue("v0")
    for n in range(1, 11):
        task.title = f"v{n}"
        db_session.flush()
    titles = [
        log.changes["after"]["title"]
        if log.action.value == "create"
        else log.changes["fields"]["title"]["after"]
        for log in AuditLog.objects.for_object(task)
    ]
    assert titles == [f"v{n}" for n in range(11)]


def test_hard_deleting_a_user_records_the_deletion_of_their_api_keys(db_session: Session) -> None:
    user = _user()
    key, _raw = ApiKey.objects.issue(user, "k")
    user.delete(hard=True)
    assert ApiKey.objects.filter(pk=key.id).count() == 0
    assert [log.action.value for log in _trail("api_keys", key.id)] == ["create", "delete"]


def test_hard_deleting_a_user_records_the_unassignment_of_their_tasks(db_session: Session) -> None:
    user = _user()
    task = Task.objects.enqueue("assigned", assignee_id=user.id)
    trail = Trail("tasks", task.id)
    actor = uuid.uuid4()
    with audit_actor(actor):
        User.all_objects.filter(pk=user.id).delete(hard=True)
    log = trail.one("update")
    assert log.changes == {"fields": {"assignee_id": {"before": str(user.id), "after": None}}}
    assert log.actor_id == actor
    assert Task.objects.get(pk=task.id).assignee_id is None


def test_soft_deleting_a_user_keeps_their_tasks_and_keys(db_session: Session) -> None:
    user = _user()
    task = Task.objects.enqueue("assigned", assignee_id=user.id, due_at=utcnow() + timedelta(days=1))
    key, _raw = ApiKey.objects.issue(user, "k")
    user.delete()
    assert Task.objects.get(pk=task.id).assignee_id == user.id
    assert ApiKey.objects.filter(pk=key.id).count() == 1
    assert Task.objects.get(pk=task.id).status is TaskStatus.PENDING
