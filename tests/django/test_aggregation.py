"""Port of Django's ``tests/aggregation/tests.py`` (AggregateTestCase) onto the package.

Same data, same queries, same expected results (Django's ``Approximate`` becomes
``pytest.approx``). Datetimes are UTC-aware.

Not ported: ``dates()``/``datetimes()`` with aggregation, ``extra()`` and ``RawSQL``
cases, query-count and SQL-text inspections (``CaptureQueriesContext`` on GROUP BY
contents), MySQL/Oracle/SQLite-only tests, and the tests of custom aggregate classes
(``as_sql`` overrides are Django compiler internals).
"""

from datetime import date, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from models_aggregation import Author, Book, Publisher, Store
from models_aggregation import Base as AppBase
from port_base import Refused, utc

from assistant_models import Avg, Count, F, FieldError, Max, Min, Q, Sum

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def d(save):
    """Django's ``AggregateTestCase.setUpTestData``."""
    people = [
        ("Adrian Holovaty", 34),
        ("Jacob Kaplan-Moss", 35),
        ("Brad Dayley", 45),
        ("James Bennett", 29),
        ("Jeffrey Forcier", 37),
        ("Paul Bissex", 29),
        ("Wesley J. Chun", 25),
        ("Peter Norvig", 57),
        ("Stuart Russell", 46),
    ]
    a1, a2, a3, a4, a5, a6, a7, a8, a9 = (save(Author(name=n, age=age)) for n, age in people)
    a1.friends.extend([a2, a4])
    a2.friends.extend([a1, a7])
    a4.friends.append(a1)
    a5.friends.extend([a6, a7])
    a6.friends.extend([a5, a7])
    a7.friends.extend([a2, a5, a6])
    a8.friends.append(a9)
    a9.friends.append(a8)
    save(a1)
    p1 = save(Publisher(name="Apress", num_awards=3, duration=timedelta(days=1)))
    p2 = save(Publisher(name="Sams", num_awards=1, duration=timedelta(days=2)))
    p3 = save(Publisher(name="Prentice Hall", num_awards=7))
    p4 = save(Publisher(name="Morgan Kaufmann", num_awards=9))
    p5 = save(Publisher(name="Jonno's House of Books", num_awards=0))
    b1 = Book(
        isbn="159059725",
        name="The Definitive Guide to Django: Web Development Done Right",
        pages=447,
        rating=4.5,
        price=Decimal("30.00"),
        contact=a1,
        publisher=p1,
        pubdate=date(2007, 12, 6),
    )
    b2 = Book(
        isbn="067232959",
        name="Sams Teach Yourself Django in 24 Hours",
        pages=528,
        rating=3.0,
        price=Decimal("23.09"),
        contact=a3,
        publisher=p2,
        pubdate=date(2008, 3, 3),
    )
    b3 = Book(
        isbn="159059996",
        name="Practical Django Projects",
        pages=300,
        rating=4.0,
        price=Decimal("29.69"),
        contact=a4,
        publisher=p1,
        pubdate=date(2008, 6, 23),
    )
    b4 = Book(
        isbn="013235613",
        name="Python Web Development with Django",
        pages=350,
        rating=4.0,
        price=Decimal("29.69"),
        contact=a5,
        publisher=p3,
        pubdate=date(2008, 11, 3),
    )
    b5 = Book(
        isbn="013790395",
        name="Artificial Intelligence: A Modern Approach",
        pages=1132,
        rating=4.0,
        price=Decimal("82.80"),
        contact=a8,
        publisher=p3,
        pubdate=date(1995, 1, 15),
    )
    b6 = Book(
        isbn="155860191",
        name="Paradigms of Artificial Intelligence Programming: Case Studies in Common Lisp",
        pages=946,
        rating=5.0,
        price=Decimal("75.00"),
        contact=a8,
        publisher=p4,
        pubdate=date(1991, 10, 15),
    )
    b1.authors.extend([a1, a2])
    b2.authors.append(a3)
    b3.authors.append(a4)
    b4.authors.extend([a5, a6, a7])
    b5.authors.extend([a8, a9])
    b6.authors.append(a8)
    save(b1, b2, b3, b4, b5, b6)
    s1 = Store(
        name="Amazon.com", original_opening=utc(1994, 4, 23, 9, 17, 42), friday_night_closing=time(23, 59, 59)
    )
    s1.books.extend([b1, b2, b3, b4, b5, b6])
    s2 = Store(
        name="Books.com", original_opening=utc(2001, 3, 15, 11, 23, 37), friday_night_closing=time(23, 59, 59)
    )
    s2.books.extend([b1, b3, b5, b6])
    s3 = Store(
        name="Mamma and Pappa's Books",
        original_opening=utc(1945, 4, 25, 16, 24, 14),
        friday_night_closing=time(21, 30),
    )
    s3.books.extend([b3, b4, b6])
    save(s1, s2, s3)
    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "save"})


