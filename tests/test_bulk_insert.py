"""bulk_insert: plain mappings stored by COPY, validated field by field, all or nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from lab_models import Author, Entry, Membership
from sqlalchemy import text

from assistant_models import F, Lower, Value
from assistant_models.core.audit import audit_actor
from assistant_models.core.base import NAIVE_MESSAGE, NUL_MESSAGE, SURROGATE_MESSAGE
from assistant_models.core.ingest import EXPRESSION_MESSAGE
from assistant_models.exceptions import ConflictError, ValidationError
from assistant_models.models import AuditLog, AuthSession, Task, TaskStatus, User

pytestmark = pytest.mark.integration


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _user(tag: str) -> User:
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", "correct horse battery")


def _titles(tag: str) -> list[str]:
    return sorted(Task.all_objects.filter(title__startswith=tag).values_list("title", flat=True))


def test_rows_are_converted_to_their_field_types_and_completed_with_defaults(api) -> None:
    tag = _tag()
    rows = [
        {"title": f"{tag} a", "priority": "7", "status": "running", "due_at": "2030-01-02T03:04:05+02:00"},
        {"title": f"{tag} b"},
    ]
    assert api(Task.objects, "bulk_insert", rows) == 2
    a, b = api.rows(Task.objects.filter(title__startswith=tag).order_by("title"))
    assert (a.priority, a.status, a.due_at) == (
        7,
        TaskStatus.RUNNING,
        datetime(2030, 1, 2, 1, 4, 5, tzinfo=UTC),
    )
    assert (b.priority, b.status, b.max_retries, b.version) == (5, TaskStatus.PENDING, 3, 1)
    assert a.id != b.id and b.created_at is not None and b.updated_at is not None and b.deleted_at is None


def test_each_batch_is_one_copy_and_an_iterator_is_read_batch_by_batch(db_session, statements) -> None:
    tag = _tag()
    rows = ({"title": f"{tag} {i:02}", "priority": i % 11} for i in range(25))
    assert Task.objects.bulk_insert(rows, batch_size=10) == 25
    assert len([s for s in statements if s.startswith("INSERT INTO audit_logs")]) == 3
    assert len(_titles(tag)) == 25


def test_unknown_fields_are_refused_naming_the_row_and_the_field(api) -> None:
    tag = _tag()
    with pytest.raises(ValidationError) as caught:
        api(Task.objects, "bulk_insert", [{"title": f"{tag} ok"}, {"title": f"{tag} x", "titel": "typo"}])
    assert caught.value.errors == [{"field": "rows[1].titel", "message": "is not a field of this model"}]
    assert api(Task.objects.filter(title__startswith=tag), "count") == 0


def test_missing_and_invalid_values_name_their_rows(db_session) -> None:
    tag = _tag()
    rows = [{"title": f"{tag} ok"}, {"priority": 3}, {"title": f"{tag} hot", "priority": 99}, {"title": None}]
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert(rows)
    assert caught.value.fields == ["rows[1].title", "rows[2].priority", "rows[3].title"]
    assert caught.value.errors[0]["message"] == "is required"
    assert "less than or equal to 10" in caught.value.errors[1]["message"]


def test_fields_a_concern_keeps_cannot_be_set(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert([{"title": "fine"}, {"title": "versioned", "version": 7}])
    assert caught.value.errors == [
        {"field": "rows[1].version", "message": "is kept by the model and cannot be set"}
    ]


def test_field_validators_and_constraints_run_as_in_the_constructor(api) -> None:
    tag = _tag()
    user = api(User.objects, "create_user", f"{tag}@example.com", f"u{tag}", "correct horse battery")
    expires = datetime.now(UTC) + timedelta(days=1)
    row = {
        "user_id": str(user.id),
        "token_hash": f"{tag}-1",
        "expires_at": expires,
        "ip_address": " 10.0.0.1 ",
    }
    assert api(AuthSession.objects, "bulk_insert", [row]) == 1
    (stored,) = api.rows(AuthSession.objects.filter(user_id=user.id))
    assert stored.ip_address == "10.0.0.1" and stored.user_id == user.id
    bad = [{**row, "token_hash": f"{tag}-2", "ip_address": "not an ip"}, {**row, "token_hash": "x" * 65}]
    with pytest.raises(ValidationError) as caught:
        api(AuthSession.objects, "bulk_insert", bad)
    assert caught.value.fields == ["rows[0].ip_address", "rows[1].token_hash"]
    assert caught.value.errors[0]["message"] == "is not an IPv4 or IPv6 address"


def test_naive_datetimes_are_refused(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert([{"title": "t", "due_at": datetime(2030, 1, 1)}])
    assert caught.value.errors == [{"field": "rows[0].due_at", "message": NAIVE_MESSAGE}]


@pytest.mark.parametrize(("bad", "message"), [("a\x00b", NUL_MESSAGE), ("a\ud800b", SURROGATE_MESSAGE)])
def test_text_postgresql_would_refuse_is_named_by_row_and_field(db_session, bad, message) -> None:
    tag = _tag()
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert([{"title": f"{tag} fine"}, {"title": f"{tag} x", "description": bad}])
    assert caught.value.errors == [{"field": "rows[1].description", "message": message}]
    assert _titles(tag) == []


def test_text_with_tabs_newlines_and_backslashes_arrives_intact(db_session) -> None:
    tag = _tag()
    title = f"{tag} tab\there\nnew line \\N back\\slash"
    Task.objects.bulk_insert([{"title": title}])
    assert _titles(tag) == [title]


def test_given_timestamps_and_deletion_marks_are_kept(db_session) -> None:
    tag = _tag()
    then = datetime(2020, 5, 1, tzinfo=UTC)
    Task.objects.bulk_insert([{"title": f"{tag} old", "created_at": then, "deleted_at": then}])
    assert Task.objects.filter(title__startswith=tag).count() == 0
    (old,) = Task.all_objects.filter(title__startswith=tag)
    assert old.created_at == then and old.is_deleted


def test_audited_models_get_one_create_row_per_inserted_row(api) -> None:
    tag = _tag()
    api(Task.objects, "bulk_insert", [{"title": f"{tag} {i}"} for i in range(3)])
    ids = [str(t.id) for t in api.rows(Task.objects.filter(title__startswith=tag))]
    logs = api.rows(AuditLog.objects.filter(table_name="tasks", row_id__in=ids))
    assert len(logs) == 3 and {log.action.value for log in logs} == {"create"}
    assert {log.changes["after"]["title"] for log in logs} == {f"{tag} {i}" for i in range(3)}


def test_audit_rows_name_the_actor(db_session) -> None:
    tag, actor = _tag(), uuid.uuid4()
    with audit_actor(actor):
        Task.objects.bulk_insert([{"title": f"{tag} {i}"} for i in range(2)])
    ids = [str(t.id) for t in Task.objects.filter(title__startswith=tag)]
    logs = AuditLog.objects.filter(table_name="tasks", row_id__in=ids)
    assert [log.actor_id for log in logs] == [actor, actor]


def test_an_audited_model_with_keys_made_by_the_server_is_audited_by_those_keys(lab) -> None:
    assert Entry.objects.bulk_insert([{"amount": 5, "label": "a"}, {"label": "b"}]) == 2
    entries = {e.label: e for e in Entry.objects.all()}
    assert entries["b"].amount == 0
    logs = AuditLog.objects.filter(table_name="lab_entries")
    assert sorted(log.row_id for log in logs) == sorted(str(e.id) for e in entries.values())


def test_a_composite_key_is_audited_whole(lab) -> None:
    Membership.objects.bulk_insert(
        [{"team": "red", "member": 1}, {"team": "red", "member": 2, "role": "lead"}]
    )
    assert Membership.objects.get(team="red", member=2).role == "lead"
    logs = AuditLog.objects.filter(table_name="lab_memberships")
    assert sorted(log.row_id for log in logs) == ["red,1", "red,2"]


def test_a_column_that_may_not_hold_null_refuses_none_before_any_sql(lab) -> None:
    with pytest.raises(ValidationError) as caught:
        Entry.objects.bulk_insert([{"label": "fine"}, {"amount": 1}])
    assert caught.value.errors == [{"field": "rows[1].label", "message": "may not be null"}]


def test_values_go_through_the_column_types_own_conversion_and_server_keys(lab) -> None:
    Author.objects.bulk_insert(
        [{"name": "Ann", "motto": "speak softly"}, {"name": "Bob", "meta": {"k": [1]}}]
    )
    stored = lab.execute(text("SELECT name, motto, meta, id FROM lab_authors ORDER BY name")).all()
    assert [(r.name, r.motto, r.meta) for r in stored] == [
        ("Ann", "SPEAK SOFTLY", {}),
        ("Bob", None, {"k": [1]}),
    ]
    assert all(r.id is not None for r in stored)


def test_a_failing_batch_leaves_none_of_the_calls_rows_and_the_unit_of_work_usable(db_session) -> None:
    tag = _tag()
    rows = [{"title": f"{tag} {i}"} for i in range(5)] + [{"title": f"{tag} bad", "priority": -1}]
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert(rows, batch_size=2)
    assert caught.value.fields == ["rows[5].priority"]
    assert _titles(tag) == []
    Task.objects.create(title=f"{tag} after")
    assert _titles(tag) == [f"{tag} after"]


def test_a_database_error_in_a_later_batch_undoes_the_earlier_ones(api) -> None:
    tag = _tag()
    user = api(User.objects, "create_user", f"{tag}@example.com", f"u{tag}", "correct horse battery")
    expires = datetime.now(UTC) + timedelta(days=1)
    rows = [{"user_id": user.id, "token_hash": f"{tag}-{i % 3}", "expires_at": expires} for i in range(4)]
    with pytest.raises(ConflictError):
        api(AuthSession.objects, "bulk_insert", rows, batch_size=3)
    assert api(AuthSession.objects.filter(user_id=user.id), "count") == 0


def test_rows_must_be_an_iterable_of_mappings(db_session, statements) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert({"title": "one row, not a list"})
    assert caught.value.fields == ["rows"]
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert([{"title": "fine"}, ("title", "x"), Task(title="an instance")])
    assert caught.value.fields == ["rows[1]", "rows[2]"]
    with pytest.raises(ValidationError):
        Task.objects.bulk_insert([], batch_size=0)
    statements.clear()
    assert Task.objects.bulk_insert(iter(())) == 0
    assert statements == []


def test_a_flood_of_errors_is_reported_in_a_readable_message(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert([{"priority": 1}] * 100)
    assert len(caught.value.errors) == 21
    assert caught.value.errors[-1] == {"field": "rows", "message": "80 more errors not shown"}


def test_documents_are_checked_as_every_write_checks_them(lab) -> None:
    with pytest.raises(ValidationError) as caught:
        Author.objects.bulk_insert([{"name": "Ann"}, {"name": "Bob", "meta": {"k": ["a\x00"]}}])
    assert caught.value.errors == [{"field": "rows[1].meta", "message": NUL_MESSAGE}]


def test_sql_expressions_are_refused_with_a_pointer_to_bulk_create(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.bulk_insert(
            [{"title": "x", "priority": F("retry_count") + 1}, {"title": Lower(Value("Y"))}]
        )
    assert caught.value.fields == ["rows[0].priority", "rows[1].title"]
    assert all(e["message"] == EXPRESSION_MESSAGE for e in caught.value.errors)
