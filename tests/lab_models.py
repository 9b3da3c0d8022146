"""Models of the tests' own, outside the package's metadata: they show what an application can add.

Their tables are created inside each test's transaction (PostgreSQL rolls DDL back), so
the package's migrations and ``alembic check`` never see them.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import registry, relationship
from sqlmodel import Field, Relationship

from assistant_models import AssistantModel, Manager
from assistant_models.core.concerns import AppendOnly, Concern, LiveParent
from assistant_models.core.mixins import AuditMixin, SoftDeleteMixin, TimestampMixin
from assistant_models.core.types import JSONB
from assistant_models.vector import VectorField, VectorIndex, VectorManager

lab_metadata = sa.MetaData()
lab_registry = registry(metadata=lab_metadata)


class LabModel(AssistantModel, registry=lab_registry):
    """Base of the lab models: the package's validation and managers, a metadata of their own."""


class Shouting(sa.types.TypeDecorator[str]):
    """A column type that stores text in capitals: a conversion made on write."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else str(value).upper()


class Author(LabModel, table=True):
    __tablename__ = "lab_authors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    alias: str | None = Field(default=None, max_length=100)
    age: int | None = None
    motto: str | None = Field(default=None, sa_type=Shouting)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)

    books: list[Book] = Relationship(sa_relationship=relationship("Book", back_populates="author"))

    objects: ClassVar[Manager[Author]] = Manager()


class Book(LabModel, table=True):
    __tablename__ = "lab_books"
    __ordering__ = ("title",)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    pages: int = 0
    rating: float | None = None
    author_id: int | None = Field(default=None, foreign_key="lab_authors.id")

    author: Author | None = Relationship(sa_relationship=relationship("Author", back_populates="books"))

    objects: ClassVar[Manager[Book]] = Manager()


class Note(SoftDeleteMixin, TimestampMixin, LabModel, table=True):
    __tablename__ = "lab_notes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    text: str = Field(max_length=200)

    objects: ClassVar[Manager[Note]] = Manager()


class Handle(SoftDeleteMixin, LabModel, table=True):
    """A soft-deletable row with a unique field: unique among live rows only, by declaration."""

    __tablename__ = "lab_handles"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    code: str | None = Field(default=None, max_length=20, unique=True)

    objects: ClassVar[Manager[Handle]] = Manager()


class Remark(LabModel, table=True):
    """A row hidden while its note is soft-deleted: the LiveParent concern, no core change."""

    __tablename__ = "lab_remarks"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("note"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: uuid.UUID | None = Field(default=None, foreign_key="lab_notes.id")
    text: str = Field(max_length=200)

    note: Note | None = Relationship(sa_relationship=relationship("Note"))

    objects: ClassVar[Manager[Remark]] = Manager()
    all_objects: ClassVar[Manager[Remark]] = Manager(visibility="all")


class Event(LabModel, table=True):
    """An append-only model: declared by a concern, with no change to the core."""

    __tablename__ = "lab_events"
    __concerns__: ClassVar[tuple[Concern, ...]] = (AppendOnly(),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=50)

    objects: ClassVar[Manager[Event]] = Manager()


class Membership(AuditMixin, LabModel, table=True):
    """A composite key, as a month-partitioned table has: (team, member)."""

    __tablename__ = "lab_memberships"

    team: str = Field(primary_key=True, max_length=20)
    member: int = Field(primary_key=True)
    role: str = Field(default="member", max_length=20)

    objects: ClassVar[Manager[Membership]] = Manager()


class Entry(AuditMixin, LabModel, table=True):
    """An audited model whose keys the server makes, with a field typed optional but stored NOT NULL."""

    __tablename__ = "lab_entries"

    id: int | None = Field(default=None, primary_key=True)
    amount: int = 0
    label: str | None = Field(default=None, nullable=False, max_length=50)

    objects: ClassVar[Manager[Entry]] = Manager()


def create_lab_tables(connection: sa.Connection) -> None:
    """Create the lab tables in the connection's transaction."""
    lab_metadata.create_all(connection)


# Vectors need pgvector, which not every test server has: their lab tables live apart,
# created only by the ``vector_lab`` fixture once the extension is there.
vector_lab_metadata = sa.MetaData()
vector_lab_registry = registry(metadata=vector_lab_metadata)


class VectorLabModel(AssistantModel, registry=vector_lab_registry):
    """Base of the lab models that need the ``vector`` extension."""


class Item(VectorLabModel, table=True):
    """A row with an embedding, as pgvector-python's own tests use (``Item.embedding``)."""

    __tablename__ = "lab_items"

    id: int | None = Field(default=None, primary_key=True)
    label: str | None = Field(default=None, max_length=50)
    embedding: Any = VectorField(3, default=None, nullable=True)

    objects: ClassVar[VectorManager[Item]] = VectorManager()


#: Dimensions of the lab documents' embeddings.
DOC_DIMENSIONS = 16


class Doc(VectorLabModel, table=True):
    """A document with words and an embedding, an HNSW index and a category to filter on."""

    __tablename__ = "lab_docs"
    __searchable__ = {"body": "A"}
    __table_args__ = (VectorIndex("embedding", metric="cosine", m=8, ef_construction=32),)

    id: int | None = Field(default=None, primary_key=True)
    category: int = 0
    body: str = ""
    embedding: Any = VectorField(DOC_DIMENSIONS)

    objects: ClassVar[VectorManager[Doc]] = VectorManager()


def create_vector_lab_tables(connection: sa.Connection) -> None:
    """Create the vector lab tables in the connection's transaction (the extension must exist)."""
    vector_lab_metadata.create_all(connection)
