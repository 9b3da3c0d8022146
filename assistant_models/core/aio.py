"""The async twin: an ``a``-prefixed awaitable for every terminal and manager method.

Nothing here repeats the core. Each twin runs its synchronous method inside
SQLAlchemy's greenlet bridge (:func:`sqlalchemy.util.greenlet_spawn`, what
``AsyncSession.run_sync`` uses): the sync code runs unchanged, and each time the
asyncpg driver has to wait, the greenlet hands the wait to the event loop. The
twins are generated when a QuerySet class is created, so a domain manager's new
method gets its twin without a line of code (``claim_next`` -> ``aclaim_next``).

Rules of the generation, applied to the methods a class defines itself:

- public plain functions only (no ``_private``, dunders, properties or ``async def``);
- methods returning ``Self`` or a QuerySet class are chainable and get no twin
  (``filter``, ``order_by``, ``TaskManager.due``): they send no SQL;
- a generator method (``iterator``) gets an async-generator twin that fetches each
  item in the bridge;
- a twin written by hand (an ``a``-named attribute already there) is kept.

A twin needs an async unit of work (``async with db.asession():``); with a
synchronous session current it raises :class:`AsyncUsageError` rather than block
the event loop. Relationship and expired-attribute loads that would need I/O
outside the bridge raise :class:`RelationNotLoadedError` / :class:`AsyncUsageError`
instead of SQLAlchemy's ``MissingGreenlet``.
"""

from __future__ import annotations

import inspect
import threading
import typing
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

from assistant_models.exceptions import AsyncUsageError, RelationNotLoadedError, SessionRequiredError

if TYPE_CHECKING:
    from assistant_models.core.aggregates import Aggregate
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.expressions import Expression, Q
    from assistant_models.core.pagination import CursorPage, Page

__all__ = [
    "AsyncBridgeSession",
    "AsyncQuerySetMixin",
    "add_async_twins",
    "install_async_guard",
    "is_async_session",
    "run_bridged",
]

M = TypeVar("M", bound="AssistantModel")
T = TypeVar("T")

#: Attribute of a generated twin naming the sync method it runs (for tools and tests).
TWIN_OF = "__async_twin_of__"
_DONE = object()


class AsyncBridgeSession(Session):
    """The synchronous session inside an ``AsyncSession`` of this package.

    Its own class, so the guard against I/O outside the bridge listens to async
    units of work only and costs synchronous ones nothing.
    """


def is_async_session(session: Session) -> bool:
    """Return whether ``session`` talks to an async driver (the sync face of an ``AsyncSession``)."""
    bind = session.bind
    return bind is not None and bool(bind.dialect.is_async)


def _async_session_of(qs: Any, twin: str, sync: str) -> Session:
    """Return the session ``qs`` runs in, refusing a missing or synchronous one with a clear error.

    ``twin`` and ``sync`` name the call made and its synchronous counterpart, for the message.
    """
    try:
        session: Session = qs.session
    except SessionRequiredError:
        raise SessionRequiredError(
            f"{twin} needs a unit of work: wrap the call in `async with db.asession():` "
            "(db = assistant_models.Database())"
        ) from None
    if not is_async_session(session):
        raise AsyncUsageError(
            f"{twin} needs an async unit of work (`async with db.asession():`), but a "
            f"synchronous session is current: use {sync} instead, or open db.asession()"
        )
    return session


