"""Soft delete: hidden from Model.objects everywhere, shown by all_objects, undone by restore."""

import pytest

from assistant_models import ConflictError, ValidationError
from assistant_models.models import ApiKey, Task, User


def make_user(name: str) -> User:
    return User.objects.create_user(f"{name}@example.com", name, "password-123")


def test_delete_marks_the_row_and_hides_it_everywhere(db_session):
    task = Task.objects.enqueue("gone soon")
    keep = Task.objects.enqueue("stays")
    task.delete()
    assert task.deleted_at is not None and task.is_deleted
    with pytest.raises(Task.DoesNotExist):
        Task.objects.get(pk=task.id)
    assert list(Task.objects.filter(title="gone soon")) == []
    assert Task.objects.count() == 1
    assert not Task.objects.filter(pk=task.id).exists()
    assert Task.objects.paginate(page=1, per_page=10).items == [keep]
    assert Task.objects.cursor_paginate(first=10).items == [keep]
    assert list(Task.objects.values_list("title", flat=True)) == ["stays"]


def test_all_objects_and_deleted_objects_see_what_they_name(db_session):
    task = Task.objects.enqueue("gone soon")
    Task.objects.enqueue("stays")
    task.delete()
    assert Task.all_objects.count() == 2
    assert [t.title for t in Task.deleted_objects.all()] == ["gone soon"]
    assert Task.all_objects.get(pk=task.id).is_deleted


def test_restore_brings_the_row_back(db_session):
    task = Task.objects.enqueue("back again")
    task.delete()
    task.restore()
    assert task.deleted_at is None
    assert Task.objects.get(pk=task.id).title == "back again"


def test_hard_delete_removes_the_row(db_session):
    task = Task.objects.enqueue("for good")
    task.delete(hard=True)
    assert Task.all_objects.filter(pk=task.id).count() == 0


def test_queryset_delete_is_soft_unless_asked(db_session):
    Task.objects.enqueue("a")
    Task.objects.enqueue("b")
    assert Task.objects.filter(title="a").delete()[0] == 1
    assert Task.all_objects.count() == 2
    assert Task.all_objects.filter(title="a").delete(hard=True)[0] == 1
    assert Task.all_objects.count() == 1
    assert Task.deleted_objects.all().delete()[0] == 0  # already deleted: nothing to mark


def test_joins_across_relations_skip_deleted_rows(db_session):
    ann = make_user("ann")
    Task.objects.enqueue("for ann", assignee_id=ann.id)
    ann.delete()
    assert Task.objects.filter(assignee__username="ann").count() == 0
    assert Task.objects.filter(assignee__id__isnull=True).count() == 1


def test_relationship_loads_skip_deleted_rows_even_from_the_identity_map(db_session):
    ann = make_user("ann")
    task = Task.objects.enqueue("for ann", assignee_id=ann.id)
    assert task.assignee is not None
    ann.delete()
    db_session.expire(task, ["assignee"])
    assert task.assignee is None
    db_session.expire_all()
    reloaded = Task.objects.select_related("assignee").get(pk=task.id)
    assert reloaded.assignee is None
    assert Task.objects.prefetch_related("assignee").get(pk=task.id).assignee is None


def test_relationship_loads_from_non_soft_deletable_models_also_skip_deleted_rows(db_session):
    ann = make_user("ann")
    key, _ = ApiKey.objects.issue(ann, "ci")
    ann.delete()
    db_session.expire(key, ["user"])
    assert key.user is None


def test_unique_constraints_apply_to_live_rows_only(db_session):
    first = make_user("ann")
    first.delete()
    second = make_user("ann")
    assert second.id != first.id
    with pytest.raises(ConflictError) as caught:
        first.restore()
    assert caught.value.field == "email"
    assert "ann@example.com" not in str(caught.value)
    # the unit of work is still usable after the refused restore
    assert User.objects.get(username="ann").id == second.id
    assert User.deleted_objects.get(pk=first.id).is_deleted


def test_deleting_twice_is_harmless(db_session):
    task = Task.objects.enqueue("once")
    task.delete()
    stamp = task.deleted_at
    task.delete()
    assert task.deleted_at == stamp


def test_nothing_can_refer_to_a_soft_deleted_row(db_session):
    ann = make_user("ghost")
    ann.delete()
    with pytest.raises(ValidationError) as caught, db_session.begin_nested():
        Task.objects.enqueue("for a ghost", assignee_id=ann.id)
    assert caught.value.fields == ["assignee_id"]
    with pytest.raises(ValidationError), db_session.begin_nested():
        ApiKey.objects.issue(ann, "ci")
    task = Task.objects.enqueue("unassigned")
    with pytest.raises(ValidationError), db_session.begin_nested():
        Task.objects.filter(pk=task.id).update(assignee_id=ann.id)
    ann.restore()
    assert Task.objects.enqueue("for ann again", assignee_id=ann.id).assignee_id == ann.id
