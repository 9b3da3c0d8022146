"""Models of Django's ``basic``, ``ordering``, ``update``, ``delete``, ``get_or_create`` and
``bulk_create`` apps: each app's few models, with a registry per app.
"""

from datetime import date, datetime
from typing import ClassVar, Optional
from uuid import UUID, uuid4

from port_base import app_base
from sqlmodel import Field, Relationship

from assistant_models import Manager
from assistant_models.core.types import UTCDateTime

BasicBase = app_base("BasicBase")
OrderingBase = app_base("OrderingBase")
UpdateBase = app_base("UpdateBase")
DeleteBase = app_base("DeleteBase")
GetOrCreateBase = app_base("GetOrCreateBase")
BulkBase = app_base("BulkBase")


# -- basic ----------------------------------------------------------------------------------------


class BasicArticle(BasicBase, table=True):
    __tablename__ = "basic_article"
    __ordering__ = ("pub_date", "headline")
    id: int | None = Field(default=None, primary_key=True)
    headline: str = Field(default="Default headline", max_length=100)
    pub_date: datetime = Field(sa_type=UTCDateTime)
    objects: ClassVar[Manager["BasicArticle"]] = Manager()


class PrimaryKeyWithDefault(BasicBase, table=True):
    __tablename__ = "basic_primarykeywithdefault"
    uuid: UUID = Field(default_factory=uuid4, primary_key=True)
    objects: ClassVar[Manager["PrimaryKeyWithDefault"]] = Manager()


# -- ordering -------------------------------------------------------------------------------------


class OrderingAuthor(OrderingBase, table=True):
    __tablename__ = "ordering_author"
    __ordering__ = ("-pk",)
    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=63)
    objects: ClassVar[Manager["OrderingAuthor"]] = Manager()


class OrderingArticle(OrderingBase, table=True):
    __tablename__ = "ordering_article"
    __ordering__ = ("-pub_date", "headline", "author__name", "second_author__name")
    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="ordering_author.id")
    second_author_id: int | None = Field(default=None, foreign_key="ordering_author.id")
    headline: str = Field(max_length=100)
    pub_date: datetime = Field(sa_type=UTCDateTime)
    author: Optional["OrderingAuthor"] = Relationship(
        sa_relationship_kwargs={"foreign_keys": "OrderingArticle.author_id"}
    )
    second_author: Optional["OrderingAuthor"] = Relationship(
        sa_relationship_kwargs={"foreign_keys": "OrderingArticle.second_author_id"}
    )
    objects: ClassVar[Manager["OrderingArticle"]] = Manager()


# -- update ---------------------------------------------------------------------------------------


class DataPoint(UpdateBase, table=True):
    __tablename__ = "update_datapoint"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=20)
    value: str = Field(max_length=20)
    another_value: str = Field(default="", max_length=20)
    is_active: bool = True
    relatedpoint: list["RelatedPoint"] = Relationship(back_populates="data")
    objects: ClassVar[Manager["DataPoint"]] = Manager()


class RelatedPoint(UpdateBase, table=True):
    __tablename__ = "update_relatedpoint"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=20)
    data_id: int | None = Field(default=None, foreign_key="update_datapoint.id")
    data: Optional["DataPoint"] = Relationship(back_populates="relatedpoint")
    objects: ClassVar[Manager["RelatedPoint"]] = Manager()


class UpdateA(UpdateBase, table=True):
    __tablename__ = "update_a"
    id: int | None = Field(default=None, primary_key=True)
    x: int = 10
    b: list["UpdateB"] = Relationship(back_populates="a")
    objects: ClassVar[Manager["UpdateA"]] = Manager()


class UpdateB(UpdateBase, table=True):
    __tablename__ = "update_b"
    id: int | None = Field(default=None, primary_key=True)
    a_id: int | None = Field(default=None, foreign_key="update_a.id")
    y: int = 1
    a: Optional["UpdateA"] = Relationship(back_populates="b")
    objects: ClassVar[Manager["UpdateB"]] = Manager()


# -- delete ---------------------------------------------------------------------------------------


class R(DeleteBase, table=True):
    __tablename__ = "delete_r"
    id: int | None = Field(default=None, primary_key=True)
    is_default: bool = False
    objects: ClassVar[Manager["R"]] = Manager()


class A(DeleteBase, table=True):
    """Django's ``delete.A``, with the on_delete behaviours PostgreSQL itself can carry."""

    __tablename__ = "delete_a"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=30)
    auto_id: int | None = Field(default=None, foreign_key="delete_r.id", ondelete="CASCADE")
    setnull_id: int | None = Field(default=None, foreign_key="delete_r.id", ondelete="SET NULL")
    protect_id: int | None = Field(default=None, foreign_key="delete_r.id", ondelete="RESTRICT")
    auto: Optional["R"] = Relationship(sa_relationship_kwargs={"foreign_keys": "A.auto_id"})
    setnull: Optional["R"] = Relationship(sa_relationship_kwargs={"foreign_keys": "A.setnull_id"})
    protect: Optional["R"] = Relationship(sa_relationship_kwargs={"foreign_keys": "A.protect_id"})
    objects: ClassVar[Manager["A"]] = Manager()


