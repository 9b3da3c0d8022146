"""Promises a review once found broken, each pinned by the test that showed it."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from assistant_models import Q, Sum
from assistant_models.exceptions import (
    ConflictError,
    FieldError,
    ValidationError,
)
from assistant_models.models import ApiKey, AuditLog, Task, User

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def _user(**fields: object) -> User:
    tag = uuid.uuid4().hex[:16]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", PASSWORD, **fields)


def _key(user: User, key_hash: str, name: str = "k") -> ApiKey:
    return ApiKey(user_id=user.id, name=name, key_prefix="amk_review", key_hash=key_hash)


def _titles(qs: object) -> list[str]:
    return [t.title for t in qs]


@pytest.fixture
def ladder(db_session) -> list[Task]:
    """Four tasks with priorities 1..4 and unique titles."""
    tag = uuid.uuid4().hex[:8]
    return [Task.objects.enqueue(f"{tag}-p{p}", priority=p) for p in range(1, 5)]


# -- errors escaping the tree ---------------------------------------------------------------


def test_bulk_create_with_a_duplicate_key_raises_conflict_error_without_the_secret(db_session):
    owner = _user()
    digest = secrets.token_hex(32)
    with pytest.raises(ConflictError) as caught:
        ApiKey.objects.bulk_create([_key(owner, digest, "a"), _key(owner, digest, "b")])
    assert digest not in str(caught.value)


def test_filter_and_exclude_with_no_arguments_return_every_row(ladder):
    assert Task.objects.filter().count() == 4
    assert Task.objects.exclude(**{}).count() == 4


def test_comparison_lookup_with_none_raises_validation_error(ladder):
    with pytest.raises(ValidationError):
        Task.objects.filter(due_at__gt=None).count()


def test_in_bulk_with_an_unknown_field_raises_field_error(ladder):
    with pytest.raises(FieldError):
        Task.objects.in_bulk(field_name="no_such_field")


def test_create_with_a_bad_relation_value_raises_validation_error(db_session):
    with pytest.raises(ValidationError):
        Task.objects.create(title="orphan", assignee="not a user")


def test_invalid_enum_value_across_a_relation_raises_validation_error(ladder):
    with pytest.raises(ValidationError):
        Task.objects.filter(assignee__role="no-such-role").count()


def test_json_field_stores_a_datetime_as_its_iso_text_as_pydantic_json_mode_does(db_session):
    when = datetime.now(UTC)
    task = Task.objects.create(title="json", results={"at": when})
    stored = Task.objects.values_list("results", flat=True).get(pk=task.id)  # read back from the row
    assert isinstance(stored["at"], str)
    assert datetime.fromisoformat(stored["at"]) == when


# -- Django semantics -----------------------------------------------------------------------


def test_text_lookup_with_none_does_not_match_the_word_none(db_session):
    Task.objects.enqueue(f"None of it {uuid.uuid4().hex[:6]}")
    with pytest.raises(ValidationError) as caught:  # as Django refuses None for every lookup but exact
        Task.objects.filter(title__contains=None)
    assert caught.value.fields == ["title__contains"]


def test_exclude_keeps_rows_whose_nullable_field_is_null(db_session):
    Task.objects.enqueue("no description")
    Task.objects.enqueue("described", description="x")
    assert _titles(Task.objects.exclude(description="x")) == ["no description"]


def test_exclude_across_a_relation_keeps_rows_without_the_relation(db_session):
    owner = _user()
    Task.objects.enqueue("assigned", assignee_id=owner.id)
    Task.objects.enqueue("unassigned")
    assert _titles(Task.objects.exclude(assignee__username=owner.username)) == ["unassigned"]


def test_exclude_of_an_empty_q_keeps_every_row(ladder):
    assert Task.objects.exclude(Q()).count() == 4


def test_last_of_a_sliced_queryset_is_refused_as_in_django(ladder):
    with pytest.raises(ValidationError, match="slice"):
        Task.objects.order_by("priority")[:2].last()
    assert list(Task.objects.order_by("priority")[:2])[-1].priority == 2


def test_aggregate_of_a_sliced_queryset_covers_only_the_slice(ladder):
    assert Task.objects.order_by("priority")[:2].aggregate(total=Sum("priority")) == {"total": 3}


def test_filter_after_slicing_is_refused_so_no_row_outside_the_slice_comes_back(ladder):
    head = Task.objects.order_by("priority")[:2]
    with pytest.raises(ValidationError) as caught:  # Django: "Cannot filter a query once a slice..."
        head.filter(priority__gte=3)
    assert caught.value.fields == ["slice"]
    with pytest.raises(ValidationError):
        head.exclude(priority__lt=3)
    assert [t.priority for t in head] == [1, 2]


def test_indexing_past_the_end_raises_index_error(ladder):
    with pytest.raises(IndexError):
        Task.objects.order_by("priority")[10]


def test_get_or_create_accepts_pk_as_a_lookup(db_session):
    key = uuid.uuid4()
    task, created = Task.objects.get_or_create(pk=key, defaults={"title": "by key"})
    assert created
    assert task.id == key


def test_get_or_create_conflict_on_another_field_raises_conflict_error(db_session):
    taken = _user()
    with pytest.raises(ConflictError):
        User.objects.get_or_create(
            username=f"u{uuid.uuid4().hex[:16]}", defaults={"email": taken.email, "password_hash": "x"}
        )


def test_text_lookup_on_a_uuid_field_matches_its_text(db_session):
    task = Task.objects.enqueue("by prefix")
    assert Task.objects.filter(id__startswith=str(task.id)[:8]).count() == 1


def test_q_text_lookup_on_an_enum_field_matches_like_the_keyword_form(db_session):
    Task.objects.enqueue("pending one")
    keyword = Task.objects.filter(status__contains="pend").count()
    assert Task.objects.filter(Q(status__contains="pend")).count() == keyword == 1


def test_a_distinct_queryset_can_be_updated(ladder):
    assert Task.objects.filter(priority=1).distinct().update(description="d") == 1


def test_values_does_not_change_the_queryset_it_is_called_on(ladder, record_sql):
    qs = Task.objects.filter(priority=3)
    qs.values("title", "assignee__username")
    with record_sql() as sent:
        assert qs.count() == 1
    assert not any("JOIN" in sql for sql in sent)


# -- pagination and search ------------------------------------------------------------------


@pytest.fixture
def apples(db_session) -> tuple[str, set[uuid.UUID]]:
    word = f"zq{uuid.uuid4().hex[:8]}"
    keys = sorted(uuid.uuid4() for _ in range(4))
    # four distinct ranks, and the better the match the larger its key: rank order is key order reversed
    return word, {Task.objects.enqueue(" ".join([word] * (n + 1)), id=k).id for n, k in enumerate(keys)}


def test_cursor_pagination_of_a_search_is_refused_since_rank_is_no_keyset(apples):
    word, ids = apples
    with pytest.raises(FieldError, match="rank"):
        Task.objects.search(word).cursor_paginate(first=1)
    assert {t.id for t in Task.objects.search(word).paginate(page=1, per_page=10).items} == ids


def test_last_of_a_search_is_its_lowest_ranked_match(apples):
    word, _ids = apples
    qs = Task.objects.search(word)
    ranked = list(qs)
    assert qs.first() == ranked[0]
    assert qs.last() == ranked[-1]


# -- secrets --------------------------------------------------------------------------------


def test_model_dump_json_leaves_out_secret_fields(db_session):
    user = _user()
    assert "password_hash" not in json.loads(user.model_dump_json())


def test_iterating_a_model_leaves_out_secret_fields(db_session):
    user = _user()
    assert "password_hash" not in dict(user)


# -- soft delete, locking, audit, validation --------------------------------------------------


def test_soft_deleting_an_unsaved_instance_does_not_insert_it(db_session):
    before = Task.all_objects.count()
    ghost = Task(title="never saved")
    with pytest.raises(ValidationError) as caught:
        ghost.delete()
    assert caught.value.fields == ["id"]
    assert Task.all_objects.count() == before


def test_bulk_update_through_objects_leaves_soft_deleted_rows_alone(db_session):
    user = _user()
    user.delete()
    db_session.expunge(user)  # an instance held elsewhere, say from an earlier request
    user.first_name = "Changed"
    assert User.objects.bulk_update([user], ["first_name"]) == 0
    assert list(User.all_objects.filter(pk=user.id).values_list("first_name", flat=True)) == [None]


def test_bulk_update_of_a_stale_versioned_instance_raises_conflict_error(db_session):
    task = Task.objects.enqueue("mine")
    db_session.execute(
        text("UPDATE tasks SET version = version + 1, title = 'theirs' WHERE id = :id"), {"id": task.id}
    )
    with pytest.raises(ConflictError):
        Task.objects.bulk_update([task], ["title"])


def test_audit_diff_records_the_real_before_value_after_a_set_based_update(db_session):
    task = Task.objects.enqueue("audited", priority=1)
    Task.objects.filter(pk=task.id).update(priority=3)
    task.priority = 4
    Task.objects.start(task)
    latest = AuditLog.objects.for_object(task).filter(action="update").order_by("-created_at").first()
    assert latest is not None
    assert latest.changes["fields"]["priority"] == {"before": 3, "after": 4}


def test_update_to_null_in_a_required_column_is_refused_before_sql(db_session, record_sql):
    task = Task.objects.enqueue("stamped")
    with record_sql() as sent, pytest.raises(ValidationError):
        Task.objects.filter(pk=task.id).update(created_at=None)
    assert not any(sql.lstrip().upper().startswith(("UPDATE", "WITH")) for sql in sent)


def test_bulk_create_validates_values_mutated_after_construction(db_session):
    owner = _user()
    key = _key(owner, secrets.token_hex(32))
    key.scopes.append("has a space")
    with pytest.raises(ValidationError):
        ApiKey.objects.bulk_create([key])
