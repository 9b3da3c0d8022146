"""Stand-in for ``models_lookup``."""

from lk.models import Article, Author, Game, NullableJSONModel, Player, Product, Season, Stock, Tag

__all__ = ["Article", "Author", "Game", "NullableJSONModel", "Player", "Product", "Season", "Stock", "Tag"]
