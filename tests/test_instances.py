"""The instance API of Django: pk, save, delete, refresh_from_db, equality and hashing."""

import pytest
from lab_models import Author, Book, Membership, Note
from sqlalchemy import text

from assistant_models import ConflictError, NotFoundError, ValidationError
from assistant_models.core.context import bind_session, unbind_session
from assistant_models.models import AuditLog, Task


def _trail(team: str, member: int) -> list[str]:
    rows = AuditLog.objects.filter(table_name="lab_memberships", row_id=f"{team},{member}")
    return [row.action for row in rows.order_by("created_at")]


# -- pk ---------------------------------------------------------------------------------------------


def test_pk_is_the_key_value_and_none_before_the_insert(lab):
    author = Author(name="Ann")
    assert author.pk is None
    author.save()
    assert author.pk == author.id
    assert isinstance(author.pk, int)


def test_pk_of_a_composite_key_is_the_tuple_of_its_columns(lab):
    assert Membership(team="red", member=7).pk == ("red", 7)


def test_setting_pk_sets_the_key_column(lab):
    author = Author(name="Ann")
    author.pk = 41
    assert author.id == 41
    author.save()
    assert Author.objects.get(pk=41).name == "Ann"


def test_setting_pk_of_a_composite_key_is_refused(lab):
    with pytest.raises(AttributeError, match="composite primary key"):
        Membership(team="red", member=7).pk = ("blue", 1)


def test_pk_filters_with_the_value_it_returns(lab):
    Membership.objects.create(team="red", member=1)
    blue = Membership.objects.create(team="blue", member=1)
    assert Membership.objects.get(team=blue.pk[0], member=blue.pk[1]) is blue


# -- save -------------------------------------------------------------------------------------------


def test_save_inserts_a_new_instance_once(lab):
    author = Author(name="Ann")
    assert author.save() is None
    first = author.pk
    author.save()
    assert author.pk == first
    assert Author.objects.count() == 1


def test_save_writes_the_changes_of_a_loaded_instance(lab):
    Author.objects.create(name="Ann")
    loaded = Author.objects.get(name="Ann")
    loaded.name = "Anne"
    loaded.save()
    assert Author.objects.filter(name="Anne").count() == 1
    assert not Author.objects.filter(name="Ann").exists()


def test_save_validates_values_set_after_the_constructor(lab):
    author = Author(name="Ann")
    author.name = "x" * 101
    with pytest.raises(ValidationError, match="name"):
        author.save()
    assert Author.objects.count() == 0


def test_save_validates_the_changes_of_a_loaded_instance(lab):
    author = Author.objects.create(name="Ann")
    author.name = "x" * 101
    with pytest.raises(ValidationError, match="name"):
        author.save()


def test_save_audits_the_insert_and_the_update(lab):
    membership = Membership(team="red", member=1)
    membership.save()
    membership.role = "lead"
    membership.save()
    assert _trail("red", 1) == ["create", "update"]


def test_save_runs_in_the_session_that_holds_the_instance(lab):
    author = Author.objects.create(name="Ann")
    token = bind_session(None)  # no current unit of work: only the instance's own session
    try:
        author.name = "Anne"
        author.save()
        author.refresh_from_db()
        assert author.name == "Anne"
    finally:
        unbind_session(token)


# -- delete -----------------------------------------------------------------------------------------


def test_delete_removes_the_row_and_returns_django_counts(lab):
    author = Author.objects.create(name="Ann")
    assert author.delete() == (1, {"Author": 1})
    assert not Author.objects.exists()


def test_delete_of_a_composite_key_removes_only_its_row_and_audits_it(lab):
    Membership.objects.create(team="red", member=1)
    blue = Membership.objects.create(team="blue", member=1)
    assert blue.delete() == (1, {"Membership": 1})
    assert [m.pk for m in Membership.objects.all()] == [("red", 1)]
    assert _trail("blue", 1) == ["create", "delete"]


def test_soft_delete_returns_django_counts_once(lab):
    note = Note.objects.create(text="hi")
    assert note.delete() == (1, {"Note": 1})
    assert note.delete() == (0, {})
    assert note.delete(hard=True) == (1, {"Note": 1})
    assert not Note.all_objects.exists()