def test_empty_aggregate(d):
    assert Author.objects.all().aggregate() == {}


def test_single_aggregate(d):
    assert Author.objects.aggregate(Avg("age")) == {"age__avg": pytest.approx(37.4, abs=0.1)}


def test_multiple_aggregates(d):
    assert Author.objects.aggregate(Sum("age"), Avg("age")) == {
        "age__sum": 337,
        "age__avg": pytest.approx(37.4, abs=0.1),
    }


def test_filter_aggregate(d):
    assert Author.objects.filter(age__gt=29).aggregate(Sum("age")) == {"age__sum": 254}


def test_related_aggregate(d):
    assert Author.objects.aggregate(Avg("friends__age")) == {
        "friends__age__avg": pytest.approx(34.07, abs=0.01)
    }
    assert Book.objects.filter(rating__lt=4.5).aggregate(Avg("authors__age")) == {
        "authors__age__avg": pytest.approx(38.2857, abs=0.01)
    }
    assert Author.objects.filter(name__contains="a").aggregate(Avg("book__rating")) == {
        "book__rating__avg": pytest.approx(4.0, abs=0.01)
    }
    assert Book.objects.aggregate(Avg("publisher__num_awards")) == {
        "publisher__num_awards__avg": pytest.approx(5.0)
    }
    assert Publisher.objects.aggregate(Sum("book__price")) == {"book__price__sum": Decimal("270.27")}


def test_aggregate_multi_join(d):
    assert Store.objects.aggregate(Max("books__authors__age")) == {"books__authors__age__max": 57}
    assert Author.objects.aggregate(Min("book__publisher__num_awards")) == {
        "book__publisher__num_awards__min": 1
    }


def test_aggregate_alias(d):
    vals = Store.objects.filter(name="Amazon.com").aggregate(amazon_mean=Avg("books__rating"))
    assert vals == {"amazon_mean": pytest.approx(4.08, abs=0.01)}


def test_aggregate_transform(d):
    assert Store.objects.aggregate(min_month=Min("original_opening__month")) == {"min_month": 3}


def test_annotate_basic(d):
    assert sorted(b.name for b in Book.objects.annotate().order_by("pk")) == sorted(
        b.name for b in (d.b1, d.b2, d.b3, d.b4, d.b5, d.b6)
    )
    b = Book.objects.annotate(mean_age=Avg("authors__age")).get(pk=d.b1.pk)
    assert b.name == "The Definitive Guide to Django: Web Development Done Right"
    assert b.mean_age == 34.5


def test_annotate_m2m(d):
    qs = Book.objects.filter(rating__lt=4.5).annotate(Avg("authors__age")).order_by("name")
    assert [(b.name, b.authors__age__avg) for b in qs] == [
        ("Artificial Intelligence: A Modern Approach", 51.5),
        ("Practical Django Projects", 29.0),
        ("Python Web Development with Django", pytest.approx(30.3, abs=0.1)),
        ("Sams Teach Yourself Django in 24 Hours", 45.0),
    ]
    qs = Book.objects.annotate(num_authors=Count("authors")).order_by("name")
    assert [(b.name, b.num_authors) for b in qs] == [
        ("Artificial Intelligence: A Modern Approach", 2),
        ("Paradigms of Artificial Intelligence Programming: Case Studies in Common Lisp", 1),
        ("Practical Django Projects", 1),
        ("Python Web Development with Django", 3),
        ("Sams Teach Yourself Django in 24 Hours", 1),
        ("The Definitive Guide to Django: Web Development Done Right", 2),
    ]


