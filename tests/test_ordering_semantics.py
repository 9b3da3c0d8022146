"""Ordering as Django compiles it: relations follow their model's ordering, constants, DISTINCT."""

from __future__ import annotations

from typing import ClassVar

import pytest
import sqlalchemy as sa
from lab_models import Author, Book
from sqlalchemy.orm import registry, relationship
from sqlmodel import Field, Relationship

from assistant_models import AssistantModel, FieldError, Lower, Manager, Value


class LoopBase(AssistantModel, registry=registry(metadata=sa.MetaData())):
    """A registry of its own: the table is never created (the ordering is refused before SQL)."""


class Loop(LoopBase, table=True):
    """Ordered by its own parent: following that ordering never ends."""

    __tablename__ = "ordering_loops"
    __ordering__ = ("parent",)

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="ordering_loops.id")
    parent: Loop | None = Relationship(sa_relationship=relationship("Loop", remote_side="Loop.id"))

    objects: ClassVar[Manager[Loop]] = Manager()


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


def test_ordering_by_a_relation_follows_the_related_models_ordering(lab):
    ann, bob = Author(name="Ann"), Author(name="Bob")
    lab.add_all([ann, bob])
    lab.flush()
    lab.add_all([Book(title="b", author_id=ann.id), Book(title="a", author_id=bob.id)])
    lab.flush()
    # Book's ordering is ("title",); ``-books`` reverses it
    assert [a.name for a in Author.objects.order_by("books")] == ["Bob", "Ann"]
    assert [a.name for a in Author.objects.order_by("-books")] == ["Ann", "Bob"]
    assert [o.expression.name for o in Author.objects.order_by("-books").query.order] == ["books__title"]


def test_ordering_by_a_relation_key_does_not_follow_the_related_ordering():
    for name in ("books__pk", "books__id"):
        assert [o.expression.name for o in Author.objects.order_by(name).query.order] == [name]


def test_an_ordering_that_follows_itself_is_refused():
    with pytest.raises(FieldError, match="infinite loop"):
        Loop.objects.order_by("parent")
    with pytest.raises(FieldError, match="infinite loop"):
        Loop.objects.all().statement()
    assert Loop.objects.order_by("parent_id").query.order is not None


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
