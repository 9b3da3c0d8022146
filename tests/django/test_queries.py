"""Port of Django's ``tests/queries/tests.py`` (Queries1Tests and neighbours) onto the package.

Same data, same queries, same expected results. Differences on purpose:
datetimes are UTC-aware; data is written through the session; Django's
``qs1 | qs2`` / ``qs1 & qs2`` keep their operators.

Not ported: ``extra()``, ``RawSQL`` and ``query.__str__`` inspections (Django's SQL
compiler internals: join types, alias counts, ``query.where`` contents), pickling of
querysets, ``datetimes()``/``dates()``, tests about other back ends' limits, and the
tests that need Django-only models (multi-table inheritance, generic relations).
"""

from types import SimpleNamespace

import pytest
from models_queries import (
    Author,
    Cover,
    ExtraInfo,
    Item,
    NamedCategory,
    Note,
    Number,
    Ranking,
    Report,
    Tag,
)
from models_queries import Base as AppBase
from port_base import Refused, names, utc

from assistant_models import Count, F, FieldError, Q

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def d(save):
    """Django's ``Queries1Tests.setUpTestData``."""
    generic = save(NamedCategory(name="Generic"))
    t1 = save(Tag(name="t1", category=generic))
    t2 = save(Tag(name="t2", parent=t1, category=generic))
    t3 = save(Tag(name="t3", parent=t1))
    t4 = save(Tag(name="t4", parent=t3))
    t5 = save(Tag(name="t5", parent=t3))
    n1 = save(Note(note="n1", misc="foo"))
    n2 = save(Note(note="n2", misc="bar"))
    n3 = save(Note(note="n3", misc="foo", negate=False))
    e2 = save(ExtraInfo(info="e2", note=n2, value=41, filterable=False))
    e1 = save(ExtraInfo(info="e1", note=n1, value=42))
    a1 = save(Author(name="a1", num=1001, extra=e1))
    a2 = save(Author(name="a2", num=2002, extra=e1))
    a3 = save(Author(name="a3", num=3003, extra=e2))
    a4 = save(Author(name="a4", num=4004, extra=e2))
    time1, time2 = utc(2007, 12, 19, 22, 25, 0), utc(2007, 12, 19, 21, 0, 0)
    time3, time4 = utc(2007, 12, 20, 22, 25, 0), utc(2007, 12, 20, 21, 0, 0)
    i1 = Item(name="one", created=time1, modified=time1, creator=a1, note=n3)
    i1.tags.extend([t1, t2])
    i2 = Item(name="two", created=time2, creator=a2, note=n2)
    i2.tags.extend([t1, t3])
    i3 = Item(name="three", created=time3, creator=a2, note=n3)
    i4 = Item(name="four", created=time4, creator=a4, note=n3)
    i4.tags.append(t4)
    save(i1, i2, i3, i4)
    r1 = save(Report(name="r1", creator=a1))
    r2 = save(Report(name="r2", creator=a3))
    r3 = save(Report(name="r3"))
    rank1 = save(Ranking(rank=2, author=a2))
    rank2 = save(Ranking(rank=1, author=a3))
    rank3 = save(Ranking(rank=3, author=a1))
    c1 = save(Cover(title="first", item=i4))
    c2 = save(Cover(title="second", item=i2))
    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "save"})


def test_default_orderings_hold(d):
    assert list(Item.objects.all()) == [d.i4, d.i1, d.i3, d.i2]
    assert list(Tag.objects.all()) == [d.t1, d.t2, d.t3, d.t4, d.t5]
    assert list(Ranking.objects.all()) == [d.rank2, d.rank1, d.rank3]
    assert list(Cover.objects.all()) == [d.c1, d.c2]


def test_subquery_condition(d):
    qs1 = Tag.objects.filter(pk__lte=0)
    qs2 = Tag.objects.filter(parent__in=qs1)
    qs3 = Tag.objects.filter(parent__in=qs2)
    assert list(qs3) == []


