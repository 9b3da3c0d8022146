"""Port of Django's ``tests/bulk_create/tests.py`` onto the package.

Same data, same queries, same expected results. Django's ``ValueError`` for a misused
``bulk_create`` may be the package's ``ValidationError`` (a ``ValueError``); its
``IntegrityError`` is ``ConflictError``/``ValidationError``.

Not ported: query-count efficiency tests (``assertNumQueries``), multi-table inheritance
and proxy models, ``_state`` checks, SQLite/MySQL/Oracle limits
(``max_query_params``, ``supports_ignore_conflicts`` false), and ``db_default``/``Now()``
server defaults of Django 5.
"""

import pytest
from models_small import BulkBase as AppBase
from models_small import (
    Country,
    NoFields,
    NullableFields,
    Restaurant,
    TwoFields,
    UpsertConflict,
    UUIDChild,
    UUIDThing,
)
from port_base import IntegrityError, Refused

from assistant_models import FieldError

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def data(save):
    return [
        Country(name="United States of America", iso_two_letter="US"),
        Country(name="The Netherlands", iso_two_letter="NL"),
        Country(name="Germany", iso_two_letter="DE"),
        Country(name="Czech Republic", iso_two_letter="CZ"),
    ]


def test_simple(data):
    created = Country.objects.bulk_create(data)
    assert created == data
    assert [c.name for c in Country.objects.order_by("-name")] == [
        "United States of America",
        "The Netherlands",
        "Germany",
        "Czech Republic",
    ]
    assert Country.objects.bulk_create([]) == []
    assert Country.objects.count() == 4


def test_set_pk_and_insert_single_item(data):
    countries = Country.objects.bulk_create([data[0]])
    assert countries[0].pk is not None
    assert Country.objects.get(pk=countries[0].pk) == countries[0]


def test_database_generated_integer_keys_come_back(data):
    countries = Country.objects.bulk_create(data)
    ids = [c.id for c in countries]
    assert all(isinstance(i, int) for i in ids)
    assert sorted(Country.objects.values_list("id", flat=True)) == sorted(ids)


def test_uuid_keys_bulk_create(save):
    things = UUIDThing.objects.bulk_create([UUIDThing(name="a"), UUIDThing(name="b")])
    assert UUIDThing.objects.count() == 2
    assert {t.id for t in things} == set(UUIDThing.objects.values_list("id", flat=True))


def test_long_non_ascii_text(save):
    Country.objects.bulk_create([Country(description="Ж" * 3000)])
    assert Country.objects.count() == 1


def test_large_batch(save):
    TwoFields.objects.bulk_create([TwoFields(f1=i, f2=i + 1) for i in range(0, 1001)])
    assert TwoFields.objects.count() == 1001
    assert TwoFields.objects.filter(f1__gte=450, f1__lte=550).count() == 101
    assert TwoFields.objects.filter(f2__gte=901).count() == 101


def test_large_single_field_batch(save):
    Restaurant.objects.bulk_create([Restaurant() for _ in range(0, 501)])
    assert Restaurant.objects.count() == 501


def test_large_batch_mixed(save):
    """Some objects carry their key, others leave it to the database."""
    TwoFields.objects.bulk_create(
        [TwoFields(id=i if i % 2 == 0 else None, f1=i, f2=i + 1) for i in range(100000, 101000)]
    )
    assert TwoFields.objects.count() == 1000
    assert TwoFields.objects.filter(id__in=list(range(100000, 101000, 2))).count() == 500


def test_explicit_batch_size(save, db_session):
    objs = [TwoFields(f1=i, f2=i) for i in range(0, 4)]
    num_objs = len(objs)
    for batch_size in (1, 2, 3, num_objs):
        TwoFields.objects.bulk_create([TwoFields(f1=o.f1, f2=o.f2) for o in objs], batch_size=batch_size)
        assert TwoFields.objects.count() == num_objs
        TwoFields.objects.all().delete()


def test_empty_model(save):
    NoFields.objects.bulk_create([NoFields() for _ in range(2)])
    assert NoFields.objects.count() == 2


def test_bulk_insert_expressions(save):
    from assistant_models import Lower, Value

    Restaurant.objects.bulk_create(
        [Restaurant(name="Sam's Shake Shack"), Restaurant(name=Lower(Value("Betty's Beetroot Bar")))]
    )
    assert Restaurant.objects.filter(name="betty's beetroot bar").exists()


def test_bulk_insert_nullable_fields(save):
    NullableFields.objects.bulk_create([NullableFields(), NullableFields(integer_field=1, text_field="x")])
    assert NullableFields.objects.filter(integer_field__isnull=True).count() == 1


def test_invalid_batch_size_exception(save):
    with pytest.raises(Refused):
        Country.objects.bulk_create([], batch_size=-1)
    with pytest.raises(Refused):
        Country.objects.bulk_create([Country(name="x")], batch_size=-1)
    assert Country.objects.count() == 0


def test_zero_batch_size_is_refused(save):
    with pytest.raises(Refused):
        Country.objects.bulk_create([Country(name="x")], batch_size=0)


