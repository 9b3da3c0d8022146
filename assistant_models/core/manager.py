"""Manager: a model's entry point, ``Model.objects``.

A Manager is generated from its QuerySet by inheritance: it *is* the model's root
QuerySet, so every chainable method lives once, on :class:`QuerySet`, and keeps
its precise type (``Task.objects.filter(...)`` is a ``TaskManager`` narrowed by the
filter). Subclasses add the table-level lifecycle methods of a domain
(``Task.objects.claim_next(worker)``); those respect any filters chained before them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from assistant_models.core.concerns import ALL, DELETED, LIVE
from assistant_models.core.persistence import adopt, attach, translating
from assistant_models.core.query import Query
from assistant_models.core.queryset import QuerySet

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel

__all__ = ["ALL", "DELETED", "LIVE", "Manager"]

M = TypeVar("M", bound="AssistantModel")


class Manager(QuerySet[M]):
    """The root QuerySet of a model, bound to it as a class attribute.

    Example:
        >>> class Task(..., table=True):  # doctest: +SKIP
        ...     objects: ClassVar[TaskManager] = TaskManager()
        ...     all_objects: ClassVar[TaskManager] = TaskManager(visibility="all")

    Args:
        visibility: ``"live"`` (default) hides soft-deleted rows, ``"all"`` shows every
            row, ``"deleted"`` only soft-deleted ones.
    """

    def __init__(self, visibility: str = LIVE) -> None:
        if visibility not in (LIVE, ALL, DELETED):
            raise ValueError(f"visibility must be {LIVE!r}, {ALL!r} or {DELETED!r}")
        super().__init__(None, visibility)
        self._bound: dict[type[Any], Any] = {}
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type[Any]) -> Self:
        if instance is not None:
            raise AttributeError(
                f"{self.name or 'a manager'} is reachable from the class, not from instances"
            )
        bound = self._bound.get(owner)
        if bound is None:
            bound = self._chain(Query(owner, self.query.visibility))
            bound.model = owner
            bound._root_query = bound.query
            bound._bound = {}
            bound._keeps_rows = False  # it lives as long as its model: each use queries afresh
            self._bound[owner] = bound
        return bound

    def get_queryset(self) -> Self:
        """Return a fresh QuerySet over this manager's rows (Django's hook for overriding)."""
        return self._chain()

    def _save(self, obj: M) -> M:
        """Flush ``obj``'s changes in this manager's unit of work (validated and audited on the way)."""
        session = self.session
        with translating():
            written = attach(session, obj)
            session.flush()
            adopt(obj, written)
        return written

    def __repr__(self) -> str:
        model = getattr(self.model, "__name__", "unbound")
        return f"<{type(self).__name__} {model} {self.query.visibility}>"
