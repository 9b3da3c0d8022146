"""Stand-in for ``models_aggregation``."""

from ag.models import Author, Book, Publisher, Store

__all__ = ["Author", "Book", "Publisher", "Store"]
