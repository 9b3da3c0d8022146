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