def test_ticket1050_isnull_across_many_to_many(d):
    assert list(Item.objects.filter(tags__isnull=True)) == [d.i3]
    assert list(Item.objects.filter(tags__id__isnull=True)) == [d.i3]


def test_ticket1801_reverse_foreign_key_by_object(d):
    assert list(Author.objects.filter(item=d.i2)) == [d.a2]
    assert list(Author.objects.filter(item=d.i3)) == [d.a2]
    assert list(Author.objects.filter(item=d.i2) & Author.objects.filter(item=d.i3)) == [d.a2]


def test_ticket2306_each_filter_call_joins_a_multi_valued_relation_anew(d):
    assert list(Item.objects.filter(Q(tags=d.t1)).order_by("name")) == [d.i1, d.i2]
    assert list(Item.objects.filter(Q(tags=d.t1)).filter(Q(tags=d.t2))) == [d.i1]
    assert list(Item.objects.filter(Q(tags=d.t1)).filter(Q(creator__name="fred") | Q(tags=d.t2))) == [d.i1]
    # One filter() call looks for a single tag that is two things at once.
    assert list(Item.objects.filter(Q(tags=d.t1) & Q(tags=d.t2))) == []
    assert list(Item.objects.filter(Q(tags=d.t1), Q(creator__name="fred") | Q(tags=d.t2))) == []


def test_ticket2306_same_row_versus_separate_joins_by_id(d):
    assert list(Item.objects.filter(tags__id=d.t1.id).filter(tags__id=d.t2.id)) == [d.i1]
    assert list(Item.objects.filter(tags__id=d.t1.id, tags__name="t2")) == []
    assert list(Author.objects.filter(ranking__rank=2, ranking__id=d.rank1.id)) == [d.a2]
    assert list(Author.objects.filter(ranking__rank=2).filter(ranking__id=d.rank1.id)) == [d.a2]


def test_ticket4464_many_to_many_filter_chains(d):
    assert list(Item.objects.filter(tags=d.t1).filter(tags=d.t2)) == [d.i1]
    assert list(Item.objects.filter(tags__in=[d.t1, d.t2]).distinct().order_by("name")) == [d.i1, d.i2]
    assert list(Item.objects.filter(tags__in=[d.t1, d.t2]).filter(tags=d.t3)) == [d.i2]


def test_ticket4464_many_valued_joins_return_duplicates(d):
    assert list(Item.objects.filter(tags__in=[d.t1, d.t2]).order_by("name")[:3]) == [d.i1, d.i1, d.i2]
    assert list(Item.objects.filter(tags__in=[d.t1, d.t2]).distinct().order_by("name")[:3]) == [d.i1, d.i2]


def test_count_agrees_with_len_across_a_many_valued_join(d):
    qs = Item.objects.filter(tags__in=[d.t1, d.t2])
    assert qs.count() == 3
    assert len(list(qs)) == 3
    assert qs.distinct().count() == 2


def test_tickets_2080_3592_or_across_relations(d):
    assert list(Author.objects.filter(item__name="one") | Author.objects.filter(name="a3")) == [d.a1, d.a3]
    assert list(Author.objects.filter(Q(item__name="one") | Q(name="a3"))) == [d.a1, d.a3]
    assert list(Author.objects.filter(Q(name="a3") | Q(item__name="one"))) == [d.a1, d.a3]
    assert list(Author.objects.filter(Q(item__name="three") | Q(report__name="r3"))) == [d.a2]


def test_ticket6074_empty_in_inside_q(d):
    assert list(Author.objects.filter(Q(id__in=[]))) == []
    assert list(Author.objects.filter(Q(id__in=[]) | Q(id__in=[]))) == []


def test_count_agrees_with_len_across_a_many_valued_join_by_id(d):
    qs = Item.objects.filter(tags__id__in=[d.t1.id, d.t2.id])
    assert qs.count() == 3
    assert len(list(qs)) == 3


