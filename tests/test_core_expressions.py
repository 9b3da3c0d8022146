"""Expressions, annotations and the Django answers the issue lists, on the lab models."""

from collections import namedtuple
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from lab_models import Author, Book

from assistant_models import (
    Avg,
    Case,
    Cast,
    Coalesce,
    Concat,
    Count,
    Exists,
    F,
    FieldError,
    Greatest,
    Least,
    Lower,
    Max,
    Min,
    Now,
    OuterRef,
    Percentile,
    Q,
    Subquery,
    Sum,
    Upper,
    ValidationError,
    Value,
    When,
)
from assistant_models.models import AuthSession, Task


@pytest.fixture
def shelf(lab):
    ann = Author.objects.create(name="Ann", alias="annie", age=30, meta={"plan": "pro", "seats": 5})
    bob = Author.objects.create(name="Bob", age=None, meta={"plan": "free", "seats": 1})
    cyd = Author.objects.create(name="Cyd", alias="Cyd", age=50, meta={})
    Book.objects.bulk_create(
        [
            Book(title="Alpha", pages=100, rating=4.5, author_id=ann.id),
            Book(title="Beta", pages=300, rating=3.0, author_id=ann.id),
            Book(title="Gamma", pages=200, rating=None, author_id=bob.id),
            Book(title="Delta", pages=50, rating=5.0, author_id=None),
        ]
    )
    return {"ann": ann, "bob": bob, "cyd": cyd}


def names(qs):
    return [a.name for a in qs]


def test_annotate_counts_related_rows_and_can_be_filtered_and_ordered(shelf):
    qs = Author.objects.annotate(n=Count("books")).order_by("-n", "name")
    assert [(a.name, a.n) for a in qs] == [("Ann", 2), ("Bob", 1), ("Cyd", 0)]
    assert names(Author.objects.annotate(n=Count("books")).filter(n__gte=1).order_by("name")) == [
        "Ann",
        "Bob",
    ]
    assert Author.objects.annotate(n=Count("books")).filter(n=0).get().name == "Cyd"


def test_alias_is_usable_but_not_selected(shelf):
    qs = Author.objects.alias(n=Count("books")).filter(n=2)
    author = qs.get()
    assert author.name == "Ann" and "n" not in author.__dict__


def test_values_are_chainable_and_group_aggregates(shelf):
    rows = Book.objects.filter(author__isnull=False).values("author__name").annotate(pages=Sum("pages"))
    assert sorted((r["author__name"], r["pages"]) for r in rows) == [("Ann", 400), ("Bob", 200)]
    assert list(Book.objects.values("title").filter(pages__gt=150).order_by("title")) == [
        {"title": "Beta"},
        {"title": "Gamma"},
    ]
    named = Book.objects.order_by("pages").values_list("title", "pages", named=True)[0]
    assert (named.title, named.pages) == ("Delta", 50)
    assert isinstance(named, tuple) and namedtuple  # a named tuple


def test_aggregate_takes_positional_defaults_filter_distinct_and_default(shelf):
    totals = Book.objects.aggregate(Count("id"), Max("pages"), most=Max("rating"))
    assert totals == {"id__count": 4, "pages__max": 300, "most": 5.0}
    assert Book.objects.aggregate(n=Count("author", distinct=True)) == {"n": 2}
    assert Book.objects.aggregate(big=Count("id", filter=Q(pages__gte=200))) == {"big": 2}
    assert Book.objects.filter(pages__gt=1000).aggregate(total=Sum("pages", default=0)) == {"total": 0}
    assert Book.objects.aggregate() == {}
    assert Book.objects.values("author_id").distinct().aggregate(n=Count("author_id")) == {"n": 2}


def test_case_when_and_functions(shelf):
    qs = Book.objects.annotate(
        size=Case(When(pages__gte=200, then=Value("long")), default=Value("short")),
        shout=Upper("title"),
        quiet=Lower("title"),
        label=Concat("title", Value("/"), Cast("pages", sa.Text())),
        stars=Coalesce("rating", Value(0.0)),
        hi=Greatest("pages", Value(150)),
        lo=Least("pages", Value(150)),
    ).order_by("title")
    first = qs.first()
    assert (first.size, first.shout, first.quiet, first.label) == ("short", "ALPHA", "alpha", "Alpha/100")
    assert (first.hi, first.lo) == (150, 100)
    assert [b.stars for b in qs] == [4.5, 3.0, 5.0, 0.0]


