"""Models whose foreign keys cascade on delete: trees, chains, composite keys, audited leaves.

Their tables live on a metadata of their own and are created inside each test's
transaction, like the lab models.
"""

from __future__ import annotations

from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field

from assistant_models import AssistantModel, Manager
from assistant_models.core.mixins import AuditMixin, SoftDeleteMixin

cascade_metadata = sa.MetaData()


class CascadeModel(AssistantModel, registry=registry(metadata=cascade_metadata)):
    """Base of the cascade models."""


class Folder(CascadeModel, table=True):
    """A tree: removing a folder removes every folder below it."""

    __tablename__ = "cascade_folders"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    parent_id: int | None = Field(default=None, foreign_key="cascade_folders.id", ondelete="CASCADE")

    objects: ClassVar[Manager[Folder]] = Manager()


class Page(CascadeModel, table=True):
    __tablename__ = "cascade_pages"

    id: int | None = Field(default=None, primary_key=True)
    folder_id: int = Field(foreign_key="cascade_folders.id", ondelete="CASCADE")

    objects: ClassVar[Manager[Page]] = Manager()


class Stamp(CascadeModel, table=True):
    __tablename__ = "cascade_stamps"

    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="cascade_pages.id", ondelete="CASCADE")

    objects: ClassVar[Manager[Stamp]] = Manager()


class Label(CascadeModel, table=True):
    """Kept when its folder goes: the reference is set to NULL, which Django does not count."""

    __tablename__ = "cascade_labels"

    id: int | None = Field(default=None, primary_key=True)
    folder_id: int | None = Field(default=None, foreign_key="cascade_folders.id", ondelete="SET NULL")

    objects: ClassVar[Manager[Label]] = Manager()


class Binder(CascadeModel, table=True):
    __tablename__ = "cascade_binders"

    id: int | None = Field(default=None, primary_key=True)

    objects: ClassVar[Manager[Binder]] = Manager()


class Sheet(CascadeModel, table=True):
    """Not audited itself, but its removal removes audited revisions."""

    __tablename__ = "cascade_sheets"

    id: int | None = Field(default=None, primary_key=True)
    binder_id: int = Field(foreign_key="cascade_binders.id", ondelete="CASCADE")

    objects: ClassVar[Manager[Sheet]] = Manager()


class Revision(AuditMixin, CascadeModel, table=True):
    __tablename__ = "cascade_revisions"

    id: int | None = Field(default=None, primary_key=True)
    sheet_id: int = Field(foreign_key="cascade_sheets.id", ondelete="CASCADE")

    objects: ClassVar[Manager[Revision]] = Manager()


class Shelf(SoftDeleteMixin, CascadeModel, table=True):
    """A composite key, and soft-deletable: only a hard delete cascades."""

    __tablename__ = "cascade_shelves"

    room: str = Field(primary_key=True, max_length=20)
    number: int = Field(primary_key=True)

    objects: ClassVar[Manager[Shelf]] = Manager()


class Slot(CascadeModel, table=True):
    __tablename__ = "cascade_slots"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["room", "number"], ["cascade_shelves.room", "cascade_shelves.number"], ondelete="CASCADE"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    room: str = Field(max_length=20)
    number: int

    objects: ClassVar[Manager[Slot]] = Manager()