def test_many_valued_join_by_id_returns_a_row_per_match(d):
    assert [i.name for i in Item.objects.filter(tags__id__in=[d.t1.id, d.t2.id]).order_by("name")] == [
        "one",
        "one",
        "two",
    ]


def test_exclude_across_a_many_to_many_by_name_drops_items_with_any_match(d):
    assert sorted(i.name for i in Item.objects.exclude(tags__name="t1")) == ["four", "three"]


def test_tickets_1878_2939_distinct_values_count(d, save):
    assert Item.objects.values("creator").distinct().count() == 3
    save(Item(name="four", created=d.time1, creator=d.a2, note=d.n1))
    assert Item.objects.exclude(name="two").values("creator", "name").distinct().count() == 4


def test_ticket7323_values_count(d):
    assert Item.objects.values("creator", "name").count() == 4


def test_ticket2253_or_and_of_querysets(d):
    q1 = Item.objects.order_by("name")
    q2 = Item.objects.filter(id=d.i1.id)
    assert list(q1) == [d.i4, d.i1, d.i3, d.i2]
    assert list(q2) == [d.i1]
    assert list((q1 | q2).order_by("name")) == [d.i4, d.i1, d.i3, d.i2]
    assert list((q1 & q2).order_by("name")) == [d.i1]
    q1 = Item.objects.filter(tags=d.t1)
    q2 = Item.objects.filter(note=d.n3, tags=d.t2)
    q3 = Item.objects.filter(creator=d.a4)
    assert list(((q1 & q2) | q3).order_by("name")) == [d.i4, d.i1]


def test_ticket4289_or_of_empty_conditions(d, save):
    save(Number(num=5))
    assert list(Number.objects.filter(num__lt=4)) == []
    assert list(Number.objects.filter(num__gt=8, num__lt=12)) == []
    assert list(Number.objects.filter(num__gt=8, num__lt=13)) == []
    assert list(Number.objects.filter(Q(num__lt=4) | Q(num__gt=8, num__lt=12))) == []
    assert list(Number.objects.filter(Q(num__gt=8, num__lt=12) | Q(num__lt=4))) == []
    assert list(Number.objects.filter(Q(num__gt=7) & Q(num__lt=12) | Q(num__lt=4))) == []


def test_ticket7096_exclude_of_several_conditions(d):
    assert list(Tag.objects.filter(parent=d.t1, name="t3").order_by("name")) == [d.t3]
    assert list(Tag.objects.exclude(parent=d.t1, name="t3").order_by("name")) == [d.t1, d.t2, d.t4, d.t5]
    assert list(Item.objects.exclude(tags__name="t1", name="one").order_by("name").distinct()) == [
        d.i4,
        d.i3,
        d.i2,
    ]
    assert list(
        Item.objects.filter(name__in=["three", "four"]).exclude(tags__name="t1").order_by("name")
    ) == [
        d.i4,
        d.i3,
    ]


def test_ticket7096_nested_negations(d):
    assert list(Item.objects.exclude(~Q(tags__name="t1", name="one"))) == [d.i1]
    assert list(Item.objects.filter(~Q(tags__name="t1", name="one"), name="two")) == [d.i2]
    qs = Item.objects.exclude(~Q(tags__name="t1", name="one"), name="two")
    assert sorted(qs, key=lambda i: i.id) == [d.i1, d.i3, d.i4]


def test_ticket7076_exclude_keeps_null_rows(d):
    assert list(Item.objects.exclude(modified=d.time1).order_by("name")) == [d.i4, d.i3, d.i2]
    assert list(Tag.objects.exclude(parent__name=d.t1.name)) == [d.t1, d.t4, d.t5]


def test_ticket7181_none_combined_with_querysets(d):
    assert len(list(Tag.objects.order_by("parent__name"))) == 5
    assert list(Note.objects.none() | Note.objects.all()) == [d.n1, d.n2, d.n3]
    assert list(Note.objects.all() | Note.objects.none()) == [d.n1, d.n2, d.n3]
    assert list(Note.objects.none() & Note.objects.all()) == []
    assert list(Note.objects.all() & Note.objects.none()) == []