def test_f_arithmetic_with_reflected_operators_and_nulls_ordering(shelf):
    qs = Book.objects.annotate(double=2 * F("pages"), less=1000 - F("pages"), ratio=F("pages") / 50)
    alpha = qs.get(title="Alpha")
    assert (alpha.double, alpha.less, alpha.ratio) == (200, 900, 2)
    ordered = Book.objects.order_by(F("rating").desc(nulls_last=True))
    assert [b.title for b in ordered] == ["Delta", "Alpha", "Beta", "Gamma"]
    assert Book.objects.order_by(F("rating").asc(nulls_first=True)).first().title == "Gamma"


def test_f_division_of_integers_is_integer_division_and_of_floats_is_not(shelf):
    alpha = Book.objects.annotate(
        per_seven=F("pages") / 7, sevenths=7 / F("pages"), halves=F("rating") / 2
    ).get(title="Alpha")
    assert (alpha.per_seven, alpha.sevenths, alpha.halves) == (14, 0, 2.25)


def test_bitwise_methods_of_f_work_bit_by_bit(shelf):
    alpha = Book.objects.annotate(
        anded=F("pages").bitand(12),
        ored=F("pages").bitor(3),
        xored=F("pages").bitxor(5),
        left=F("pages").bitleftshift(2),
        right=F("pages").bitrightshift(2),
    ).get(title="Alpha")
    assert (alpha.anded, alpha.ored, alpha.xored, alpha.left, alpha.right) == (4, 103, 97, 400, 25)


def test_exists_subquery_and_outer_ref(shelf):
    big = Book.objects.filter(author=OuterRef("pk"), pages__gte=200)
    assert names(Author.objects.filter(Exists(big)).order_by("name")) == ["Ann", "Bob"]
    assert names(Author.objects.filter(~Exists(big)).order_by("name")) == ["Cyd"]
    newest = Book.objects.filter(author=OuterRef("pk")).order_by("-pages").values("title")[:1]
    rows = Author.objects.annotate(longest=Subquery(newest)).order_by("name").values_list("name", "longest")
    assert list(rows) == [("Ann", "Beta"), ("Bob", "Gamma"), ("Cyd", None)]


def test_a_queryset_is_a_lookup_value(shelf):
    old = Author.objects.filter(age__gte=30)
    assert sorted(Book.objects.filter(author__in=old).values_list("title", flat=True)) == ["Alpha", "Beta"]


def test_relation_names_work_everywhere(shelf):
    ann = shelf["ann"]
    assert Book.objects.filter(author=ann).count() == 2
    assert Book.objects.filter(author__in=[ann, shelf["bob"]]).count() == 3
    assert Book.objects.filter(author__isnull=True).get().title == "Delta"
    assert set(Book.objects.values_list("author", flat=True)) == {ann.id, shelf["bob"].id, None}
    assert Book.objects.order_by("author", "title").first().title == "Alpha"
    assert Book.objects.filter(title="Delta").update(author=shelf["cyd"]) == 1
    assert Book.objects.get(title="Delta").author_id == shelf["cyd"].id


def test_multi_valued_relations_follow_django(shelf):
    assert names(Author.objects.exclude(books__title="Alpha").order_by("name")) == ["Bob", "Cyd"]
    both = Author.objects.filter(books__pages__gte=300).filter(books__pages__lte=100)
    assert names(both) == ["Ann"]  # each filter() call gets a join of its own
    one = Author.objects.filter(books__pages__gte=300, books__pages__lte=100)
    assert names(one) == []  # within one call, the same book must match both
    joined = Author.objects.filter(books__pages__gt=0)
    assert joined.count() == len(joined) == 3  # duplicates kept, as in Django
    assert joined.distinct().count() == 2


def test_text_lookups_against_columns_and_exclude_with_nulls(shelf):
    assert names(Author.objects.filter(alias__iexact=F("name"))) == ["Cyd"]
    assert names(Author.objects.filter(alias__istartswith=F("name")).order_by("name")) == ["Ann", "Cyd"]
    # Bob's alias is NULL: not equal to his name, so exclude() keeps him (NULL = x is not true)
    assert names(Author.objects.exclude(alias=F("name")).order_by("name")) == ["Ann", "Bob"]


def test_date_transforms_regex_and_json_lookups(shelf, db_session):
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    task = Task.objects.enqueue("dated", due_at=when, results={"plan": {"tier": 3}, "tags": ["a"]})
    dated = Task.objects.filter(pk=task.id)
    assert dated.filter(due_at__year=2026, due_at__month=3, due_at__day=4, due_at__hour=5).exists()
    assert dated.filter(due_at__date=when.date()).exists()
    assert not dated.filter(due_at__year__gt=2026).exists()
    assert dated.filter(title__regex=r"^d.t").exists() and dated.filter(title__iregex=r"^D").exists()
    assert dated.filter(results__has_key="plan", results__contains={"tags": ["a"]}).exists()
    assert dated.filter(results__plan__tier__gte=3).exists()
    assert not dated.filter(results__plan__tier__gt=3).exists()
    assert dated.filter(results__plan__isnull=False, results__missing__isnull=True).exists()
    assert names(Author.objects.filter(meta__plan="pro")) == ["Ann"]
    assert names(Author.objects.filter(meta__seats__lt=3)) == ["Bob"]
    assert names(Author.objects.filter(meta__plan__icontains="FR")) == ["Bob"]


