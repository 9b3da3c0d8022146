"""Stand-in for ``models_queries``."""

from qq.models import Author, Cover, ExtraInfo, Item, NamedCategory, Note, Number, Ranking, Report, Tag

__all__ = [
    "Author",
    "Cover",
    "ExtraInfo",
    "Item",
    "NamedCategory",
    "Note",
    "Number",
    "Ranking",
    "Report",
    "Tag",
]
