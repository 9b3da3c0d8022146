"""Full-text search as expressions: a model's search vector, a web-style query, a rank.

``QuerySet.search(text)`` is ``filter(SearchMatch(text))`` plus an ordering by
:class:`SearchRank` (kept as the alias ``search_rank``), so a search composes with
every other refinement, and the rank can be annotated, ordered on or paged like any
expression.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from assistant_models.core.base import refuse_nul
from assistant_models.core.expressions import SQL, Expression, F, Scope
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.queryset import QuerySet

__all__ = ["RANK", "SearchMatch", "SearchQuery", "SearchRank", "search", "search_index", "search_vector"]

Q_ = TypeVar("Q_", bound="QuerySet[Any]")

#: The alias under which ``search()`` keeps its rank.
RANK = "search_rank"
#: Longest search text used; the rest is ignored.
MAX_TEXT = 1000


def search_vector(model: type[AssistantModel], entity: Any = None) -> SQL:
    """Return the weighted ``tsvector`` expression over the model's searchable fields.

    The configuration and weights are the model's own constants, checked here and
    rendered as SQL literals, so the expression's text is fixed and the GIN index of
    :func:`search_index` serves it.
    """
    config = model.__search_config__
    weights = model.__searchable__
    if (
        not weights
        or not config.isidentifier()
        or any(w not in "ABCD" or len(w) != 1 for w in weights.values())
    ):
        raise FieldError(
            [f"{model.__name__} declares no valid search (__searchable__, __search_config__)"], model.__name__
        )
    regconfig: Any = sa.literal_column(f"'{config}'::regconfig")
    source: Any = model.__table__ if entity is None else entity  # type: ignore[attr-defined]
    parts = [
        sa.func.setweight(
            sa.func.to_tsvector(regconfig, sa.func.coalesce(_column(source, name), sa.literal_column("''"))),
            sa.literal_column(f"'{weight}'"),
        )
        for name, weight in weights.items()
    ]
    vector: Any = parts[0]
    for part in parts[1:]:
        vector = vector.op("||")(part)
    return vector  # type: ignore[no-any-return]


def _column(source: Any, name: str) -> Any:
    columns = getattr(source, "c", None)
    return columns[name] if columns is not None else getattr(source, name)


def search_index(model: type[AssistantModel]) -> sa.Index:
    """Return the GIN index that serves searches of ``model``."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    # A functional index whose columns sit inside function calls is not attached to
    # its table automatically; ``_table`` attaches it (SQLAlchemy's own hook).
    return sa.Index(
        f"ix_{model.__tablename__}__search", search_vector(model), postgresql_using="gin", _table=table
    )


def _clean(text: Any, model: str) -> str:
    if not isinstance(text, str):
        raise ValidationError.single("text", "must be a string", model)
    cleaned: str = text[:MAX_TEXT].replace("\x00", " ")  # a search is any text: NUL only separates
    refuse_nul({"text": cleaned}, model)
    return cleaned


class SearchQuery(Expression):
    """A web-style query (``"exact phrase" or -word``); any text is valid, none raises."""

    def __init__(self, text: str, config: str = "english") -> None:
        if not config.isidentifier():
            raise ValidationError.single("config", "is not a text search configuration name")
        self.text = text
        self.config = config

    def resolve(self, scope: Scope) -> SQL:
        """Return ``websearch_to_tsquery(config, text)``."""
        regconfig: Any = sa.literal_column(f"'{self.config}'::regconfig")
        return sa.func.websearch_to_tsquery(regconfig, sa.literal(self.text, sa.Text))


class _ModelVector(Expression):
    def __init__(self, model: type[AssistantModel]) -> None:
        self.model = model

    def resolve(self, scope: Scope) -> SQL:
        entity = getattr(scope, "entity", None)
        return search_vector(self.model, None if entity is self.model else entity)


class SearchMatch(Expression):
    """Whether a row's search vector matches a :class:`SearchQuery` (``@@``)."""

    def __init__(self, model: type[AssistantModel], query: SearchQuery) -> None:
        self.vector = _ModelVector(model)
        self.query = query

    def resolve(self, scope: Scope) -> SQL:
        """Return ``vector @@ query``."""
        return self.vector.resolve(scope).bool_op("@@")(self.query.resolve(scope))


class SearchRank(SearchMatch):
    """How well a row matches (``ts_rank_cd``): larger is better."""

    def resolve(self, scope: Scope) -> SQL:
        """Return ``ts_rank_cd(vector, query)``."""
        return sa.func.ts_rank_cd(self.vector.resolve(scope), self.query.resolve(scope), type_=sa.Float())


def search(qs: Q_, text: str) -> Q_:
    """Return ``qs`` narrowed to rows matching ``text``, best matches first (alias ``search_rank``)."""
    model = qs.model
    if not model.__searchable__:
        raise FieldError([f"{model.__name__} declares no searchable fields"], model.__name__)
    query = SearchQuery(_clean(text, model.__name__), model.__search_config__)
    return (
        qs.filter(SearchMatch(model, query))
        .alias(**{RANK: SearchRank(model, query)})
        .order_by(F(RANK).desc())
    )