def test_latest_earliest_none_contains_distinct_on_and_random_order(shelf):
    assert Book.objects.latest("pages").title == "Beta"
    assert Book.objects.earliest("pages").title == "Delta"
    with pytest.raises(Book.DoesNotExist):
        Book.objects.filter(pages__gt=1000).latest("pages")
    assert list(Book.objects.none()) == [] and Book.objects.none().count() == 0
    assert not Book.objects.none().exists() and Book.objects.none().update(pages=1) == 0
    alpha = Book.objects.get(title="Alpha")
    assert Book.objects.filter(pages__lt=200).contains(alpha)
    assert not Book.objects.filter(pages__gt=200).contains(alpha)
    firsts = Book.objects.filter(author__isnull=False).order_by("author_id", "-pages").distinct("author_id")
    assert sorted(b.title for b in firsts) == ["Beta", "Gamma"]
    assert sorted(b.title for b in Book.objects.order_by("?")) == ["Alpha", "Beta", "Delta", "Gamma"]


def test_union_intersection_difference(shelf):
    short = Book.objects.filter(pages__lt=150)
    rated = Book.objects.filter(rating__gte=4.5)
    assert sorted(b.title for b in short.union(rated)) == ["Alpha", "Delta"]
    assert sorted(b.title for b in Book.objects.filter(pages__gt=90).intersection(rated)) == ["Alpha"]
    assert sorted(b.title for b in Book.objects.all().difference(rated)) == ["Beta", "Gamma"]
    assert list(short.union(rated).order_by("title").values_list("title", flat=True)) == ["Alpha", "Delta"]


def test_default_ordering_is_declared_on_the_model(shelf):
    assert [b.title for b in Book.objects.all()] == ["Alpha", "Beta", "Delta", "Gamma"]
    assert [b.title for b in Book.objects.reverse()] == ["Gamma", "Delta", "Beta", "Alpha"]
    assert Book.objects.ordered and not Book.objects.order_by().ordered


def test_silent_wrong_answers_are_gone(shelf, db_session):
    assert AuthSession.objects.exists() is False  # unfiltered, no soft delete: a real FROM
    with pytest.raises(ValidationError, match="slice"):
        Book.objects.order_by("title")[:2].update(pages=1)
    with pytest.raises(FieldError, match="joined"):
        Book.objects.update(title=F("author__name"))
    with pytest.raises(ValidationError, match="batch_size"):
        Book.objects.bulk_create([Book(title="x")], batch_size=-1)
    with pytest.raises(FieldError):
        Author.objects.filter(**{"_negated": True})  # a keyword is always a lookup


def test_get_or_create_with_callable_defaults_and_create_defaults(shelf):
    calls = []

    def default_pages():
        calls.append(1)
        return 42

    book, created = Book.objects.get_or_create(title="Alpha", defaults={"pages": default_pages})
    assert not created and calls == []
    book, created = Book.objects.get_or_create(
        title="Omega", defaults={"pages": 1}, create_defaults={"pages": default_pages}
    )
    assert created and book.pages == 42 and calls == [1]
    book, created = Book.objects.update_or_create(
        title="Omega", defaults={"pages": 7}, create_defaults={"pages": 99}
    )
    assert not created and book.pages == 7


def test_bulk_create_upserts_and_ignores_conflicts_returning_keys(lab):
    lab.execute(sa.text("CREATE UNIQUE INDEX lab_books_title ON lab_books (title)"))
    first = Book.objects.bulk_create([Book(title="One", pages=1), Book(title="Two", pages=2)])
    again = Book.objects.bulk_create(
        [Book(title="One", pages=10), Book(title="Three", pages=3)],
        update_conflicts=True,
        unique_fields=["title"],
        update_fields=["pages"],
    )
    assert again[0].id == first[0].id and isinstance(again[1].id, int)
    assert dict(Book.objects.values_list("title", "pages")) == {"One": 10, "Two": 2, "Three": 3}
    kept = Book.objects.bulk_create(
        [Book(title="Two", pages=20), Book(title="Four", pages=4)], ignore_conflicts=True
    )
    assert len(kept) == 2
    assert dict(Book.objects.values_list("title", "pages"))["Two"] == 2