def test_ticket8439_or_across_nested_relations(d):
    qs = Author.objects.filter(Q(item__note__extrainfo=d.e2) | Q(report=d.r1, name="xyz"))
    assert list(qs) == [d.a2]
    qs = Author.objects.filter(Q(report=d.r1, name="xyz") | Q(item__note__extrainfo=d.e2))
    assert list(qs) == [d.a2]


def test_ticket10205_update_of_an_empty_in(d):
    assert Tag.objects.filter(name__in=()).update(name="foo") == 0


def test_ticket10432_in_with_a_generator(d):
    def gen():
        yield from (d.a1.pk, d.a2.pk)

    assert list(Author.objects.filter(pk__in=gen())) == [d.a1, d.a2]


def test_ticket10742_queryset_as_in_value(d):
    subq = Author.objects.filter(num__lt=3000)
    assert list(Author.objects.filter(pk__in=subq)) == [d.a1, d.a2]
    assert list(Author.objects.exclude(pk__in=subq)) == [d.a3, d.a4]
    assert list(Author.objects.filter(pk__in=subq) & Author.objects.filter(name="a1")) == [d.a1]


def test_ticket9997_values_queryset_as_in_value(d):
    qs = Tag.objects.filter(name__in=Tag.objects.filter(parent=d.t1).values("name"))
    assert list(qs) == [d.t2, d.t3]
    with pytest.raises(Refused):
        list(Tag.objects.filter(name__in=Tag.objects.filter(parent=d.t1).values("name", "id")))


def test_ticket9985_values_list_flat_as_in_value(d):
    qs = Note.objects.filter(pk__in=ExtraInfo.objects.values_list("note__id", flat=True))
    assert list(qs) == [d.n1, d.n2]


def test_ticket6981_select_related_keeps_results(d):
    assert list(Tag.objects.select_related("parent").order_by("name")) == [d.t1, d.t2, d.t3, d.t4, d.t5]


def test_ticket9926_select_related_of_two_relations(d):
    assert list(Tag.objects.select_related("parent", "category").order_by("name")) == [
        d.t1,
        d.t2,
        d.t3,
        d.t4,
        d.t5,
    ]
    assert list(Tag.objects.select_related("parent", "parent__category").order_by("name")) == [
        d.t1,
        d.t2,
        d.t3,
        d.t4,
        d.t5,
    ]


def test_tickets_6180_6203_basic_counts(d):
    assert Item.objects.count() == 4
    assert Item.objects.filter(tags__isnull=True).count() == 1


def test_ticket7235_none_behaves_on_every_method(d):
    q = Item.objects.none()
    assert list(q.filter()) == []
    assert list(q.exclude()) == []
    assert list(q.filter(name="x")) == []
    assert q.count() == 0
    assert list(q.order_by("name")) == []
    assert list(q.distinct()) == []
    assert list(q.select_related("creator")) == []
    assert list(q.annotate(Count("tags"))) == []
    assert list(q.values()) == []
    assert list(q.values_list()) == []


def test_exclude_equals_filter_of_negation(d):
    assert list(Item.objects.exclude(tags__name="t4")) == [d.i1, d.i3, d.i2]
    assert list(Item.objects.filter(~Q(tags__name="t4"))) == [d.i1, d.i3, d.i2]
    assert list(Item.objects.exclude(Q(tags__name="t4") | Q(tags__name="t3"))) == [d.i1, d.i3]
    assert list(Item.objects.filter(~(Q(tags__name="t4") | Q(tags__name="t3")))) == [d.i1, d.i3]


def test_exclude_of_or_with_a_negation(d):
    # exclude(t4 or not t3): keep items that are not t4 and do have t3.
    assert list(Item.objects.exclude(Q(tags__name="t4") | ~Q(tags__name="t3"))) == [d.i2]