def test_backwards_m2m_annotate(d):
    qs = Author.objects.filter(name__contains="a").annotate(Avg("book__rating")).order_by("name")
    assert [(a.name, a.book__rating__avg) for a in qs] == [
        ("Adrian Holovaty", 4.5),
        ("Brad Dayley", 3.0),
        ("Jacob Kaplan-Moss", 4.5),
        ("James Bennett", 4.0),
        ("Paul Bissex", 4.0),
        ("Stuart Russell", 4.0),
    ]
    qs = Author.objects.annotate(num_books=Count("book")).order_by("name")
    assert [(a.name, a.num_books) for a in qs] == [
        ("Adrian Holovaty", 1),
        ("Brad Dayley", 1),
        ("Jacob Kaplan-Moss", 1),
        ("James Bennett", 1),
        ("Jeffrey Forcier", 1),
        ("Paul Bissex", 1),
        ("Peter Norvig", 2),
        ("Stuart Russell", 1),
        ("Wesley J. Chun", 1),
    ]


def test_reverse_fkey_annotate(d):
    qs = Book.objects.annotate(Sum("publisher__num_awards")).order_by("name")
    assert [(b.name, b.publisher__num_awards__sum) for b in qs] == [
        ("Artificial Intelligence: A Modern Approach", 7),
        ("Paradigms of Artificial Intelligence Programming: Case Studies in Common Lisp", 9),
        ("Practical Django Projects", 3),
        ("Python Web Development with Django", 7),
        ("Sams Teach Yourself Django in 24 Hours", 1),
        ("The Definitive Guide to Django: Web Development Done Right", 3),
    ]
    qs = Publisher.objects.annotate(Sum("book__price")).order_by("name")
    assert [(p.name, p.book__price__sum) for p in qs] == [
        ("Apress", Decimal("59.69")),
        ("Jonno's House of Books", None),
        ("Morgan Kaufmann", Decimal("75.00")),
        ("Prentice Hall", Decimal("112.49")),
        ("Sams", Decimal("23.09")),
    ]


def test_annotate_values(d):
    qs = (
        Book.objects.filter(pk=d.b1.pk)
        .annotate(mean_age=Avg("authors__age"))
        .values("pk", "isbn", "mean_age")
    )
    assert list(qs) == [{"pk": d.b1.pk, "isbn": "159059725", "mean_age": 34.5}]
    qs = Book.objects.filter(pk=d.b1.pk).annotate(mean_age=Avg("authors__age")).values("name")
    assert list(qs) == [{"name": "The Definitive Guide to Django: Web Development Done Right"}]


def test_values_then_annotate_groups_by_the_values(d):
    qs = (
        Book.objects.values("rating")
        .annotate(n_authors=Count("authors__id"), mean_age=Avg("authors__age"))
        .order_by("rating")
    )
    assert list(qs) == [
        {"rating": 3.0, "n_authors": 1, "mean_age": 45.0},
        {"rating": 4.0, "n_authors": 6, "mean_age": pytest.approx(37.16, abs=0.1)},
        {"rating": 4.5, "n_authors": 2, "mean_age": 34.5},
        {"rating": 5.0, "n_authors": 1, "mean_age": 57.0},
    ]


