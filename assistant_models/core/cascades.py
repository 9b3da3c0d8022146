"""Rows PostgreSQL removes through ``ON DELETE CASCADE``, deleted and counted in the parent's statement.

Django's ``delete()`` counts every row it removes, cascades included. The database
cascades silently, so the parent's ``DELETE`` carries one data-modifying CTE per
cascading table: it deletes the children first and returns their keys (``DELETE ...
RETURNING``), and the grandchildren's CTEs read those keys in turn. The counts are
the rows the database removed, in the same statement, snapshot and round trip.

A child whose model is audited, or through which audited rows would change, is left
out of the plan: :mod:`assistant_models.core.deletes` deletes it through its own
QuerySet first, so every changed row gets its audit row. A table that refers to
itself (a tree) is walked with a recursive CTE; a cycle through other tables is cut
where it closes (the database still cascades past it, uncounted).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assistant_models.core.base import AssistantModel, metadata
from assistant_models.core.concerns import Audited, concern
from assistant_models.core.statements import LRU

__all__ = [
    "Cascade",
    "cascade_ctes",
    "hooked",
    "is_cascade",
    "mapped_class",
    "missing_extensions",
    "plan",
    "returned_columns",
    "table_extensions",
]

_PLANS, _HOOKED, _REFERENCES, _CLASSES = LRU(256), LRU(256), LRU(512), LRU(512)
#: Key of a connection's ``info`` holding the extensions its database has.
_INSTALLED = "assistant_models.installed_extensions"


@dataclass(frozen=True)
class Cascade:
    """A table whose rows go when rows of its parent go, and what goes with them.

    Attributes:
        table: The child table.
        model: The class mapped to it, or ``None`` (an association table).
        fks: Its ``ON DELETE CASCADE`` keys to the parent.
        selfrefs: Its ``ON DELETE CASCADE`` keys to itself (walked recursively).
        children: The tables that cascade from it in turn.
    """

    table: sa.Table
    model: type[Any] | None
    fks: tuple[sa.ForeignKeyConstraint, ...]
    selfrefs: tuple[sa.ForeignKeyConstraint, ...]
    children: tuple[Cascade, ...]

    @property
    def name(self) -> str:
        """Return the key of this table's count: its model's name, else the table's."""
        return self.table.name if self.model is None else self.model.__name__


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def mapped_class(table: sa.Table) -> type[Any] | None:
    """Return the model class mapped to ``table``, or ``None``."""

    def build() -> Any:  # False, not None, caches "no class"
        return next((c for c in _subclasses(AssistantModel) if c.__dict__.get("__table__") is table), False)

    return _cached(_CLASSES, (table,), table, build) or None


def _audited(table: sa.Table) -> bool:
    model = mapped_class(table)
    return model is not None and concern(model, Audited) is not None


def _cached(cache: LRU, key: tuple[Any, ...], table: sa.Table, build: Any) -> Any:
    """Return ``build()`` cached under ``key`` and the size of ``table``'s metadata (new tables renew it)."""
    key = (*key, len(table.metadata.tables))
    found = cache.get(key)
    if found is None:
        found = build()
        cache.put(key, found)
    return found


def table_extensions(table: sa.Table) -> frozenset[str]:
    """Return the PostgreSQL extensions ``table``'s column types need (pgvector's ``vector``...)."""
    return frozenset(e for c in table.columns if (e := getattr(c.type, "extension", None)) is not None)


@functools.cache
def _needed(_tables: int) -> frozenset[str]:
    """Return the extensions the package's tables need (cached by the number of tables)."""
    return frozenset().union(*(table_extensions(t) for t in metadata.tables.values()))


def missing_extensions(session: Session) -> frozenset[str]:
    """Return the extensions some model table needs that the session's database lacks.

    Their tables are not in that database (migrations leave their branch out), so no
    statement may name them. Read once per connection, and only if a table needs one.
    """
    needed = _needed(len(metadata.tables))
    if not needed:
        return frozenset()
    info = session.connection().info
    installed = info.get(_INSTALLED)
    if installed is None:
        rows = session.connection().execute(sa.text("SELECT extname FROM pg_extension"))
        installed = info[_INSTALLED] = frozenset(rows.scalars())
    return needed - installed


def referencing(
    parent: sa.Table, actions: tuple[str, ...], missing: frozenset[str] = frozenset()
) -> list[tuple[sa.Table, sa.ForeignKeyConstraint]]:
    """Return the foreign keys to ``parent`` whose ``ON DELETE`` is one of ``actions``, by table name.

    Tables needing one of the ``missing`` extensions are left out: the database has none.
    """

    def build() -> list[tuple[sa.Table, sa.ForeignKeyConstraint]]:
        found = [
            (table, fk)
            for table in parent.metadata.tables.values()
            for fk in table.foreign_key_constraints
            if fk.referred_table is parent
            and _action(fk) in actions
            and not table_extensions(table) & missing
        ]
        return sorted(found, key=lambda pair: (pair[0].name, [c.name for c in pair[1].columns]))

    return _cached(_REFERENCES, (parent, actions, missing), parent, build)  # type: ignore[no-any-return]


def _action(fk: sa.ForeignKeyConstraint) -> str:
    return (fk.ondelete or "NO ACTION").upper()