def test_nested_exclude(d):
    assert list(Item.objects.exclude(~Q(tags__name="t4"))) == [d.i4]


def test_double_exclude(d):
    assert list(Item.objects.filter(Q(tags__name="t4"))) == [d.i4]
    assert list(Item.objects.filter(~~Q(tags__name="t4"))) == [d.i4]


def test_exclude_in(d):
    assert list(Item.objects.exclude(Q(tags__name__in=["t4", "t3"]))) == [d.i1, d.i3]
    assert list(Item.objects.filter(~Q(tags__name__in=["t4", "t3"]))) == [d.i1, d.i3]


def test_ticket_10790_isnull_on_self_referencing_relations(d):
    assert list(Tag.objects.filter(parent__isnull=True)) == [d.t1]
    assert list(Tag.objects.filter(parent__isnull=False)) == [d.t2, d.t3, d.t4, d.t5]
    assert list(Tag.objects.exclude(parent__isnull=True)) == [d.t2, d.t3, d.t4, d.t5]
    assert list(Tag.objects.exclude(parent__isnull=False)) == [d.t1]
    assert list(Tag.objects.exclude(parent__parent__isnull=False)) == [d.t1, d.t2, d.t3]
    assert list(Tag.objects.filter(parent__parent__isnull=False)) == [d.t4, d.t5]


def test_ticket3037_or_of_two_conjunctions_across_a_relation(d):
    qs = Item.objects.filter(Q(creator__name="a3", name="two") | Q(creator__name="a4", name="four"))
    assert list(qs) == [d.i4]


def test_tickets_5321_7070_distinct_values_with_ordering(d):
    assert list(Note.objects.values("misc").distinct().order_by("note", "-misc")) == [
        {"misc": "foo"},
        {"misc": "bar"},
        {"misc": "foo"},
    ]


def test_ticket4358_values_of_a_foreign_key_column_and_its_relation_name(d):
    assert "note_id" in next(iter(ExtraInfo.objects.values()))
    assert list(ExtraInfo.objects.values("note_id")) == [{"note_id": d.n1.id}, {"note_id": d.n2.id}]
    assert list(ExtraInfo.objects.values("note")) == [{"note": d.n1.id}, {"note": d.n2.id}]


def test_ticket2400_reverse_isnull(d):
    assert list(Author.objects.filter(item__isnull=True)) == [d.a3]
    assert list(Tag.objects.filter(item__isnull=True)) == [d.t5]


def test_filter_by_a_dictionary_is_refused(d):
    with pytest.raises((TypeError, FieldError)):
        list(Note.objects.filter({"note": "n1", "misc": "foo"}))


def test_tickets_2076_7256_ordering_across_relations(d):
    assert list(Item.objects.order_by("note__note", "name")) == [d.i2, d.i4, d.i1, d.i3]
    # Ordering by a relation follows the related model's default ordering.
    assert list(Item.objects.order_by("creator", "name")) == [d.i1, d.i3, d.i2, d.i4]
    assert list(Item.objects.order_by("creator__name", "name")) == [d.i1, d.i3, d.i2, d.i4]


def test_tickets_2874_3002_select_related_with_ordering(d):
    assert list(Item.objects.select_related().order_by("note__note", "name")) == [d.i2, d.i4, d.i1, d.i3]


def test_ticket6154_or_across_relations_after_a_filter(d):
    assert list(Author.objects.filter(id=d.a1.id).filter(Q(extra__note=d.n1) | Q(item__note=d.n3))) == [d.a1]
    assert list(Author.objects.filter(Q(extra__note=d.n1) | Q(item__note=d.n3)).filter(id=d.a1.id)) == [d.a1]


def test_ticket4510_reverse_foreign_key_lookup(d):
    assert list(Author.objects.filter(report__name="r1")) == [d.a1]


