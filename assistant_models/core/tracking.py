"""In-place changes of JSON documents: ``user.meta["plan"] = "pro"`` is saved like an assignment.

SQLAlchemy sees assignments only. Documents are held in :class:`TrackedDict` and
:class:`TrackedList` (plain ``dict``/``list`` subclasses, nested ones too); any change
at any depth flags the column of the row that owns the document, so the next flush
validates, writes and audits it like any other change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, SupportsIndex, TypeVar
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified, instance_state

__all__ = ["TrackedDict", "TrackedList", "document_keys", "track", "track_documents"]

T = TypeVar("T")


class Tracked:
    """Base of tracked containers: the rows (and column keys) a document belongs to."""

    _owners: WeakKeyDictionary[Any, str]
    _root: Tracked | None

    def _changed(self) -> None:
        root = self._root if self._root is not None else self
        for state, key in list(root._owners.items()):
            obj = state.obj()
            if obj is not None:
                flag_modified(obj, key)


def _mutating(method: Callable[..., T]) -> Callable[..., T]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        result = method(self, *args, **kwargs)
        self._adopt()
        self._changed()
        return result

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class TrackedDict(Tracked, dict[Any, Any]):
    """A JSON object whose changes, nested ones too, mark its row's column as changed."""

    def __init__(self, value: dict[Any, Any], root: Tracked | None = None) -> None:
        super().__init__(value)
        self._owners = WeakKeyDictionary()
        self._root = root
        self._adopt()

    def _adopt(self) -> None:
        root = self._root if self._root is not None else self
        for key, value in dict.items(self):
            dict.__setitem__(self, key, track(value, root))

    __setitem__ = _mutating(dict.__setitem__)
    __delitem__ = _mutating(dict.__delitem__)
    clear = _mutating(dict.clear)
    pop = _mutating(dict.pop)
    popitem = _mutating(dict.popitem)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Return the value of ``key``, storing ``default`` (tracked) first if it is missing."""
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    update = _mutating(dict.update)
    __ior__ = _mutating(dict.__ior__)


class TrackedList(Tracked, list[Any]):
    """A JSON array whose changes, nested ones too, mark its row's column as changed."""

    def __init__(self, value: list[Any], root: Tracked | None = None) -> None:
        super().__init__(value)
        self._owners = WeakKeyDictionary()
        self._root = root
        self._adopt()

    def _adopt(self) -> None:
        root = self._root if self._root is not None else self
        for index, value in enumerate(list.__iter__(self)):
            list.__setitem__(self, index, track(value, root))

    def __setitem__(self, index: SupportsIndex | slice, value: Any) -> None:
        list.__setitem__(self, index, value)
        self._adopt()
        self._changed()

    __delitem__ = _mutating(list.__delitem__)
    append = _mutating(list.append)
    extend = _mutating(list.extend)
    insert = _mutating(list.insert)
    pop = _mutating(list.pop)
    remove = _mutating(list.remove)
    clear = _mutating(list.clear)
    sort = _mutating(list.sort)
    reverse = _mutating(list.reverse)
    __iadd__ = _mutating(list.__iadd__)


def track(value: Any, root: Tracked | None = None) -> Any:
    """Return ``value`` with its containers tracked (scalars as they are)."""
    if isinstance(value, Tracked) and value._root is root:
        return value
    if isinstance(value, dict):
        return TrackedDict(value, root)
    if isinstance(value, list):
        return TrackedList(value, root)
    return value


@cache
def document_keys(model: Any) -> tuple[str, ...]:
    """Return the attribute keys of ``model``'s JSON columns."""
    mapper = sa.inspect(model)
    return tuple(a.key for a in mapper.column_attrs if isinstance(a.columns[0].type, sa.JSON))


def track_documents(obj: Any, *args: Any) -> None:
    """Hold ``obj``'s documents in tracked containers owned by it (a ``load``/attach listener)."""
    model: Any = type(obj)
    values = obj.__dict__
    for key in document_keys(model):
        value = values.get(key)
        if isinstance(value, (dict, list)):
            if not isinstance(value, Tracked) or value._root is not None:
                value = values[key] = track(value)
            value._owners[instance_state(obj)] = key