def test_delete_of_a_row_others_restrict_is_a_conflict(lab, db_session):
    db_session.execute(
        text(
            "CREATE TABLE lab_quotes (id serial PRIMARY KEY, author_id integer NOT NULL "
            "CONSTRAINT fk_lab_quotes__author_id REFERENCES lab_authors (id) ON DELETE RESTRICT)"
        )
    )
    author = Author.objects.create(name="Ann")
    db_session.execute(text("INSERT INTO lab_quotes (author_id) VALUES (:id)"), {"id": author.id})
    with pytest.raises(ConflictError, match="still referred to"):
        author.delete()


def test_delete_of_an_unsaved_instance_is_refused(lab):
    with pytest.raises(ValidationError, match="only a saved row"):
        Author(name="Ann").delete()


# -- refresh_from_db --------------------------------------------------------------------------------


def test_refresh_from_db_reloads_values_changed_by_a_set_based_update(lab):
    author = Author.objects.create(name="Ann", age=30)
    Author.objects.filter(pk=author.pk).update(name="Anne", age=31)
    author.refresh_from_db()
    assert (author.name, author.age) == ("Anne", 31)


def test_refresh_from_db_of_some_fields_reloads_only_those(lab):
    author = Author.objects.create(name="Ann", age=30)
    Author.objects.filter(pk=author.pk).update(age=31)
    author.name = "Bob"
    author.age = 0
    author.refresh_from_db(fields=["age"])
    assert (author.name, author.age) == ("Bob", 31)
    author.save()  # the change not refreshed is still to be written
    assert Author.objects.filter(name="Bob", age=31).exists()


def test_refresh_from_db_discards_unsaved_changes(lab):
    author = Author.objects.create(name="Ann")
    author.name = "Bob"
    author.refresh_from_db()
    assert author.name == "Ann"


def test_refresh_from_db_of_a_deleted_row_raises_does_not_exist(lab):
    author = Author.objects.create(name="Ann")
    Author.objects.filter(pk=author.pk).delete()
    with pytest.raises(Author.DoesNotExist):
        author.refresh_from_db()
    assert issubclass(Author.DoesNotExist, NotFoundError)


def test_refresh_from_db_of_an_unsaved_instance_is_refused(lab):
    with pytest.raises(ValidationError, match="only a saved row"):
        Author(name="Ann").refresh_from_db()


# -- equality and hashing ---------------------------------------------------------------------------


def test_instances_of_the_same_model_and_key_are_equal(lab, db_session):
    author = Author.objects.create(name="Ann")
    db_session.expunge(author)
    again = Author.objects.get(pk=author.pk)
    assert again is not author
    assert again == author
    assert hash(again) == hash(author)
    assert len({author, again}) == 1


def test_instances_with_equal_values_but_different_keys_differ(lab):
    first = Author.objects.create(name="Ann")
    second = Author.objects.create(name="Ann")
    assert first != second


def test_instances_of_different_models_with_the_same_key_differ(lab):
    author = Author(id=1, name="Ann")
    book = Book(id=1, title="Ann")
    assert author != book


def test_an_instance_without_key_equals_only_itself(lab):
    author = Author(name="Ann")
    assert author == author
    assert author != Author(name="Ann")


def test_an_instance_without_key_is_unhashable(lab):
    with pytest.raises(TypeError, match="Model instances without primary key value are unhashable"):
        hash(Author(name="Ann"))


def test_an_instance_never_equals_another_type(lab):
    author = Author(id=1, name="Ann")
    assert author != 1
    assert author != {"id": 1, "name": "Ann"}


def test_an_instance_from_an_earlier_unit_of_work_is_saved_into_one_holding_its_row(db_session):
    task = Task.objects.enqueue("carried", priority=2)
    db_session.expunge(task)  # as if loaded by an earlier unit of work
    task.title = "changed while detached"
    held = Task.objects.get(pk=task.id)  # this unit of work holds the row already
    assert held is not task
    assert Task.objects._save(task) is held and held.title == "changed while detached"
    task.priority = 7
    task.save()  # Django's instance save, the same way
    db_session.expunge_all()
    fresh = Task.objects.get(pk=task.id)
    assert (fresh.title, fresh.priority) == ("changed while detached", 7)


def test_a_stale_detached_instance_is_refused_when_the_unit_of_work_holds_a_newer_row(db_session):
    task = Task.objects.enqueue("stale")
    db_session.expunge(task)
    Task.objects.filter(pk=task.id).update(priority=9)  # the version moves on
    held = Task.objects.get(pk=task.id)  # held: the identity map keeps only referenced rows
    task.title = "from an old copy"
    with pytest.raises(ConflictError) as caught:
        task.save()
    assert caught.value.field == "version"
    assert Task.objects.get(pk=task.id) is held and held.title == "stale"
