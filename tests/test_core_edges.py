"""Hard edges of the query core: bounds, secrets and half-read iterators fail cleanly."""

import pytest

from assistant_models import DatabaseError, FieldError, Q, ValidationError
from assistant_models.models import ApiKey, Task


def test_slices_past_a_bigint_are_refused_before_sql(db_session, statements):
    statements.clear()
    for bad in (
        lambda: Task.objects.all()[2**63 :],
        lambda: Task.objects.all()[: 2**63 + 5],
        lambda: Task.objects.all()[2**63],
    ):
        with pytest.raises(ValidationError, match=r"slice|index|offset"):
            list(bad())
    assert statements == []
    assert list(Task.objects.all()[2**62 :]) == []  # a big but valid offset is fine


def test_in_bulk_refuses_a_secret_field(db_session):
    with pytest.raises(FieldError, match="secret"):
        ApiKey.objects.in_bulk(field_name="key_hash")


def test_q_keywords_are_always_lookups(db_session):
    with pytest.raises(FieldError):
        Task.objects.filter(Q(**{"_negated": True, "_connector": "OR"}))


def test_a_half_read_iterator_fails_with_the_packages_error(db_session):
    Task.objects.bulk_create([Task(title=f"t{i}") for i in range(5)])
    rows = Task.objects.order_by("title").iterator(chunk_size=1)
    assert next(rows).title == "t0"
    db_session.connection().exec_driver_sql("CLOSE ALL")  # the server-side cursor goes away under it
    with pytest.raises(DatabaseError):
        list(rows)


def test_a_loaded_rows_key_version_and_server_times_cannot_be_reassigned(db_session):
    import uuid
    from datetime import UTC, datetime

    for field, value in (
        ("id", uuid.uuid4()),
        ("version", 7),
        ("created_at", datetime(2000, 1, 1, tzinfo=UTC)),
        ("updated_at", datetime(2000, 1, 1, tzinfo=UTC)),
    ):
        with db_session.begin_nested():
            task = Task.objects.enqueue(f"frozen {field}")
        with pytest.raises(ValidationError) as caught, db_session.begin_nested():
            setattr(task, field, value)
            db_session.flush()
        assert caught.value.fields == [field]
    with pytest.raises(ValidationError, match="version"):
        Task.objects.create(title="versioned", version=9)
    assert (
        Task.objects.create(title="dated", created_at=datetime(2020, 1, 1, tzinfo=UTC)).created_at.year
        == 2020
    )


def test_none_in_a_jsonb_column_is_sql_null_on_every_write_path(db_session):
    Task.objects.create(title="created")
    Task.objects.bulk_create([Task(title="copied")])
    updated = Task.objects.create(title="updated", results={"k": 1})
    Task.objects.filter(pk=updated.pk).update(results=None)
    Task.objects.create(title="kept", results={"k": 1})
    assert sorted(Task.objects.filter(results__isnull=True).values_list("title", flat=True)) == [
        "copied",
        "created",
        "updated",
    ]
    assert Task.objects.filter(results__k__isnull=True).count() == 3
    assert Task.objects.filter(results__k__isnull=False).count() == 1