def test_annotate_over_a_symmetrical_self_relation(d):
    qs = Author.objects.annotate(Avg("friends__age")).order_by("name")
    assert [(a.name, a.friends__age__avg) for a in qs] == [
        ("Adrian Holovaty", 32.0),
        ("Brad Dayley", None),
        ("Jacob Kaplan-Moss", 29.5),
        ("James Bennett", 34.0),
        ("Jeffrey Forcier", 27.0),
        ("Paul Bissex", 31.0),
        ("Peter Norvig", 46.0),
        ("Stuart Russell", 57.0),
        ("Wesley J. Chun", pytest.approx(33.66, abs=0.1)),
    ]


def test_count(d):
    assert Book.objects.aggregate(Count("rating")) == {"rating__count": 6}
    assert Book.objects.aggregate(Count("rating", distinct=True)) == {"rating__count": 4}


def test_count_star(d):
    assert Book.objects.aggregate(n=Count("*")) == {"n": 6}


def test_count_distinct_expression(d):
    from assistant_models import Case, When

    aggs = Book.objects.aggregate(
        distinct_ratings=Count(Case(When(pages__gt=300, then="rating")), distinct=True)
    )
    assert aggs["distinct_ratings"] == 4


def test_aggregate_annotation(d):
    vals = Book.objects.annotate(num_authors=Count("authors__id")).aggregate(Avg("num_authors"))
    assert vals == {"num_authors__avg": pytest.approx(1.66, abs=0.01)}


def test_avg_duration_field(d):
    assert Publisher.objects.aggregate(Avg("duration")) == {"duration__avg": timedelta(days=1, hours=12)}


def test_sum_duration_field(d):
    assert Publisher.objects.aggregate(Sum("duration")) == {"duration__sum": timedelta(days=3)}


def test_sum_distinct_aggregate(d):
    """Sum over distinct rows counts each author once."""
    authors = Author.objects.filter(book__in=[d.b5, d.b6])
    assert authors.count() == 3
    distinct_authors = authors.distinct()
    assert distinct_authors.count() == 2
    assert distinct_authors.aggregate(Sum("age"))["age__sum"] == 103


def test_aggregate_respects_distinct_by_id(d):
    authors = Author.objects.filter(book__id__in=[d.b5.id, d.b6.id])
    assert authors.aggregate(Sum("age"))["age__sum"] == 160
    assert authors.distinct().aggregate(Sum("age"))["age__sum"] == 103


def test_aggregate_with_an_alias_respects_distinct(d):
    authors = Author.objects.filter(book__id__in=[d.b5.id, d.b6.id])
    assert authors.aggregate(total=Sum("age")) == {"total": 160}
    assert authors.distinct().aggregate(total=Sum("age")) == {"total": 103}


def test_filtering_on_annotations(d):
    qs = Publisher.objects.annotate(num_books=Count("book")).filter(num_books__gt=1).order_by("pk")
    assert [p.name for p in qs] == ["Apress", "Prentice Hall"]
    qs = Publisher.objects.annotate(num_books=Count("book")).filter(num_books__range=[1, 3]).order_by("pk")
    assert [p.name for p in qs] == ["Apress", "Sams", "Prentice Hall", "Morgan Kaufmann"]
    qs = Publisher.objects.annotate(num_books=Count("book")).filter(num_books__in=[1, 3]).order_by("pk")
    assert [p.name for p in qs] == ["Sams", "Morgan Kaufmann"]
    qs = Publisher.objects.annotate(num_books=Count("book")).filter(num_books__isnull=True)
    assert list(qs) == []


def test_filter_across_a_reverse_relation_returns_a_row_per_match(d):
    qs = Publisher.objects.filter(book__price__lt=Decimal("40.0")).order_by("pk")
    assert [p.name for p in qs] == ["Apress", "Apress", "Sams", "Prentice Hall"]


def test_filter_before_annotate_restricts_the_aggregate(d):
    qs = (
        Publisher.objects.filter(book__price__lt=Decimal("40.0"))
        .annotate(num_books=Count("book__id"))
        .filter(num_books__gt=1)
        .order_by("pk")
    )
    assert [p.name for p in qs] == ["Apress"]


