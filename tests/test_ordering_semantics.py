"""Ordering as Django compiles it: constants, and DISTINCT rows listing what they are ordered by."""

from __future__ import annotations

from lab_models import Author, Book

from assistant_models import Lower, Value


def _library(lab):
    ann, bob = Author(name="Ann"), Author(name="Bob")
    lab.add_all([ann, bob])
    lab.flush()
    books = [
        Book(title="b", pages=30, author_id=ann.id),
        Book(title="a", pages=10, author_id=bob.id),
        Book(title="c", pages=20, author_id=bob.id),
        Book(title="c", pages=40, author_id=ann.id),
    ]
    lab.add_all(books)
    lab.flush()
    return ann, bob


def test_a_constant_ordering_is_not_read_as_a_column_position(lab):
    _library(lab)
    # a bare ``ORDER BY 2`` would sort by the second column (the title) first
    titles = [b.title for b in Book.objects.order_by(Value(2), "-pages")]
    assert titles == ["c", "b", "c", "a"]


def test_distinct_rows_ordered_by_an_unlisted_field_return_only_the_listed_columns(lab):
    _library(lab)
    qs = Book.objects.values_list("title", flat=True).distinct().order_by("pages")
    assert list(qs) == ["a", "c", "b", "c"]  # distinct over (title, pages), as in Django
    assert list(Book.objects.values("title").distinct().order_by("title")) == [
        {"title": "a"},
        {"title": "b"},
        {"title": "c"},
    ]
    rows = Book.objects.values_list("title", named=True).distinct().order_by("-pages")
    assert [tuple(r) for r in rows] == [("c",), ("b",), ("c",), ("a",)]
    assert list(Book.objects.values_list("title").distinct().order_by("-pages").iterator()) == [
        ("c",),
        ("b",),
        ("c",),
        ("a",),
    ]


def test_distinct_models_with_annotations_ordered_across_a_relation(lab):
    _library(lab)
    qs = Book.objects.annotate(upper=Lower("title")).order_by("author__name", "pages").distinct()
    assert [(b.title, b.upper) for b in qs] == [("b", "b"), ("c", "c"), ("a", "a"), ("c", "c")]
    assert qs.count() == 4


def test_distinct_rows_ordered_by_a_deferred_field(lab):
    _library(lab)
    assert [b.title for b in Book.objects.only("title").order_by("-pages").distinct()] == ["c", "b", "c", "a"]