def test_bulk_create_of_objects_with_and_without_keys_lets_the_server_make_the_missing_ones(lab):
    books = Book.objects.bulk_create([Book(id=500, title="Own key"), Book(title="Server key")])
    assert books[0].id == 500 and isinstance(books[1].id, int)
    assert sorted(Book.objects.values_list("title", flat=True)) == ["Own key", "Server key"]


def test_avg_of_integers_is_a_float_and_of_decimals_a_decimal(shelf):
    mean = Author.objects.aggregate(Avg("age"))["age__avg"]
    assert type(mean) is float and mean == 40.0
    exact = Author.objects.aggregate(m=Avg(Cast("age", sa.Numeric(10, 2))))["m"]
    assert isinstance(exact, Decimal) and exact == Decimal(40)


def test_percentile_interpolates_continuously_or_picks_a_value_discretely(shelf):
    # pages: 50, 100, 200, 300
    found = Book.objects.aggregate(
        median=Percentile("pages", 0.5),
        p95=Percentile("pages", 0.95),
        disc=Percentile("pages", 0.5, discrete=True),
        long=Percentile("pages", 0.5, filter=Q(pages__gte=200)),
        none=Percentile("pages", 0.5, filter=Q(pages__gt=1000)),
        zero=Percentile("pages", 0.5, filter=Q(pages__gt=1000), default=0),
    )
    assert found == {"median": 150.0, "p95": 285.0, "disc": 100, "long": 250.0, "none": None, "zero": 0}
    assert type(found["median"]) is float and type(found["disc"]) is int
    by_author = (
        Book.objects.filter(author__isnull=False).values("author__name").annotate(p=Percentile("pages", 1))
    )
    assert sorted((r["author__name"], r["p"]) for r in by_author) == [("Ann", 300.0), ("Bob", 200.0)]


@pytest.mark.parametrize("fraction", [-0.1, 1.5, "0.5", True, None])
def test_percentile_needs_a_fraction_from_0_to_1(fraction):
    with pytest.raises(ValueError):
        Percentile("pages", fraction)


def test_percentile_cannot_be_distinct():
    with pytest.raises(TypeError):
        Percentile("pages", 0.5, distinct=True)


def test_server_clock_expressions(shelf):
    assert Book.objects.annotate(now=Now()).first().now.tzinfo is not None
    assert Author.objects.aggregate(Avg("age"), Min("age")) == {"age__avg": 40, "age__min": 30}


def test_querysets_combine_with_or_and_and_keeping_each_sides_values(shelf):
    long_or_top = Book.objects.filter(pages__gt=150) | Book.objects.filter(rating__gte=5.0)
    assert sorted(b.title for b in long_or_top) == ["Beta", "Delta", "Gamma"]
    both = Book.objects.filter(pages__gt=90) & Book.objects.filter(rating__lt=4.0)
    assert [b.title for b in both] == ["Beta"]
    assert [b.title for b in Book.objects.none() | Book.objects.filter(title="Alpha")] == ["Alpha"]
    assert list(Book.objects.all() & Book.objects.none()) == []
    with pytest.raises(ValidationError):
        Book.objects.all() | Author.objects.all()


def test_aggregate_after_filter_counts_only_the_related_rows_the_filter_matched(shelf):
    qs = Author.objects.filter(books__rating__gte=4)
    assert qs.aggregate(n=Count("books__id")) == {"n": 1}


def test_annotate_after_filter_reuses_the_filters_join(shelf):
    qs = Author.objects.filter(books__rating__gte=4).annotate(n=Count("books__id"))
    assert [(a.name, a.n) for a in qs] == [("Ann", 1)]


def test_annotate_before_filter_keeps_a_join_of_its_own(shelf):
    qs = Author.objects.annotate(n=Count("books__id")).filter(books__rating__gte=4)
    assert [(a.name, a.n) for a in qs] == [("Ann", 2)]


def test_a_q_object_is_a_boolean_value_in_annotate_values_and_filter(shelf):
    adults = Author.objects.annotate(adult=Q(age__gte=18)).order_by("name")
    assert [(a.name, a.adult) for a in adults] == [("Ann", True), ("Bob", None), ("Cyd", True)]
    assert list(Author.objects.order_by("name").values("name", old=Q(age__gt=40) | Q(name="Bob"))) == [
        {"name": "Ann", "old": False},
        {"name": "Bob", "old": True},
        {"name": "Cyd", "old": True},
    ]
    assert names(Author.objects.annotate(pro=Q(meta__plan="pro")).filter(pro=True)) == ["Ann"]