def needs_own_delete(table: sa.Table, seen: frozenset[sa.Table] = frozenset()) -> bool:
    """Return whether deleting ``table``'s rows changes audited rows (its own or by cascade)."""
    if _audited(table):
        return True
    seen = seen | {table}
    return any(
        (_action(fk) == "SET NULL" and _audited(child))
        or (_action(fk) == "CASCADE" and child not in seen and needs_own_delete(child, seen))
        for child, fk in referencing(table, ("CASCADE", "SET NULL"))
    )


def hooked(
    parent: sa.Table, missing: frozenset[str] = frozenset()
) -> list[tuple[type[Any], sa.ForeignKeyConstraint]]:
    """Return the children to delete (or set to NULL) through their own QuerySets, before ``parent``.

    They are the children whose change must be audited: a cascade that reaches audited
    rows, a ``SET NULL`` of an audited row.
    """

    def build() -> list[tuple[type[Any], sa.ForeignKeyConstraint]]:
        found = []
        for table, fk in referencing(parent, ("CASCADE", "SET NULL"), missing):
            model = mapped_class(table)
            if model is not None and (needs_own_delete(table) if is_cascade(fk) else _audited(table)):
                found.append((model, fk))
        return found

    return _cached(_HOOKED, (parent, missing), parent, build)  # type: ignore[no-any-return]


def is_cascade(fk: sa.ForeignKeyConstraint) -> bool:
    """Return whether ``fk`` deletes its rows with the row it refers to."""
    return _action(fk) == "CASCADE"


def plan(parent: sa.Table, missing: frozenset[str] = frozenset()) -> tuple[Cascade, ...]:
    """Return the cascades a statement deleting rows of ``parent`` carries (cached per table).

    Tables needing one of the ``missing`` extensions are left out (:func:`missing_extensions`).
    """

    def build() -> tuple[Cascade, ...]:
        nodes, selfrefs = _children(parent, frozenset({parent}), missing)
        if selfrefs and not needs_own_delete(parent):
            # a tree: the walk's rows take the parent's other cascades along
            nodes += (Cascade(parent, mapped_class(parent), selfrefs, selfrefs, nodes),)
        return nodes

    return _cached(_PLANS, (parent, missing), parent, build)  # type: ignore[no-any-return]


def _children(
    parent: sa.Table, path: frozenset[sa.Table], missing: frozenset[str]
) -> tuple[tuple[Cascade, ...], tuple[sa.ForeignKeyConstraint, ...]]:
    """Return the cascades of ``parent`` into other tables, and its cascading keys to itself."""
    by_table: dict[sa.Table, list[sa.ForeignKeyConstraint]] = {}
    for child, fk in referencing(parent, ("CASCADE",), missing):
        by_table.setdefault(child, []).append(fk)
    selfrefs = tuple(by_table.pop(parent, ()))
    nodes = []
    for child, fks in by_table.items():
        if child in path or needs_own_delete(child):
            continue
        grandchildren, own = _children(child, path | {child}, missing)
        nodes.append(Cascade(child, mapped_class(child), tuple(fks), own, grandchildren))
    return tuple(nodes), selfrefs


def returned_columns(table: sa.Table, children: tuple[Cascade, ...]) -> list[sa.Column[Any]]:
    """Return the key of ``table`` and the columns its cascading children refer to."""
    columns = list(table.primary_key.columns)
    for node in children:
        for fk in node.fks:
            columns += [e.column for e in fk.elements if e.column not in columns]
    return columns


def _refers(fk: sa.ForeignKeyConstraint, source: Any) -> Any:
    """Return ``fk``'s columns IN the referred columns of ``source`` (a CTE returning them)."""
    columns = [e.parent for e in fk.elements]
    referred = sa.select(*[source.c[e.column.name] for e in fk.elements])
    return (columns[0] if len(columns) == 1 else sa.tuple_(*columns)).in_(referred)


def _walk(node: Cascade, where: Any, columns: list[sa.Column[Any]], name: str) -> Any:
    """Return the condition that a row is in ``where`` or below such a row through ``selfrefs``."""
    table = node.table
    walk = sa.select(*columns).where(where).cte(f"{name}_walk", recursive=True)
    # PostgreSQL refuses a recursive reference inside a subquery: join it instead
    step = sa.select(*columns).where(
        sa.or_(*[sa.and_(*[e.parent == walk.c[e.column.name] for e in fk.elements]) for fk in node.selfrefs])
    )
    walk = walk.union(step)
    keys = list(table.primary_key.columns)
    inner = sa.select(*[walk.c[k.name] for k in keys])
    return (keys[0] if len(keys) == 1 else sa.tuple_(*keys)).in_(inner)


def cascade_ctes(upstream: Any, nodes: tuple[Cascade, ...], out: list[tuple[Cascade, Any]]) -> None:
    """Append to ``out`` a ``DELETE ... RETURNING`` CTE per node, children after their parent.

    Args:
        upstream: The CTE returning the parent's deleted rows (with the columns children refer to).
        nodes: The cascades of that parent (see :func:`plan`).
        out: Receives ``(node, cte)`` pairs; its length numbers the CTEs of one statement.
    """
    for node in nodes:
        name = f"am_cascade{len(out)}"
        returned = returned_columns(node.table, node.children)
        where = sa.or_(*[_refers(fk, upstream) for fk in node.fks])
        if node.selfrefs:
            walked = returned + [
                e.column for fk in node.selfrefs for e in fk.elements if e.column not in returned
            ]
            where = _walk(node, where, walked, name)
        cte = sa.delete(node.table).where(where).returning(*returned).cte(name)
        out.append((node, cte))
        cascade_ctes(cte, node.children, out)