async def run_bridged(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the synchronous ``fn`` in the greenlet bridge, so its database waits are awaited."""
    return await greenlet_spawn(fn, *args, **kwargs)


def _coroutine_twin(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        _async_session_of(self, f"a{name}()", f"{name}()")
        # getattr at call time: a subclass overriding ``name`` is what its twin runs
        return await greenlet_spawn(getattr(self, name), *args, **kwargs)

    return twin


def _generator_twin(name: str) -> Callable[..., AsyncIterator[Any]]:
    async def twin(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        _async_session_of(self, f"a{name}()", f"{name}()")
        items: Iterator[Any] = getattr(self, name)(*args, **kwargs)
        try:
            while (item := await greenlet_spawn(next, items, _DONE)) is not _DONE:
                yield item
        finally:
            await greenlet_spawn(getattr(items, "close", lambda: None))

    return twin


def _returns_queryset(fn: Callable[..., Any], chainable: set[str]) -> bool:
    """Tell from the return annotation whether ``fn`` is chainable (returns a QuerySet)."""
    returned = inspect.get_annotations(fn).get("return")
    if isinstance(returned, str):  # ``from __future__ import annotations``: the text is enough
        name = returned.strip("'\"").split("[", 1)[0].strip()  # ``QuerySet[Any]`` is a QuerySet
    else:
        name = getattr(typing.get_origin(returned) or returned, "__name__", "")
    return name in chainable


#: Names of every class that got twins, and ``Self``: the return annotations of chainable methods.
_CHAINABLE = {"Self"}


#: Public methods that build SQL and never run it, though they return no QuerySet.
_BUILDERS = frozenset({"compiler", "statement"})


def _twinnable(name: str, value: Any, cls: type[Any]) -> bool:
    if name.startswith("_") or name in _BUILDERS or hasattr(cls, f"a{name}"):
        return False
    if (
        not inspect.isfunction(value)
        or inspect.iscoroutinefunction(value)
        or inspect.isasyncgenfunction(value)
    ):
        return False
    return not _returns_queryset(value, _CHAINABLE)


def add_async_twins(cls: type[Any]) -> None:
    """Give ``cls`` an ``a``-prefixed awaitable twin of each of its own terminal methods."""
    _CHAINABLE.add(cls.__name__)
    for name, value in list(vars(cls).items()):
        if not _twinnable(name, value, cls):
            continue
        make = _generator_twin if inspect.isgeneratorfunction(value) else _coroutine_twin
        twin = make(name)
        twin.__name__ = f"a{name}"
        twin.__qualname__ = f"{cls.__qualname__}.a{name}"
        twin.__module__ = cls.__module__
        twin.__doc__ = f"Awaitable twin of :meth:`{name}`, run in an async unit of work."
        setattr(twin, "__signature__", inspect.signature(value))  # noqa: B010 - not a declared attribute
        setattr(twin, TWIN_OF, name)
        setattr(cls, f"a{name}", twin)


async def _aiter_rows(qs: Iterable[M]) -> AsyncIterator[M]:
    rows: list[M] = await greenlet_spawn(list, qs)
    for row in rows:
        yield row


class AsyncQuerySetMixin(Generic[M]):
    """Give a QuerySet class (and every subclass) its async twins; ``async for`` over its rows.

    The explicit signatures below are for type checkers only: at run time the twins
    are generated from the sync methods. A domain method's twin is typed by the
    ``__getattr__`` fallback (an awaitable of ``Any``).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        add_async_twins(cls)

    def __aiter__(self) -> AsyncIterator[M]:
        """Iterate over the rows (one query, in the bridge): ``async for task in qs``."""
        _async_session_of(self, "`async for`", "`for`")
        return _aiter_rows(cast("Iterable[M]", self))

    if TYPE_CHECKING:

        async def aget(self, *args: Q | Expression, **kwargs: Any) -> M:
            """Await :meth:`get`."""

        async def afirst(self) -> M | None:
            """Await :meth:`first`."""

        async def alast(self) -> M | None:
            """Await :meth:`last`."""

        async def alatest(self, *fields: str) -> M:
            """Await :meth:`latest`."""

        async def aearliest(self, *fields: str) -> M:
            """Await :meth:`earliest`."""

        async def aexists(self) -> bool:
            """Await :meth:`exists`."""

        async def acontains(self, obj: M) -> bool:
            """Await :meth:`contains`."""

        async def acount(self) -> int:
            """Await :meth:`count`."""

        async def ain_bulk(
            self, id_list: Sequence[Any] | None = None, *, field_name: str = "pk"
        ) -> dict[Any, M]:
            """Await :meth:`in_bulk`."""

        def aiterator(self, chunk_size: int = 1000) -> AsyncIterator[M]:
            """Iterate over :meth:`iterator` in the bridge, a chunk at a time: ``async for``."""

        async def aaggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
            """Await :meth:`aggregate`."""

        async def aexplain(self, analyze: bool = False) -> str:
            """Await :meth:`explain`."""

        async def aexecute(self, stmt: Any, params: dict[str, Any] | None = None) -> Any:
            """Await :meth:`execute`."""

        async def apaginate(self, page: int = 1, per_page: int = 20) -> Page[M]:
            """Await :meth:`paginate`."""

        async def acursor_paginate(self, first: int = 20, after: str | None = None) -> CursorPage[M]:
            """Await :meth:`cursor_paginate`."""

        async def acreate(self, **values: Any) -> M:
            """Await :meth:`create`."""

        async def aupdate(self, **values: Any) -> int:
            """Await :meth:`update`."""

        async def adelete(self, hard: bool = False) -> tuple[int, dict[str, int]]:
            """Await :meth:`delete`."""

        async def abulk_create(
            self,
            objs: Sequence[M],
            batch_size: int | None = None,
            *,
            ignore_conflicts: bool = False,
            update_conflicts: bool = False,
            unique_fields: Sequence[str] | None = None,
            update_fields: Sequence[str] | None = None,
        ) -> list[M]:
            """Await :meth:`bulk_create`."""

        async def abulk_update(
            self, objs: Sequence[M], fields: Sequence[str], batch_size: int | None = None
        ) -> int:
            """Await :meth:`bulk_update`."""

        async def abulk_insert(
            self, rows: Iterable[Mapping[str, Any]], *, batch_size: int | None = None
        ) -> int:
            """Await :meth:`bulk_insert`."""

        async def aget_or_create(
            self,
            defaults: dict[str, Any] | None = None,
            create_defaults: dict[str, Any] | None = None,
            **lookups: Any,
        ) -> tuple[M, bool]:
            """Await :meth:`get_or_create`."""

        async def aupdate_or_create(
            self,
            defaults: dict[str, Any] | None = None,
            create_defaults: dict[str, Any] | None = None,
            **lookups: Any,
        ) -> tuple[M, bool]:
            """Await :meth:`update_or_create`."""

        def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]: ...


