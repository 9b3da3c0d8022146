"""The core's seams: a lookup, a column type and an append-only model added without editing core/."""

import pytest
import sqlalchemy as sa
from lab_models import Author, Book, Event, Note, Remark, Shouting
from sqlalchemy import text

from assistant_models import FieldError, Lookup, Transform, ValidationError, register_lookup
from assistant_models.core.lookups import unregister_lookup


class Similar(Lookup):
    """Trigram similarity (pg_trgm's ``%``), registered on text columns from outside the core."""

    lookup_name = "similar"
    coerce_value = False

    def as_sql(self):
        return self.lhs.op("%", is_comparison=True)(self.rhs)


class Initial(Transform):
    """The first letter of a text, registered on the lab's own column type only."""

    lookup_name = "initial"
    output_type = sa.Text()

    def as_sql(self):
        return sa.func.left(self.lhs, 1)


@pytest.fixture
def trigrams(lab):
    lab.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    register_lookup(sa.String, Similar)
    try:
        yield
    finally:
        unregister_lookup(sa.String, "similar")


def test_a_lookup_registered_from_outside_the_core_filters_and_excludes(trigrams):
    for name in ("Dostoevsky", "Dostoyevsky", "Tolstoy"):
        Author.objects.create(name=name)
    assert sorted(Author.objects.filter(name__similar="Dostoevski").values_list("name", flat=True)) == [
        "Dostoevsky",
        "Dostoyevsky",
    ]
    assert list(Author.objects.exclude(name__similar="Dostoevski").values_list("name", flat=True)) == [
        "Tolstoy"
    ]
    assert Author.objects.filter(name__similar="Tolstoi").count() == 1  # the cached statement path too


def test_an_unregistered_lookup_is_a_field_error(lab):
    with pytest.raises(FieldError, match="similar"):
        Author.objects.filter(name__similar="x")


def test_a_new_column_type_is_converted_on_every_write_path_and_has_its_own_transform(lab):
    register_lookup(Shouting, Initial)
    try:
        Author.objects.create(name="a", motto="carpe diem")
        Author.objects.bulk_create([Author(name="b", motto="memento mori")])  # COPY
        Author.objects.bulk_create([Author(name="c", motto="sapere aude")], ignore_conflicts=True)  # INSERT
        stored = lab.execute(text("SELECT motto FROM lab_authors ORDER BY name")).scalars().all()
        assert stored == ["CARPE DIEM", "MEMENTO MORI", "SAPERE AUDE"]
        assert list(Author.objects.filter(motto__initial="M").values_list("name", flat=True)) == ["b"]
        with pytest.raises(FieldError):
            Author.objects.filter(name__initial="a")  # registered on the new type only
    finally:
        unregister_lookup(Shouting, "initial")


def test_an_append_only_model_refuses_every_change_on_every_path(lab):
    event = Event.objects.create(kind="signup")
    with pytest.raises(ValidationError, match="append-only"):
        Event.objects.filter(pk=event.id).update(kind="other")
    with pytest.raises(ValidationError, match="append-only"):
        Event.objects.all().delete()
    event.kind = "changed"
    with pytest.raises(ValidationError, match="append-only"):
        lab.flush()
    lab.rollback()


def test_soft_delete_comes_with_the_mixin_for_a_model_the_core_never_saw(lab):
    keep, gone = Note.objects.create(text="keep"), Note.objects.create(text="gone")
    assert Note.objects.filter(pk=gone.id).delete() == (1, {"Note": 1})
    assert list(Note.objects.values_list("text", flat=True)) == ["keep"]
    assert Note.all_objects.count() == 2
    assert Note.deleted_objects.get().id == gone.id
    assert keep.id != gone.id


def test_documents_changed_in_place_are_saved(lab):
    author = Author.objects.create(name="meta", meta={"plan": "free"})
    author.meta["plan"] = "pro"
    author.meta.setdefault("tags", []).append("new")
    lab.flush()
    lab.expire_all()
    assert Author.objects.get(pk=author.id).meta == {"plan": "pro", "tags": ["new"]}
    assert Author.objects.filter(meta__plan="pro").count() == 1


def test_database_generated_integer_keys_come_back_from_create_and_bulk_create(lab):
    first = Author.objects.create(name="one")
    assert isinstance(first.id, int)
    books = Book.objects.bulk_create([Book(title=f"t{i}", author=first) for i in range(3)])
    assert all(isinstance(b.id, int) for b in books)
    assert Book.objects.filter(author=first).count() == 3  # the key set through the relation was kept


def test_rows_hidden_with_their_soft_deleted_parent_by_a_concern_the_core_never_names(lab):
    kept, dropped = Note.objects.create(text="kept"), Note.objects.create(text="dropped")
    for note in (kept, dropped):
        Remark.objects.create(note_id=note.id, text=f"on {note.text}")
    Remark.objects.create(note_id=None, text="on nothing")
    dropped.delete()
    visible = sorted(Remark.objects.values_list("text", flat=True))
    assert visible == ["on kept", "on nothing"]  # a NULL reference stays visible
    assert Remark.objects.filter(text="on dropped").count() == 0
    assert Remark.all_objects.count() == 3
    dropped.restore()
    assert Remark.objects.count() == 3
