"""Validation runs on every write path, before any SQL is sent."""

import pytest

from assistant_models import FieldError, ValidationError
from assistant_models.models import Task, User


def test_constructor_lists_every_bad_field(db_session):
    with pytest.raises(ValidationError) as caught:
        Task(title="", priority=11, max_retries=-1)
    assert set(caught.value.fields) == {"title", "priority", "max_retries"}
    assert caught.value.model == "Task"


def test_constructor_rejects_unknown_fields():
    with pytest.raises(ValidationError) as caught:
        Task(title="ok", colour="blue")
    assert caught.value.fields == ["colour"]


def test_constructor_coerces_values_it_accepts():
    task = Task(title="ok", priority="7")
    assert task.priority == 7


def test_manager_create_sends_no_sql_for_invalid_data(db_session, statements):
    with pytest.raises(ValidationError):
        Task.objects.create(title="x" * 300)
    assert statements == []


def test_attribute_change_is_validated_before_the_flush(db_session, statements):
    task = Task.objects.enqueue("valid")
    statements.clear()
    task.priority = 99
    with pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert caught.value.fields == ["priority"]
    assert not any(s.lstrip().upper().startswith("UPDATE") for s in statements)


def test_attribute_change_is_coerced_at_flush(db_session):
    task = Task.objects.enqueue("valid")
    task.priority = "3"
    db_session.flush()
    assert Task.objects.filter(pk=task.id, priority=3).exists()


def test_queryset_update_validates_each_value(db_session, statements):
    Task.objects.enqueue("valid")
    statements.clear()
    with pytest.raises(ValidationError) as caught:
        Task.objects.all().update(priority=42, title="")
    assert set(caught.value.fields) == {"priority", "title"}
    assert statements == []


def test_queryset_update_refuses_unknown_fields_and_the_key(db_session):
    with pytest.raises(FieldError) as caught:
        Task.objects.all().update(colour="red", id=None)
    text = str(caught.value)
    assert "colour" in text and "primary key" in text


def test_bulk_create_validates_changed_attributes(db_session, statements):
    good, bad = Task(title="fine"), Task(title="fine")
    bad.priority = 50  # plain attribute change after construction
    statements.clear()
    with pytest.raises(ValidationError):
        Task.objects.bulk_create([good, bad])
    assert not any("COPY" in s for s in statements)


def test_bulk_update_validates_values(db_session):
    task = Task.objects.enqueue("valid")
    task.priority = -1
    with pytest.raises(ValidationError):
        Task.objects.bulk_update([task], ["priority"])


def test_field_validators_run_with_their_own_messages():
    with pytest.raises(ValidationError) as caught:
        User(email="not-an-email", username="x", password_hash="h", avatar_url="javascript:alert(1)")
    messages = {e["field"]: e["message"] for e in caught.value.errors}
    assert messages["email"] == "is not a valid email address"
    assert "avatar_url" in messages and "username" in messages


def test_validation_errors_never_echo_the_input():
    secret = "hunter2-very-secret-value" * 20
    with pytest.raises(ValidationError) as caught:
        Task(title=secret)
    assert "hunter2" not in str(caught.value)


def test_nul_characters_are_refused_on_every_path(db_session):
    with pytest.raises(ValidationError, match="NUL"):
        Task(title="a\x00b")
    with pytest.raises(ValidationError, match="NUL"):
        Task.objects.filter(title="a\x00b")
    with pytest.raises(ValidationError, match="NUL"):
        Task.objects.all().update(title="a\x00b")
    task = Task.objects.enqueue("fine")
    task.title = "a\x00b"
    with pytest.raises(ValidationError, match="NUL"):
        db_session.flush()


def test_nul_characters_inside_json_are_refused_by_the_server_as_validation_errors(db_session):
    with pytest.raises(ValidationError):
        Task.objects.create(title="json", results={"k": "a\x00b"})
