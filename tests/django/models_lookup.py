"""Models of Django's ``tests/lookup`` app (plus the JSON model the JSONB lookups need).

Reverse relations are named as Django's query names (``Author.article``, ``Article.tag``)
so the ported lookups read as Django's.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Optional

from port_base import app_base
from sqlmodel import Field, Relationship

from assistant_models import Manager
from assistant_models.core.types import JSONB, UTCDateTime

Base = app_base("LookupBase")


class Author(Base, table=True):
    __tablename__ = "lookup_author"
    __ordering__ = ("name",)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    alias: str | None = Field(default=None, max_length=50)
    article: list["Article"] = Relationship(back_populates="author")
    objects: ClassVar[Manager["Author"]] = Manager()


class TagArticle(Base, table=True):
    __tablename__ = "lookup_tag_articles"
    tag_id: int | None = Field(default=None, foreign_key="lookup_tag.id", primary_key=True)
    article_id: int | None = Field(default=None, foreign_key="lookup_article.id", primary_key=True)


class Article(Base, table=True):
    __tablename__ = "lookup_article"
    __ordering__ = ("-pub_date", "headline")
    id: int | None = Field(default=None, primary_key=True)
    headline: str = Field(max_length=100)
    pub_date: datetime = Field(sa_type=UTCDateTime)
    author_id: int | None = Field(default=None, foreign_key="lookup_author.id", ondelete="SET NULL")
    slug: str | None = Field(default=None, max_length=80, unique=True)
    author: Optional["Author"] = Relationship(back_populates="article")
    tag: list["Tag"] = Relationship(back_populates="articles", link_model=TagArticle)
    objects: ClassVar[Manager["Article"]] = Manager()


class Tag(Base, table=True):
    __tablename__ = "lookup_tag"
    __ordering__ = ("name",)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    articles: list["Article"] = Relationship(back_populates="tag", link_model=TagArticle)
    objects: ClassVar[Manager["Tag"]] = Manager()


class Season(Base, table=True):
    __tablename__ = "lookup_season"
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(ge=0)
    gt: int | None = None
    nulled_text_field: str | None = None
    games: list["Game"] = Relationship(back_populates="season")
    objects: ClassVar[Manager["Season"]] = Manager()


class GamePlayer(Base, table=True):
    __tablename__ = "lookup_player_games"
    player_id: int | None = Field(default=None, foreign_key="lookup_player.id", primary_key=True)
    game_id: int | None = Field(default=None, foreign_key="lookup_game.id", primary_key=True)


class Game(Base, table=True):
    __tablename__ = "lookup_game"
    id: int | None = Field(default=None, primary_key=True)
    season_id: int | None = Field(default=None, foreign_key="lookup_season.id", ondelete="CASCADE")
    home: str = Field(max_length=100)
    away: str = Field(max_length=100)
    season: Optional["Season"] = Relationship(back_populates="games")
    players: list["Player"] = Relationship(back_populates="games", link_model=GamePlayer)
    objects: ClassVar[Manager["Game"]] = Manager()


class Player(Base, table=True):
    __tablename__ = "lookup_player"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    games: list["Game"] = Relationship(back_populates="players", link_model=GamePlayer)
    objects: ClassVar[Manager["Player"]] = Manager()


class Product(Base, table=True):
    __tablename__ = "lookup_product"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    qty_target: Decimal = Field(max_digits=6, decimal_places=2)
    stock: list["Stock"] = Relationship(back_populates="product")
    objects: ClassVar[Manager["Product"]] = Manager()


class Stock(Base, table=True):
    __tablename__ = "lookup_stock"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int | None = Field(default=None, foreign_key="lookup_product.id")
    qty_available: Decimal = Field(max_digits=6, decimal_places=2)
    product: Optional["Product"] = Relationship(back_populates="stock")
    objects: ClassVar[Manager["Stock"]] = Manager()


class NullableJSONModel(Base, table=True):
    """Django's ``model_fields.NullableJSONModel``: the JSONB lookups' data."""

    __tablename__ = "lookup_json"
    id: int | None = Field(default=None, primary_key=True)
    value: Any = Field(default=None, sa_type=JSONB, nullable=True)
    objects: ClassVar[Manager["NullableJSONModel"]] = Manager()
