"""Direct statements: compiled once, run on the driver's cursor, rows made into instances.

Most of the time of a small read or write in SQLAlchemy goes into its execution
pipeline (cache key, execution context, result metadata) and its ORM loading, not into
PostgreSQL. For the statements the package builds once and reuses (a QuerySet's per
query shape, ``create()``'s INSERT, ``update()``'s UPDATE), this module keeps what that
pipeline would produce anyway: the SQL string, the parameter values the statement
carries, the bind and result processors of the column types, and which result columns
are the model's attributes. A statement then costs one ``cursor.execute``, the type
conversions, and for models the same identity-map bookkeeping SQLAlchemy's loader does:

- an instance already in the session's identity map is returned as it is (its expired
  attributes are filled from the row), as the ORM does without ``populate_existing``;
- a new instance is registered in the identity map, committed (so later changes are
  tracked and flushed) and announced through the mapper's ``load`` event.

The direct path steps aside, and SQLAlchemy runs the statement as usual, whenever
something could observe the difference: a driver other than psycopg2 (the async
bridge), SQL logging, cursor-execute events on the engine, ``do_orm_execute`` or
``loaded_as_persistent`` listeners other than the package's own, mapper ``load``
listeners other than its own, deferred columns, relationship loaders, parameters
SQLAlchemy expands at execution (``IN`` lists) or column defaults it computes in
Python. Pending changes are flushed first (autoflush), driver errors are translated as
they are on the usual path, and a lost connection is invalidated.

It relies on a few SQLAlchemy internals (the compiled statement's result columns and
bind processors, the identity map's registration), stable within the 2.1 series the
package requires; the whole test suite runs through this path.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Mapper, Session, attributes
from sqlalchemy.sql import ClauseElement

from assistant_models.exceptions import translate

__all__ = ["DirectStatement", "allow_listener", "direct_read", "direct_read_with_extras", "direct_rows"]

Processor = Callable[[Any], Any] | None

#: The package's own listeners: their presence does not turn the direct path off.
_OWN_LISTENERS: set[Any] = set()

_PLANS: weakref.WeakKeyDictionary[
    ClauseElement, dict[tuple[Dialect, Mapper[Any] | None], DirectStatement | None]
] = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def allow_listener(fn: Any) -> Any:
    """Mark ``fn`` (a package listener) as one the direct path keeps the semantics of."""
    _OWN_LISTENERS.add(fn)
    return fn


class DirectStatement:
    """One statement as the driver runs it, and how its rows become values or instances.

    Attributes:
        sql: The SQL string, with the driver's ``%(name)s`` placeholders.
        defaults: Processed values of the parameters the statement carries (``LIMIT``).
        binds: Bind processors by parameter name, for values given at execution.
        names: The result columns' keys.
        entity: For an entity select, the mapper and the attribute keys of its leading
            columns, which make its instances (columns after them are extras, such as a
            DISTINCT query's ordering or values selected beside the entity); ``None`` for
            plain rows.
    """

    __slots__ = ("binds", "defaults", "entity", "names", "processors", "sql", "types")

    def __init__(
        self,
        sql: str,
        defaults: dict[str, Any],
        binds: dict[str, Processor],
        names: tuple[str, ...],
        types: tuple[Any, ...],
        entity: tuple[Mapper[Any], tuple[str, ...]] | None,
    ) -> None:
        self.sql = sql
        self.types = types
        self.defaults = defaults
        self.binds = binds
        self.names = names
        self.entity = entity
        self.processors: tuple[Processor, ...] | None = None  # from the first cursor description

    @classmethod
    def prepare(
        cls, stmt: ClauseElement, dialect: Dialect, mapper: Mapper[Any] | None
    ) -> DirectStatement | None:
        """Compile ``stmt`` for ``dialect``; ``None`` when only SQLAlchemy's pipeline can run it."""
        compiled: Any = stmt.compile(dialect=dialect)
        if compiled.positional or compiled.escaped_bind_names or compiled.literal_execute_params:
            return None
        if compiled.post_compile_params or "POSTCOMPILE" in compiled.string:
            return None  # IN lists SQLAlchemy expands at execution
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            return None  # column defaults computed in Python at execution
        processors = compiled._bind_processors
        defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            if bind.callable is not None or bind.expanding:
                return None
            if not bind.required:
                value = bind.value
                process = processors.get(name)
                defaults[name] = process(value) if process is not None and value is not None else value
        columns = compiled._result_columns
        names = tuple(c.keyname for c in columns)
        entity = None
        if mapper is not None:
            keys = _entity_keys(mapper, columns)
            if keys is None:
                return None
            entity = (mapper, keys)
        types = tuple(c.type for c in columns)
        return cls(compiled.string, defaults, dict(processors), names, types, entity)

    def parameters(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Return the driver's parameter values: the statement's own, then ``params`` processed."""
        values = dict(self.defaults)
        if params:
            binds = self.binds
            for name, value in params.items():
                process = binds.get(name)
                values[name] = process(value) if process is not None and value is not None else value
        return values

    def rows(self, connection: Connection, params: dict[str, Any] | None) -> list[tuple[Any, ...]]:
        """Run the statement on ``connection``'s driver cursor and return the converted rows."""
        dbapi_connection: Any = connection.connection.driver_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(params))
            raw = cursor.fetchall()
            processors = self.processors
            if processors is None:
                processors = _result_processors(connection.dialect, cursor.description, self)
                self.processors = processors
        except connection.dialect.loaded_dbapi.Error as exc:
            if connection.dialect.is_disconnect(exc, dbapi_connection, cursor):
                connection.invalidate(exc)
            raise translate(exc) from exc
        finally:
            cursor.close()
        converting = [(i, p) for i, p in enumerate(processors) if p is not None]
        if not converting:
            return raw  # type: ignore[no-any-return]
        converted = []
        try:
            for row in raw:
                values = list(row)
                for i, process in converting:
                    value = values[i]
                    if value is not None:
                        values[i] = process(value)
                converted.append(tuple(values))
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return converted

    def instances(self, session: Session, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Return the instances of ``rows``, registered in ``session``'s identity map as the ORM does."""
        assert self.entity is not None
        mapper, keys = self.entity
        identity_map = session.identity_map
        pk_positions = [keys.index(mapper.get_property_by_column(c).key) for c in mapper.primary_key]
        identity_class = mapper._identity_class
        new_instance = mapper.class_manager.new_instance
        load = mapper.class_manager.dispatch.load
        session_key = session.hash_key
        result = []
        for row in rows:
            identity = (identity_class, tuple(row[i] for i in pk_positions), None)
            existing = identity_map.get(identity)
            if existing is not None:
                state = attributes.instance_state(existing)
                unloaded = state.expired_attributes.intersection(keys) if state.expired_attributes else None
                if unloaded:
                    values = state.dict
                    for key, value in zip(keys, row, strict=False):
                        if key in unloaded:
                            values[key] = value
                    state._commit(values, unloaded)
                result.append(existing)
                continue
            obj = new_instance()
            state = attributes.instance_state(obj)
            values = state.dict
            values.update(zip(keys, row, strict=False))  # extras after the entity are not its own
            state.key = identity
            state.identity_token = None
            state.session_id = session_key
            identity_map._add_unpresent(state, identity)
            if load:
                load(state, None)
            state._commit_all(values, identity_map)
            result.append(obj)
        return result


def _entity_keys(mapper: Mapper[Any], columns: Iterable[Any]) -> tuple[str, ...] | None:
    """Return the attribute keys of the leading result columns; ``None`` unless they are the entity's."""
    loaded = {p.key for p in mapper.column_attrs if not p.deferred}
    keys: list[str] = []
    for column in columns:
        if len(keys) == len(loaded):
            break
        found = None
        for obj in column.objects:
            try:
                found = mapper.get_property_by_column(obj).key
                break
            except (sa_exc.NoReferenceError, sa_exc.InvalidRequestError, KeyError, AttributeError):
                continue
        if found is None or found not in loaded or found in keys:
            return None
        keys.append(found)
    return tuple(keys) if len(keys) == len(loaded) else None


def _result_processors(dialect: Dialect, description: Any, plan: DirectStatement) -> tuple[Processor, ...]:
    """Return the result processor of each column, asked of its type as SQLAlchemy asks it."""
    pairs = zip(plan.types, description, strict=True)
    return tuple(type_._cached_result_processor(dialect, desc[1]) for type_, desc in pairs)


def _quiet(session: Session, connection: Connection, mapper: Mapper[Any] | None) -> bool:
    """Tell whether nothing that would observe SQLAlchemy's pipeline is listening."""
    if connection.dialect.driver != "psycopg2" or connection._echo:  # SQL logging on
        return False
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return False
    if session.dispatch.loaded_as_persistent:
        return False
    if any(fn not in _OWN_LISTENERS for fn in session.dispatch.do_orm_execute):
        return False
    loads = mapper.class_manager.dispatch.load if mapper is not None else ()
    return all(fn in _OWN_LISTENERS for fn in loads)


def _plan(connection: Connection, stmt: ClauseElement, mapper: Mapper[Any] | None) -> DirectStatement | None:
    """Return the statement's direct plan for this connection's dialect, prepared once."""
    key = (connection.dialect, mapper)
    plans = _PLANS.get(stmt)
    if plans is None or key not in plans:
        with _PLANS_LOCK:
            plans = _PLANS.setdefault(stmt, {})
            plans[key] = DirectStatement.prepare(stmt, connection.dialect, mapper)
    return plans[key]


def direct_rows(session: Session, stmt: ClauseElement, params: dict[str, Any] | None) -> list[Any] | None:
    """Run ``stmt`` (a SELECT, or a write with ``RETURNING``) directly and return its row tuples.

    ``stmt`` must be built once and reused (a cached statement): its plan is kept per
    statement object. Returns ``None`` when the statement or the session's listeners
    need SQLAlchemy's pipeline; the caller then executes it as usual.
    """
    connection = session.connection()
    plan = _plan(connection, stmt, None) if _quiet(session, connection, None) else None
    if plan is None:
        return None
    session._autoflush()
    return plan.rows(connection, params)


def direct_read(
    session: Session, stmt: ClauseElement, params: dict[str, Any] | None, mapper: Mapper[Any]
) -> list[Any] | None:
    """Run the cached entity SELECT ``stmt`` directly and return ``mapper``'s instances.

    Returns ``None`` when the statement or the session's listeners need SQLAlchemy's
    pipeline; the caller then executes it as usual.
    """
    connection = session.connection()
    plan = _plan(connection, stmt, mapper) if _quiet(session, connection, mapper) else None
    if plan is None:
        return None
    session._autoflush()
    return plan.instances(session, plan.rows(connection, params))


def direct_read_with_extras(
    session: Session, stmt: ClauseElement, params: dict[str, Any] | None, mapper: Mapper[Any]
) -> list[tuple[Any, ...]] | None:
    """Run a cached SELECT of ``mapper``'s entity followed by other columns; return ``(obj, *extras)`` rows.

    For statements such as "each chat with its last message" (``select(Chat).add_columns(...)``).
    Returns ``None`` when SQLAlchemy's pipeline must run it, as :func:`direct_read` does.
    """
    connection = session.connection()
    plan = _plan(connection, stmt, mapper) if _quiet(session, connection, mapper) else None
    if plan is None or plan.entity is None:
        return None
    session._autoflush()
    rows = plan.rows(connection, params)
    width = len(plan.entity[1])
    return [(obj, *row[width:]) for obj, row in zip(plan.instances(session, rows), rows, strict=True)]