class HiddenUser(DeleteBase, table=True):
    __tablename__ = "delete_hiddenuser"
    id: int | None = Field(default=None, primary_key=True)
    r_id: int | None = Field(default=None, foreign_key="delete_r.id", ondelete="CASCADE")
    objects: ClassVar[Manager["HiddenUser"]] = Manager()


class HiddenUserProfile(DeleteBase, table=True):
    __tablename__ = "delete_hiddenuserprofile"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="delete_hiddenuser.id", ondelete="CASCADE")
    objects: ClassVar[Manager["HiddenUserProfile"]] = Manager()


class Avatar(DeleteBase, table=True):
    __tablename__ = "delete_avatar"
    id: int | None = Field(default=None, primary_key=True)
    desc: str = ""
    objects: ClassVar[Manager["Avatar"]] = Manager()


class User(DeleteBase, table=True):
    __tablename__ = "delete_user"
    id: int | None = Field(default=None, primary_key=True)
    avatar_id: int | None = Field(default=None, foreign_key="delete_avatar.id", ondelete="CASCADE")
    avatar: Optional["Avatar"] = Relationship()
    objects: ClassVar[Manager["User"]] = Manager()


# -- get_or_create --------------------------------------------------------------------------------


class Person(GetOrCreateBase, table=True):
    __tablename__ = "get_or_create_person"
    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=100, unique=True)
    last_name: str = Field(max_length=100)
    birthday: date
    defaults: str | None = None
    objects: ClassVar[Manager["Person"]] = Manager()


class ManualPrimaryKeyTest(GetOrCreateBase, table=True):
    __tablename__ = "get_or_create_manualprimarykeytest"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    data: str = Field(max_length=100)
    objects: ClassVar[Manager["ManualPrimaryKeyTest"]] = Manager()


class Thing(GetOrCreateBase, table=True):
    __tablename__ = "get_or_create_thing"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    objects: ClassVar[Manager["Thing"]] = Manager()


# -- bulk_create ----------------------------------------------------------------------------------


class Country(BulkBase, table=True):
    __tablename__ = "bulk_create_country"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=255)
    iso_two_letter: str = Field(default="", max_length=2)
    description: str = ""
    objects: ClassVar[Manager["Country"]] = Manager()


class TwoFields(BulkBase, table=True):
    __tablename__ = "bulk_create_twofields"
    id: int | None = Field(default=None, primary_key=True)
    f1: int = Field(unique=True)
    f2: int = Field(unique=True)
    name: str | None = Field(default=None, max_length=15)
    objects: ClassVar[Manager["TwoFields"]] = Manager()


class UpsertConflict(BulkBase, table=True):
    __tablename__ = "bulk_create_upsertconflict"
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    rank: int
    name: str = Field(max_length=15)
    objects: ClassVar[Manager["UpsertConflict"]] = Manager()


class NoFields(BulkBase, table=True):
    __tablename__ = "bulk_create_nofields"
    id: int | None = Field(default=None, primary_key=True)
    objects: ClassVar[Manager["NoFields"]] = Manager()


class NullableFields(BulkBase, table=True):
    __tablename__ = "bulk_create_nullablefields"
    id: int | None = Field(default=None, primary_key=True)
    auto_field_id: int | None = Field(default=None, foreign_key="bulk_create_nofields.id")
    integer_field: int | None = None
    text_field: str | None = None
    auto_field: Optional["NoFields"] = Relationship()
    objects: ClassVar[Manager["NullableFields"]] = Manager()


class Restaurant(BulkBase, table=True):
    __tablename__ = "bulk_create_restaurant"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=255)
    objects: ClassVar[Manager["Restaurant"]] = Manager()


class UUIDThing(BulkBase, table=True):
    __tablename__ = "bulk_create_uuidthing"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=20)
    objects: ClassVar[Manager["UUIDThing"]] = Manager()


class UUIDChild(BulkBase, table=True):
    """A UUID-keyed child, so foreign keys set through a relation can be tested apart from integer keys."""

    __tablename__ = "bulk_create_uuidchild"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    parent_id: UUID | None = Field(default=None, foreign_key="bulk_create_uuidthing.id")
    parent: Optional["UUIDThing"] = Relationship()
    objects: ClassVar[Manager["UUIDChild"]] = Manager()