# -- the guard: I/O outside the bridge ----------------------------------------------------

_guard_lock = threading.Lock()
_guard_installed = False


def install_async_guard() -> None:
    """Make I/O outside the bridge raise a clear error in async units of work; idempotent."""
    global _guard_installed
    with _guard_lock:
        if not _guard_installed:
            event.listen(AsyncBridgeSession, "do_orm_execute", _refuse_io_outside_bridge)
            _guard_installed = True


def _relation_name(state: ORMExecuteState) -> str:
    """Return ``Model.relation`` for a relationship load, as well as the path tells it."""
    path = state.loader_strategy_path
    prop = path[-1] if path is not None and len(path) else None
    owner = state.lazy_loaded_from
    model = owner.class_.__name__ if owner is not None else "a model"
    return f"{model}.{getattr(prop, 'key', 'relation')}"


def _refuse_io_outside_bridge(state: ORMExecuteState) -> None:
    if in_greenlet():
        return
    if state.is_relationship_load:
        name = _relation_name(state)
        relation = name.rpartition(".")[2]
        raise RelationNotLoadedError(
            f"{name} is not loaded, and loading it now would need I/O outside an awaited call: "
            f"load it with the query, select_related({relation!r}) or prefetch_related({relation!r})"
        )
    if state.is_column_load:
        raise AsyncUsageError(
            "reading an expired or deferred attribute needs I/O outside an awaited call: "
            "load the object again with an awaited query (or `await session.refresh(obj)`)"
        )
    raise AsyncUsageError(
        "a synchronous call sent SQL in an async unit of work: await its a-prefixed twin "
        "(acount() for count(), aclaim_next() for claim_next()), or run other sync code "
        "(obj.delete(), obj.save()) with `await assistant_models.aio.run_bridged(fn)`"
    )