def test_tickets_5324_6704_exclude_across_many_to_many(d):
    assert list(Item.objects.filter(tags__name="t4")) == [d.i4]
    assert list(Item.objects.exclude(tags__name="t4").order_by("name").distinct()) == [d.i1, d.i3, d.i2]
    assert list(Item.objects.exclude(tags__name="t4").order_by("name").distinct().reverse()) == [
        d.i2,
        d.i3,
        d.i1,
    ]
    assert list(Author.objects.exclude(item__name="one").distinct().order_by("name")) == [d.a2, d.a3, d.a4]


def test_tickets_5324_6704_exclude_drops_rows_with_any_matching_related_row(d):
    assert list(Item.objects.exclude(tags__name="t1").order_by("name")) == [d.i4, d.i3]
    assert list(Item.objects.exclude(tags__name="t1").exclude(tags__name="t4")) == [d.i3]


def test_tickets_5324_6704_nullable_foreign_key_excludes(d):
    assert list(Tag.objects.filter(parent__isnull=True).order_by("name")) == [d.t1]
    assert list(Tag.objects.exclude(parent__isnull=True).order_by("name")) == [d.t2, d.t3, d.t4, d.t5]
    assert list(Tag.objects.exclude(Q(parent__name="t1") | Q(parent__isnull=True)).order_by("name")) == [
        d.t4,
        d.t5,
    ]
    assert list(Tag.objects.exclude(Q(parent__isnull=True) | Q(parent__name="t1")).order_by("name")) == [
        d.t4,
        d.t5,
    ]
    assert list(Tag.objects.exclude(Q(parent__parent__isnull=True)).order_by("name")) == [d.t4, d.t5]
    assert list(Tag.objects.filter(~Q(parent__parent__isnull=True)).order_by("name")) == [d.t4, d.t5]


def test_ticket2091_in_with_model_instances(d):
    assert list(Item.objects.filter(tags__in=[d.t4])) == [d.i4]


def test_in_with_a_queryset_of_model_instances(d):
    assert list(Item.objects.filter(tags__in=Tag.objects.filter(name="t4"))) == [d.i4]


def test_avoid_double_counting_with_reverse_fk_and_many_to_many(d):
    assert Author.objects.filter(item__tags__name="t1").count() == 2
    assert Author.objects.filter(item__tags__name="t1").distinct().count() == 2


def test_slicing_then_filtering_is_refused(d):
    with pytest.raises(Refused):
        Item.objects.all()[0:2].filter(name="one")


def test_slicing_cannot_be_negative(d):
    with pytest.raises(Refused):
        Item.objects.all()[-1]
    with pytest.raises(Refused):
        Item.objects.all()[0:-5]


def test_slicing_with_steps_is_not_supported_but_indexing_is(d):
    assert Item.objects.all()[0] == d.i4
    assert list(Item.objects.all()[1:3]) == [d.i1, d.i3]


def test_ticket7045_distinct_order_by_related(d):
    assert len(list(Note.objects.order_by("extrainfo__info").distinct())) == 3


def test_ticket7791_distinct_on_values(d):
    assert len(list(Item.objects.order_by("creator").values("creator").distinct())) == 3


def test_ticket12239_float_in_integer_lookups(d, save):
    for num in (1, 2, 3, 4, 5):
        save(Number(num=num))
    assert sorted(n.num for n in Number.objects.filter(num__gt=2.0)) == [3, 4, 5]
    assert sorted(n.num for n in Number.objects.filter(num__lt=3.0)) == [1, 2]
    assert sorted(n.num for n in Number.objects.filter(num__in=[1, 3])) == [1, 3]


def test_exclude_nullable_fields_with_f(save):
    number = save(Number(num=1, other_num=1))
    save(Number(num=2, other_num=2, another_num=2))
    assert list(Number.objects.exclude(other_num=F("another_num"))) == [number]
    assert list(Number.objects.exclude(num=F("another_num"))) == [number]