def test_annotation(d):
    qs = (
        Author.objects.annotate(num_friends=Count("friends__id", distinct=True))
        .filter(num_friends=0)
        .order_by("pk")
    )
    assert [a.name for a in qs] == ["Brad Dayley"]
    qs = Book.objects.annotate(num_authors=Count("authors__id")).filter(
        authors__name__contains="Norvig", num_authors__gt=1
    )
    assert [b.name for b in qs] == ["Artificial Intelligence: A Modern Approach"]


def test_more_aggregation(d, save):
    d.b1.authors.append(d.a8)
    save(d.b1)
    vals = (
        Book.objects.annotate(num_authors=Count("authors__id"))
        .filter(authors__name__contains="Norvig", num_authors__gt=1)
        .aggregate(Avg("rating"))
    )
    assert vals == {"rating__avg": 4.25}


def test_even_more_aggregate(d):
    publishers = (
        Publisher.objects.annotate(earliest_book=Min("book__pubdate"))
        .exclude(earliest_book=None)
        .order_by("earliest_book")
        .values("earliest_book", "num_awards", "name")
    )
    assert list(publishers) == [
        {"earliest_book": date(1991, 10, 15), "num_awards": 9, "name": "Morgan Kaufmann"},
        {"earliest_book": date(1995, 1, 15), "num_awards": 7, "name": "Prentice Hall"},
        {"earliest_book": date(2007, 12, 6), "num_awards": 3, "name": "Apress"},
        {"earliest_book": date(2008, 3, 3), "num_awards": 1, "name": "Sams"},
    ]
    vals = Store.objects.aggregate(Max("friday_night_closing"), Min("original_opening"))
    assert vals == {
        "friday_night_closing__max": time(23, 59, 59),
        "original_opening__min": utc(1945, 4, 25, 16, 24, 14),
    }


def test_annotate_values_list(d):
    qs = Book.objects.filter(pk=d.b1.pk).annotate(mean_age=Avg("authors__age"))
    assert list(qs.values_list("pk", "isbn", "mean_age")) == [(d.b1.id, "159059725", 34.5)]
    assert list(qs.values_list("isbn")) == [("159059725",)]
    assert list(qs.values_list("mean_age")) == [(34.5,)]
    assert list(qs.values_list("mean_age", flat=True)) == [34.5]
    qs = Book.objects.values_list("price").annotate(count=Count("price")).order_by("-count", "price")
    assert list(qs) == [
        (Decimal("29.69"), 2),
        (Decimal("23.09"), 1),
        (Decimal("30"), 1),
        (Decimal("75"), 1),
        (Decimal("82.8"), 1),
    ]


def test_values_aggregation(d):
    assert Book.objects.values("rating").aggregate(max_rating=Max("rating")) == {"max_rating": 5}
    qs = Book.objects.values("rating").annotate(Count("rating"))
    assert qs.aggregate(Max("rating__count")) == {"rating__count__max": 3}


def test_annotate_ordering(d):
    qs = Book.objects.values("rating").annotate(oldest=Max("authors__age")).order_by("oldest", "rating")
    assert list(qs) == [
        {"rating": 4.5, "oldest": 35},
        {"rating": 3.0, "oldest": 45},
        {"rating": 4.0, "oldest": 57},
        {"rating": 5.0, "oldest": 57},
    ]
    qs = Book.objects.values("rating").annotate(oldest=Max("authors__age")).order_by("-oldest", "-rating")
    assert list(qs) == [
        {"rating": 5.0, "oldest": 57},
        {"rating": 4.0, "oldest": 57},
        {"rating": 3.0, "oldest": 45},
        {"rating": 4.5, "oldest": 35},
    ]


def test_avg_decimal_field(d):
    v = Book.objects.filter(rating=4.0).aggregate(avg_price=Avg("price"))["avg_price"]
    assert isinstance(v, Decimal)
    assert v == pytest.approx(Decimal("47.39"), abs=Decimal("0.01"))


