"""Full-text search as expressions: a model's stored search vector, a web-style query, a rank.

``QuerySet.search(text)`` is ``filter(SearchMatch(text))`` plus an ordering by
:class:`SearchRank` (kept as the alias ``search_rank``), so a search composes with
every other refinement, and the rank can be annotated, ordered on or paged like any
expression.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from assistant_models.core.base import refuse_nul
from assistant_models.core.expressions import SQL, Expression, F, Namer, Scope
from assistant_models.core.tsvector import SEARCH_COLUMN
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.queryset import QuerySet

__all__ = ["RANK", "SearchMatch", "SearchQuery", "SearchRank", "SearchVector", "search", "search_vector"]

Q_ = TypeVar("Q_", bound="QuerySet[Any]")

#: The alias under which ``search()`` keeps its rank.
RANK = "search_rank"
#: Longest search text used; the rest is ignored.
MAX_TEXT = 1000


def search_vector(model: type[AssistantModel], entity: Any = None) -> SQL:
    """Return the stored ``search_vector`` column of ``model`` (through ``entity``, an alias, if given).

    Raises:
        FieldError: The model declares no searchable fields.
    """
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    if not model.__searchable__ or SEARCH_COLUMN not in table.c:
        raise FieldError([f"{model.__name__} declares no searchable fields"], model.__name__)
    source = table if entity is None or entity is model else sa.inspect(entity).selectable
    column: SQL = source.c[SEARCH_COLUMN]
    return column


def _clean(text: Any, model: str) -> str:
    if not isinstance(text, str):
        raise ValidationError.single("text", "must be a string", model)
    cleaned: str = text[:MAX_TEXT].replace("\x00", " ")  # a search is any text: NUL only separates
    refuse_nul({"text": cleaned}, model)
    return cleaned


class SearchQuery(Expression):
    """A web-style query (``"exact phrase" or -word``); any text is valid, none raises.

    In a query the text is a bound parameter, so every search of one shape shares one
    statement, whatever it looks for.
    """

    def __init__(self, text: str, config: str = "english") -> None:
        if not isinstance(config, str) or not config.isidentifier():
            raise ValidationError.single("config", "is not a text search configuration name")
        self.text = _clean(text, "SearchQuery")
        self.config = config
        self.param: str | None = None  # the name of the text's parameter, once bound

    @property
    def shape(self) -> Hashable | None:
        """Return the configuration and parameter name: the text is a value, not SQL."""
        return None if self.param is None else ("search_query", self.config, self.param)

    def bind(self, name: Namer) -> SearchQuery:
        """Return a copy whose text is the query parameter ``name(text)``."""
        bound = object.__new__(SearchQuery)
        bound.__dict__.update(self.__dict__, param=name(self.text))
        return bound

    def resolve(self, scope: Scope) -> SQL:
        """Return ``websearch_to_tsquery(config, text)``."""
        regconfig: Any = sa.literal_column(f"'{self.config}'::regconfig")
        if self.param is None:
            text: Any = sa.literal(self.text, sa.Text)
        else:
            text = scope.parameter(self.param, self.text, sa.Text())
        return sa.func.websearch_to_tsquery(regconfig, text)


class SearchVector(Expression):
    """The stored search vector of the rows being queried (the model's ``__searchable__`` fields)."""

    @property
    def shape(self) -> Hashable:
        """Return a constant: the vector is the queried model's."""
        return ("search_vector",)

    def resolve(self, scope: Scope) -> SQL:
        """Return the query's model's ``search_vector`` column."""
        return search_vector(scope.model, scope.entity)


class SearchMatch(Expression):
    """Whether a row matches a :class:`SearchQuery` (``search_vector @@ query``): a filter condition."""

    def __init__(self, query: SearchQuery | str) -> None:
        self.query = query if isinstance(query, SearchQuery) else SearchQuery(query)
        self.vector = SearchVector()

    def children(self) -> tuple[Expression, ...]:
        """Return the vector and the query."""
        return (self.vector, self.query)

    @property
    def shape(self) -> Hashable | None:
        """Return the kind of expression and the query's shape."""
        query = self.query.shape
        return None if query is None else (type(self).__name__, query)

    def bind(self, name: Namer) -> SearchMatch:
        """Return a copy whose query text is a parameter."""
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__, query=self.query.bind(name))
        return bound

    def resolve(self, scope: Scope) -> SQL:
        """Return ``vector @@ query``."""
        return self.vector.resolve(scope).bool_op("@@")(self.query.resolve(scope))


class SearchRank(SearchMatch):
    """How well a row matches a :class:`SearchQuery` (``ts_rank_cd``, larger is better)."""

    def resolve(self, scope: Scope) -> SQL:
        """Return ``ts_rank_cd(vector, query)``."""
        return sa.func.ts_rank_cd(self.vector.resolve(scope), self.query.resolve(scope), type_=sa.Float())


def search(qs: Q_, text: str) -> Q_:
    """Return ``qs`` narrowed to rows matching ``text``, best matches first (alias ``search_rank``)."""
    model = qs.model
    if not model.__searchable__:
        raise FieldError([f"{model.__name__} declares no searchable fields"], model.__name__)
    query = SearchQuery(text, model.__search_config__)
    return qs.filter(SearchMatch(query)).alias(**{RANK: SearchRank(query)}).order_by(F(RANK).desc())
