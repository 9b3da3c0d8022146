"""Port of Django's ``tests/update/tests.py`` onto the package (``A``/``B`` are ``UpdateA``/``UpdateB``).

Same data, same queries, same expected results. Django's related managers
(``a1.b_set.update(...)``) become the equivalent filter (``UpdateB.objects.filter(a=a1)``).

Not ported: multi-table inheritance updates, ``update()`` ordering on MySQL, the
``Foo``/``Bar`` ``to_field`` tests, and the checks of Django's error texts for
``update()`` of an annotated field on other back ends.
"""

import contextlib
from types import SimpleNamespace

import pytest
from models_small import DataPoint, RelatedPoint
from models_small import UpdateA as A
from models_small import UpdateB as B
from models_small import UpdateBase as AppBase
from port_base import Refused

from assistant_models import Count, F, FieldError, Max

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def simple(save):
    """Django's ``SimpleTest.setUpTestData``."""
    a1, a2 = save(A(), A())
    save(*[B(a=a1) for _ in range(20)])
    return SimpleNamespace(a1=a1, a2=a2)


def test_nonempty_update(simple):
    assert B.objects.filter(a=simple.a1).update(y=100) == 20
    assert B.objects.filter(y=100).count() == 20


def test_nonempty_update_by_key_column(simple):
    assert B.objects.filter(a_id=simple.a1.id).update(y=100) == 20
    assert B.objects.filter(y=100).count() == 20


def test_empty_update(simple):
    assert B.objects.filter(a_id=simple.a2.id).update(y=100) == 0
    assert B.objects.filter(y=100).count() == 0


def test_foreign_key_update_with_an_object(simple):
    assert B.objects.filter(a_id=simple.a1.id).update(a=simple.a2) == 20
    assert B.objects.filter(a_id=simple.a2.id).count() == 20


def test_foreign_key_update_with_an_id(simple):
    assert B.objects.filter(a_id=simple.a1.id).update(a_id=simple.a2.id) == 20
    assert B.objects.filter(a_id=simple.a2.id).count() == 20


@pytest.fixture
def adv(save):
    """Django's ``AdvancedTests.setUpTestData``."""
    d0 = save(DataPoint(name="d0", value="apple"))
    d2 = save(DataPoint(name="d2", value="banana"))
    d3 = save(DataPoint(name="d3", value="banana", is_active=False))
    r1 = save(RelatedPoint(name="r1", data=d3))
    return SimpleNamespace(d0=d0, d2=d2, d3=d3, r1=r1)


def test_update(adv):
    assert DataPoint.objects.filter(value="apple").update(name="d1") == 1
    [d] = list(DataPoint.objects.filter(value="apple"))
    assert d.name == "d1"


def test_update_multiple_objects(adv):
    assert DataPoint.objects.filter(value="banana").update(value="pineapple") == 2
    assert DataPoint.objects.get(name="d2").value == "pineapple"


def test_update_fk(adv):
    assert RelatedPoint.objects.filter(name="r1").update(data=adv.d0) == 1
    assert list(RelatedPoint.objects.filter(data__name="d0")) == [adv.r1]


def test_update_multiple_fields(adv):
    assert (
        DataPoint.objects.filter(value="apple", name="d0").update(value="fruit", another_value="peach") == 1
    )
    d = DataPoint.objects.get(name="d0")
    assert (d.value, d.another_value) == ("fruit", "peach")


def test_update_all(adv):
    assert DataPoint.objects.update(value="thing") == 3
    assert DataPoint.objects.filter(value="thing").count() == 3


def test_update_slice_fail(adv):
    """A sliced update is refused: Django never updates rows outside the slice."""
    with pytest.raises(Refused):
        DataPoint.objects.all()[:2].update(another_value="another thing")


def test_update_of_an_ordered_slice_does_not_touch_other_rows(adv):
    with contextlib.suppress(Refused):
        DataPoint.objects.order_by("name")[:2].update(another_value="x")
    assert DataPoint.objects.filter(another_value="x").count() <= 2


def test_update_of_a_reverse_relation_is_refused(adv):
    with pytest.raises(FieldError):
        DataPoint.objects.update(relatedpoint="whatever")


def test_update_of_an_unknown_field_is_refused(adv):
    with pytest.raises(FieldError):
        DataPoint.objects.update(nonexistent="x")


def test_update_annotated_queryset(adv):
    qs = DataPoint.objects.annotate(max=Max("value"))
    assert qs.update(another_value="foo") == 3
    qs = DataPoint.objects.annotate(alias=F("value"))
    assert qs.update(another_value=F("alias")) == 3
    assert sorted(DataPoint.objects.values_list("another_value", flat=True)) == ["apple", "banana", "banana"]


def test_update_annotated_multi_table_queryset(adv):
    qs = DataPoint.objects.annotate(related_count=Count("relatedpoint"))
    assert qs.update(value="Foo") == 3
    qs = DataPoint.objects.annotate(related_count=Count("relatedpoint"))
    assert qs.filter(related_count=1).update(value="Foo") == 1


def test_update_with_joined_field_annotation_is_refused(adv):
    with pytest.raises(FieldError):
        DataPoint.objects.annotate(related_field=F("relatedpoint__name")).update(value=F("related_field"))


def test_update_with_f_over_a_relation_is_refused(adv):
    with pytest.raises(FieldError):
        RelatedPoint.objects.update(name=F("data__name"))


def test_update_with_f_over_a_relation_leaves_rows_alone_when_refused(adv, database):
    with contextlib.suppress(FieldError), database.session():
        RelatedPoint.objects.update(name=F("data__name"))
    assert RelatedPoint.objects.get(pk=adv.r1.id).name == "r1"


def test_update_filtered_across_a_relation(adv):
    assert RelatedPoint.objects.filter(data__value="banana").update(name="ripe") == 1
    assert RelatedPoint.objects.get(pk=adv.r1.id).name == "ripe"


def test_update_negated_f(adv):
    assert DataPoint.objects.update(is_active=~F("is_active")) == 3
    assert list(DataPoint.objects.filter(is_active=True)) == [adv.d3]
    assert DataPoint.objects.update(is_active=~~F("is_active")) == 3
    assert list(DataPoint.objects.filter(is_active=True)) == [adv.d3]


def test_update_with_f_arithmetic_on_the_same_row(simple):
    B.objects.filter(a_id=simple.a1.id).update(y=F("y") + 1)
    assert set(B.objects.values_list("y", flat=True)) == {2}


def test_update_returns_zero_on_none(simple):
    assert B.objects.none().update(y=5) == 0


def test_update_of_a_distinct_queryset(adv):
    assert DataPoint.objects.distinct().update(another_value="d") == 3


def test_update_of_a_many_valued_filter_counts_each_row_once(adv, save):
    save(RelatedPoint(name="r2", data=adv.d3))
    assert DataPoint.objects.filter(relatedpoint__name__startswith="r").update(another_value="hit") == 1