def test_aggregation_default_when_no_rows(d):
    assert Book.objects.filter(rating__lt=3.0).aggregate(value=Sum("pages", default=0)) == {"value": 0}
    assert Publisher.objects.filter(num_awards__gt=10).aggregate(value=Max("num_awards", default=0)) == {
        "value": 0
    }
    assert Book.objects.filter(rating__lt=3.0).aggregate(value=Sum("pages")) == {"value": None}


def test_aggregation_with_filter_argument(d):
    agg = Author.objects.aggregate(
        old=Count("id", filter=Q(age__gt=40)), young=Count("id", filter=Q(age__lte=40))
    )
    assert agg == {"old": 3, "young": 6}


def test_annotation_expressions(d):
    qs = Author.objects.annotate(combined_ages=Sum(F("age") + F("friends__age"))).order_by("name")
    assert [(a.name, a.combined_ages) for a in qs] == [
        ("Adrian Holovaty", 132),
        ("Brad Dayley", None),
        ("Jacob Kaplan-Moss", 129),
        ("James Bennett", 63),
        ("Jeffrey Forcier", 128),
        ("Paul Bissex", 120),
        ("Peter Norvig", 103),
        ("Stuart Russell", 103),
        ("Wesley J. Chun", 176),
    ]


def test_aggregate_over_f_expressions(d):
    vals = Book.objects.aggregate(max_field=Max(F("pages") * 2))
    assert vals == {"max_field": 2264}


def test_complex_aggregations_require_an_alias(d):
    with pytest.raises(Refused):
        Book.objects.aggregate(Sum("pages") + Sum("pages"))


def test_complex_annotations_require_an_alias(d):
    with pytest.raises(Refused):
        Publisher.objects.annotate(Sum(F("num_awards") + F("num_awards")))


def test_nonaggregate_aggregation_is_refused(d):
    with pytest.raises(Refused):
        Book.objects.aggregate(fail=F("price"))


def test_aggregate_of_an_unknown_field_raises_field_error(d):
    with pytest.raises(FieldError):
        Book.objects.aggregate(Sum("foo"))


def test_aggregate_after_slicing_counts_the_slice(d):
    assert Book.objects.order_by("pk")[:2].aggregate(Count("id")) == {"id__count": 2}


def test_aggregate_default_alias_of_count_id(d):
    assert Book.objects.aggregate(Count("id")) == {"id__count": 6}


def test_annotate_then_aggregate_over_the_annotation(d):
    qs = Publisher.objects.annotate(num_books=Count("book"))
    assert qs.aggregate(Max("num_books")) == {"num_books__max": 2}
    assert qs.aggregate(total=Sum("num_books")) == {"total": 6}


def test_aggregation_exists_annotation(d):
    from assistant_models import Exists, OuterRef

    published_books = Book.objects.filter(publisher=OuterRef("pk"))
    qs = Publisher.objects.annotate(published_book=Exists(published_books), count=Count("book")).order_by(
        "name"
    )
    assert [(p.name, p.published_book) for p in qs] == [
        ("Apress", True),
        ("Jonno's House of Books", False),
        ("Morgan Kaufmann", True),
        ("Prentice Hall", True),
        ("Sams", True),
    ]


def test_aggregation_subquery_annotation(d):
    from assistant_models import OuterRef, Subquery

    latest = Book.objects.filter(publisher=OuterRef("pk")).order_by("-pubdate").values("pubdate")[:1]
    qs = Publisher.objects.annotate(latest_book=Subquery(latest)).order_by("name")
    assert [(p.name, p.latest_book) for p in qs] == [
        ("Apress", date(2008, 6, 23)),
        ("Jonno's House of Books", None),
        ("Morgan Kaufmann", date(1991, 10, 15)),
        ("Prentice Hall", date(2008, 11, 3)),
        ("Sams", date(2008, 3, 3)),
    ]


def test_alias_is_usable_in_filter_but_not_returned(d):
    qs = Publisher.objects.alias(num_books=Count("book")).filter(num_books__gt=1).order_by("name")
    assert [p.name for p in qs] == ["Apress", "Prentice Hall"]
    assert not hasattr(qs.first(), "num_books")
