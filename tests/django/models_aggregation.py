"""Models of Django's ``tests/aggregation`` app.

``Author.friends`` is Django's symmetrical ``ManyToManyField("self")``: the link table
holds both directions, as Django writes them. Reverse query names follow Django
(``Author.book``, ``Publisher.book``, ``Book.store``).
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import ClassVar, Optional

import sqlalchemy as sa
from port_base import app_base
from sqlmodel import Field, Relationship

from assistant_models import Manager
from assistant_models.core.types import UTCDateTime

Base = app_base("AggregationBase")


class Friendship(Base, table=True):
    __tablename__ = "aggregation_author_friends"
    from_author_id: int | None = Field(default=None, foreign_key="aggregation_author.id", primary_key=True)
    to_author_id: int | None = Field(default=None, foreign_key="aggregation_author.id", primary_key=True)


class BookAuthor(Base, table=True):
    __tablename__ = "aggregation_book_authors"
    book_id: int | None = Field(default=None, foreign_key="aggregation_book.id", primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="aggregation_author.id", primary_key=True)


class StoreBook(Base, table=True):
    __tablename__ = "aggregation_store_books"
    store_id: int | None = Field(default=None, foreign_key="aggregation_store.id", primary_key=True)
    book_id: int | None = Field(default=None, foreign_key="aggregation_book.id", primary_key=True)


class Author(Base, table=True):
    __tablename__ = "aggregation_author"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    age: int
    friends: list["Author"] = Relationship(
        link_model=Friendship,
        sa_relationship_kwargs={
            "primaryjoin": "Author.id == Friendship.from_author_id",
            "secondaryjoin": "Author.id == Friendship.to_author_id",
        },
    )
    book: list["Book"] = Relationship(back_populates="authors", link_model=BookAuthor)
    book_contact_set: list["Book"] = Relationship(back_populates="contact")
    objects: ClassVar[Manager["Author"]] = Manager()


class Publisher(Base, table=True):
    __tablename__ = "aggregation_publisher"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    num_awards: int
    duration: timedelta | None = Field(default=None, sa_type=sa.Interval)
    book: list["Book"] = Relationship(back_populates="publisher")
    objects: ClassVar[Manager["Publisher"]] = Manager()


class Book(Base, table=True):
    __tablename__ = "aggregation_book"
    id: int | None = Field(default=None, primary_key=True)
    isbn: str = Field(max_length=9)
    name: str = Field(max_length=255)
    pages: int
    rating: float
    price: Decimal = Field(max_digits=6, decimal_places=2)
    contact_id: int | None = Field(default=None, foreign_key="aggregation_author.id")
    publisher_id: int | None = Field(default=None, foreign_key="aggregation_publisher.id")
    pubdate: date
    contact: Optional["Author"] = Relationship(back_populates="book_contact_set")
    publisher: Optional["Publisher"] = Relationship(back_populates="book")
    authors: list["Author"] = Relationship(back_populates="book", link_model=BookAuthor)
    store: list["Store"] = Relationship(back_populates="books", link_model=StoreBook)
    objects: ClassVar[Manager["Book"]] = Manager()


class Store(Base, table=True):
    __tablename__ = "aggregation_store"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    original_opening: datetime = Field(sa_type=UTCDateTime)
    friday_night_closing: time
    books: list["Book"] = Relationship(back_populates="store", link_model=StoreBook)
    objects: ClassVar[Manager["Store"]] = Manager()