def test_ignore_conflicts_ignore(save, database):
    data = [TwoFields(f1=1, f2=1), TwoFields(f1=2, f2=2), TwoFields(f1=3, f2=3)]
    TwoFields.objects.bulk_create(data)
    assert TwoFields.objects.count() == 3
    conflicting_objects = [TwoFields(f1=2, f2=2), TwoFields(f1=3, f2=3)]
    TwoFields.objects.bulk_create([conflicting_objects[0]], ignore_conflicts=True)
    TwoFields.objects.bulk_create(conflicting_objects, ignore_conflicts=True)
    assert TwoFields.objects.count() == 3
    assert conflicting_objects[0].pk is None
    assert conflicting_objects[1].pk is None
    new_object = TwoFields(f1=4, f2=4)
    TwoFields.objects.bulk_create([*conflicting_objects, new_object], ignore_conflicts=True)
    assert TwoFields.objects.count() == 4
    assert new_object.pk is None
    with pytest.raises(IntegrityError), database.session():
        TwoFields.objects.bulk_create(conflicting_objects)


def test_conflict_without_ignore_raises_integrity_error(save, database):
    TwoFields.objects.bulk_create([TwoFields(f1=1, f2=1)])
    with pytest.raises(IntegrityError), database.session():
        TwoFields.objects.bulk_create([TwoFields(f1=1, f2=1)])


def test_nullable_fk_after_parent(save):
    parent = NoFields()
    child = NullableFields(auto_field=parent, integer_field=88)
    save(parent)
    NullableFields.objects.bulk_create([child])
    child = NullableFields.objects.get(integer_field=88)
    assert child.auto_field_id == parent.id


def test_nullable_fk_after_parent_bulk_create(save):
    parent = NoFields()
    child = NullableFields(auto_field=parent, integer_field=88)
    NoFields.objects.bulk_create([parent])
    NullableFields.objects.bulk_create([child])
    child = NullableFields.objects.get(integer_field=88)
    assert child.auto_field_id == parent.id


def test_unsaved_parent(save):
    parent = NoFields()
    with pytest.raises(Refused):
        NullableFields.objects.bulk_create([NullableFields(auto_field=parent)])


def test_update_conflicts_unique_field(save):
    UpsertConflict.objects.bulk_create(
        [
            UpsertConflict(number=1, rank=1, name="John"),
            UpsertConflict(number=2, rank=2, name="Mary"),
            UpsertConflict(number=3, rank=3, name="Hannah"),
        ]
    )
    assert UpsertConflict.objects.count() == 3
    conflicting_objects = [
        UpsertConflict(number=1, rank=4, name="Steve"),
        UpsertConflict(number=2, rank=2, name="Olivia"),
        UpsertConflict(number=3, rank=1, name="Hannah"),
    ]
    results = UpsertConflict.objects.bulk_create(
        conflicting_objects, update_conflicts=True, update_fields=["name", "rank"], unique_fields=["number"]
    )
    assert len(results) == len(conflicting_objects)
    assert all(r.pk is not None for r in results)
    assert UpsertConflict.objects.count() == 3
    assert list(UpsertConflict.objects.order_by("number").values("number", "rank", "name")) == [
        {"number": 1, "rank": 4, "name": "Steve"},
        {"number": 2, "rank": 2, "name": "Olivia"},
        {"number": 3, "rank": 1, "name": "Hannah"},
    ]
    results = UpsertConflict.objects.bulk_create(
        [*conflicting_objects, UpsertConflict(number=4, rank=4, name="Mark")],
        update_conflicts=True,
        update_fields=["name", "rank"],
        unique_fields=["number"],
    )
    assert len(results) == 4
    assert UpsertConflict.objects.count() == 4


def test_update_conflicts_invalid_update_fields(data):
    with pytest.raises(FieldError):
        Country.objects.bulk_create(
            data, update_conflicts=True, update_fields=["nonexistent"], unique_fields=["pk"]
        )


def test_update_conflicts_invalid_unique_fields(data):
    with pytest.raises(FieldError):
        Country.objects.bulk_create(
            data, update_conflicts=True, update_fields=["name"], unique_fields=["nonexistent"]
        )


def test_update_conflicts_unique_fields_required(save):
    with pytest.raises(Refused):
        TwoFields.objects.bulk_create([TwoFields(f1=1, f2=1)], update_conflicts=True, update_fields=["f1"])


def test_update_conflicts_no_update_fields(save):
    with pytest.raises(Refused):
        TwoFields.objects.bulk_create([TwoFields(f1=1, f2=1)], update_conflicts=True, unique_fields=["f1"])


def test_update_conflicts_pk_in_update_fields(data):
    with pytest.raises(Refused):
        Country.objects.bulk_create(data, update_conflicts=True, update_fields=["id"], unique_fields=["name"])


def test_ignore_update_conflicts_exclusive(data):
    with pytest.raises(Refused):
        Country.objects.bulk_create(data, ignore_conflicts=True, update_conflicts=True)


def test_foreign_key_set_through_the_relation_is_kept_with_uuid_keys(save):
    """Django's ``test_nullable_fk_after_parent`` on UUID keys, apart from integer key generation."""
    parent = save(UUIDThing(name="parent"))
    UUIDChild.objects.bulk_create([UUIDChild(parent=parent)])
    assert UUIDChild.objects.get().parent_id == parent.id


def test_foreign_key_set_through_a_bulk_created_parent_is_kept(save):
    """Django's ``test_nullable_fk_after_parent_bulk_create`` on UUID keys."""
    other = UUIDThing(name="other")
    child = UUIDChild(parent=other)
    UUIDThing.objects.bulk_create([other])
    UUIDChild.objects.bulk_create([child])
    assert UUIDChild.objects.get(pk=child.id).parent_id == other.id
