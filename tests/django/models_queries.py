"""Models of Django's ``tests/queries`` app: the part Queries1Tests and its neighbours use.

Default orderings follow Django's ``Meta.ordering``; ``Item``'s ``-note`` (ordering by a
foreign key, which Django expands to the target's ordering) is spelled ``-note__note``.
Reverse relations carry Django's query names (``item``, ``report``, ``ranking``).
"""

from datetime import datetime
from typing import ClassVar, Optional

from port_base import app_base
from sqlmodel import Field, Relationship

from assistant_models import Manager
from assistant_models.core.types import UTCDateTime

Base = app_base("QueriesBase")


class NamedCategory(Base, table=True):
    __tablename__ = "queries_namedcategory"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=10)
    tag: list["Tag"] = Relationship(back_populates="category")
    objects: ClassVar[Manager["NamedCategory"]] = Manager()


class ItemTag(Base, table=True):
    __tablename__ = "queries_item_tags"
    item_id: int | None = Field(default=None, foreign_key="queries_item.id", primary_key=True)
    tag_id: int | None = Field(default=None, foreign_key="queries_tag.id", primary_key=True)


class Tag(Base, table=True):
    __tablename__ = "queries_tag"
    __ordering__ = ("name",)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=10)
    parent_id: int | None = Field(default=None, foreign_key="queries_tag.id")
    category_id: int | None = Field(default=None, foreign_key="queries_namedcategory.id")
    parent: Optional["Tag"] = Relationship(
        back_populates="children", sa_relationship_kwargs={"remote_side": "Tag.id"}
    )
    children: list["Tag"] = Relationship(back_populates="parent")
    category: Optional["NamedCategory"] = Relationship(back_populates="tag")
    item: list["Item"] = Relationship(back_populates="tags", link_model=ItemTag)
    objects: ClassVar[Manager["Tag"]] = Manager()


class Note(Base, table=True):
    __tablename__ = "queries_note"
    __ordering__ = ("note",)
    id: int | None = Field(default=None, primary_key=True)
    note: str = Field(max_length=100)
    misc: str = Field(max_length=25)
    negate: bool = True
    extrainfo: list["ExtraInfo"] = Relationship(back_populates="note")
    item: list["Item"] = Relationship(back_populates="note")
    objects: ClassVar[Manager["Note"]] = Manager()


class ExtraInfo(Base, table=True):
    __tablename__ = "queries_extrainfo"
    __ordering__ = ("info",)
    id: int | None = Field(default=None, primary_key=True)
    info: str = Field(max_length=100)
    note_id: int | None = Field(default=None, foreign_key="queries_note.id")
    value: int
    filterable: bool = True
    note: Optional["Note"] = Relationship(back_populates="extrainfo")
    author: list["Author"] = Relationship(back_populates="extra")
    objects: ClassVar[Manager["ExtraInfo"]] = Manager()


class Author(Base, table=True):
    __tablename__ = "queries_author"
    __ordering__ = ("name",)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=10)
    num: int = Field(unique=True)
    extra_id: int | None = Field(default=None, foreign_key="queries_extrainfo.id")
    extra: Optional["ExtraInfo"] = Relationship(back_populates="author")
    item: list["Item"] = Relationship(back_populates="creator")
    report: list["Report"] = Relationship(back_populates="creator")
    ranking: list["Ranking"] = Relationship(back_populates="author")
    objects: ClassVar[Manager["Author"]] = Manager()


class Item(Base, table=True):
    __tablename__ = "queries_item"
    __ordering__ = ("-note__note", "name")
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=10)
    created: datetime = Field(sa_type=UTCDateTime)
    modified: datetime | None = Field(default=None, sa_type=UTCDateTime)
    creator_id: int | None = Field(default=None, foreign_key="queries_author.id")
    note_id: int | None = Field(default=None, foreign_key="queries_note.id")
    creator: Optional["Author"] = Relationship(back_populates="item")
    note: Optional["Note"] = Relationship(back_populates="item")
    tags: list["Tag"] = Relationship(back_populates="item", link_model=ItemTag)
    cover: list["Cover"] = Relationship(back_populates="item")
    objects: ClassVar[Manager["Item"]] = Manager()


class Report(Base, table=True):
    __tablename__ = "queries_report"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=10)
    creator_id: int | None = Field(default=None, foreign_key="queries_author.id")
    creator: Optional["Author"] = Relationship(back_populates="report")
    objects: ClassVar[Manager["Report"]] = Manager()


class Ranking(Base, table=True):
    __tablename__ = "queries_ranking"
    __ordering__ = ("rank",)
    id: int | None = Field(default=None, primary_key=True)
    rank: int
    author_id: int | None = Field(default=None, foreign_key="queries_author.id")
    author: Optional["Author"] = Relationship(back_populates="ranking")
    objects: ClassVar[Manager["Ranking"]] = Manager()


class Cover(Base, table=True):
    __tablename__ = "queries_cover"
    __ordering__ = ("-item__note__note", "item__name")  # Django: ordering = ["item"]
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=50)
    item_id: int | None = Field(default=None, foreign_key="queries_item.id")
    item: Optional["Item"] = Relationship(back_populates="cover")
    objects: ClassVar[Manager["Cover"]] = Manager()


class Number(Base, table=True):
    __tablename__ = "queries_number"
    id: int | None = Field(default=None, primary_key=True)
    num: int
    other_num: int | None = None
    another_num: int | None = None
    objects: ClassVar[Manager["Number"]] = Manager()