def test_filter_with_f_on_same_row(save):
    n1 = save(Number(num=1, other_num=1))
    save(Number(num=2, other_num=3))
    assert list(Number.objects.filter(num=F("other_num"))) == [n1]
    assert [n.num for n in Number.objects.filter(other_num__gt=F("num"))] == [2]


def test_distinct_ordered_sliced_subquery(d):
    qs = Tag.objects.filter(pk__in=Tag.objects.order_by("-name").values_list("pk", flat=True)[:2])
    assert names(qs) == ["t4", "t5"]


def test_values_then_filter_and_order(d):
    qs = Item.objects.values("name").filter(creator__name="a2").order_by("name")
    assert list(qs) == [{"name": "three"}, {"name": "two"}]


def test_values_list_of_a_related_field_ordered(d):
    qs = Item.objects.values_list("creator__name", flat=True).order_by("creator__name", "name")
    assert list(qs) == ["a1", "a2", "a2", "a4"]


def test_contains_checks_membership_in_the_database(d):
    assert Item.objects.contains(d.i1)
    assert not Item.objects.filter(name="two").contains(d.i1)


def test_exists_of_a_filter_and_of_an_empty_queryset(d):
    assert Item.objects.filter(name="one").exists()
    assert not Item.objects.filter(name="nope").exists()
    assert not Item.objects.none().exists()


def test_union_intersection_difference(save):
    for num in range(10):
        save(Number(num=num, other_num=10 - num))
    qs1 = Number.objects.filter(num__lte=1)
    qs2 = Number.objects.filter(num__gte=2, num__lte=3)
    assert sorted(n.num for n in qs1.union(qs2)) == [0, 1, 2, 3]
    qs3 = Number.objects.filter(num__lte=5)
    qs4 = Number.objects.filter(num__gte=4)
    assert sorted(n.num for n in qs3.intersection(qs4)) == [4, 5]
    assert sorted(n.num for n in qs3.difference(qs4)) == [0, 1, 2, 3]


def test_union_all_keeps_duplicates_and_orders(save):
    for num in range(10):
        save(Number(num=num, other_num=10 - num))
    qs1 = Number.objects.filter(num__lte=1)
    assert len(list(qs1.union(qs1, all=True))) == 4
    assert [n.num for n in qs1.union(qs1).order_by("-num")] == [1, 0]


def test_union_of_values_lists(save):
    for num in range(10):
        save(Number(num=num, other_num=10 - num))
    qs1 = Number.objects.filter(num=1).values_list("num", flat=True)
    qs2 = Number.objects.filter(num=2).values_list("num", flat=True)
    assert sorted(qs1.union(qs2)) == [1, 2]


def test_distinct_on_fields(d):
    qs = Item.objects.order_by("creator_id", "name").distinct("creator_id")
    assert names(qs) == ["one", "three", "four"]


def test_defer_and_only_keep_results(d):
    assert names(Item.objects.defer("created").order_by("name")) == ["four", "one", "three", "two"]
    assert names(Item.objects.only("name").order_by("name")) == ["four", "one", "three", "two"]


def test_prefetch_related_keeps_results(d):
    items = list(Item.objects.prefetch_related("tags").order_by("name"))
    assert [sorted(t.name for t in i.tags) for i in items] == [["t4"], ["t1", "t2"], [], ["t1", "t3"]]


def test_latest_and_earliest(d):
    assert Item.objects.latest("created") == d.i3
    assert Item.objects.earliest("created") == d.i2


def test_first_and_last_follow_the_default_ordering(d):
    assert Item.objects.first() == d.i4
    assert Item.objects.last() == d.i2


def test_order_by_random_returns_every_row(d):
    assert sorted(names(Item.objects.order_by("?"))) == ["four", "one", "three", "two"]


def test_chained_values_then_annotate(d):
    qs = Item.objects.values("creator__name").annotate(n=Count("id")).order_by("creator__name")
    assert list(qs) == [
        {"creator__name": "a1", "n": 1},
        {"creator__name": "a2", "n": 2},
        {"creator__name": "a4", "n": 1},
    ]
