"""The model-instance API Django users expect: ``pk``, ``save``, ``delete``, ``refresh_from_db``.

Every method runs in the instance's unit of work: the session that holds it, else
the current one (``with db.session():``). Writes take the managers' own paths, so
an instance write is validated, audited and cascaded exactly like a manager's.

Equality is Django's: two instances are equal when they are of the same model and
carry the same primary key; an instance without one equals only itself and cannot
be hashed (its hash would change when it is saved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, object_session

from assistant_models.core.context import current_session
from assistant_models.core.paths import primary_key

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["UNHASHABLE", "InstanceAPI"]

UNHASHABLE = "Model instances without primary key value are unhashable"


_KEY_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _key_names(model: type[Any]) -> tuple[str, ...]:
    """Return the attribute names of ``model``'s key, computed once per model (hashing is hot)."""
    names = _KEY_NAMES.get(model)
    if names is None:
        names = _KEY_NAMES[model] = tuple(primary_key(model))
    return names


class InstanceAPI:
    """Django's instance methods, mixed into :class:`~assistant_models.core.base.AssistantModel`."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by AssistantModel

        def clean_changes(self) -> None:
            """Validate the fields changed since the constructor (see AssistantModel)."""

    @property
    def pk(self) -> Any:
        """Return the primary key value: a tuple for a composite key, ``None`` until it is known."""
        names = _key_names(type(self))
        values = tuple(getattr(self, name) for name in names)
        if len(values) == 1:
            return values[0]
        return None if all(v is None for v in values) else values

    @pk.setter
    def pk(self, value: Any) -> None:
        names = _key_names(type(self))
        if len(names) != 1:
            raise AttributeError(f"{type(self).__name__} has a composite primary key: set {', '.join(names)}")
        setattr(self, names[0], value)

    def _known_pk(self) -> tuple[Any, ...] | None:
        """Return every key column's value, or ``None`` while any of them is unknown."""
        values = tuple(getattr(self, name) for name in _key_names(type(self)))
        return None if any(v is None for v in values) else values

    def _unit_of_work(self) -> Session:
        return object_session(self) or current_session()

    def save(self) -> None:
        """Insert this instance, or write its changes, in its unit of work (validated and audited).

        Raises:
            ValidationError: A field holds an invalid value.
            ConflictError: A unique value is taken, or a versioned row moved on.
        """
        from assistant_models.core.inserts import insert_one
        from assistant_models.core.persistence import adopt, attach, translating

        session = self._unit_of_work()
        if sa.inspect(self).transient:
            self.clean_changes()  # values set after the constructor are checked too
            insert_one(session, self)
            return
        with translating():  # pending or loaded: the flush validates and audits what changed
            written = attach(session, self)
            session.flush()
            adopt(self, written)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete this row through the set-based path, which audits it and applies cascades.

        Returns:
            ``(total, {model name: count})`` as in Django, cascaded rows included.

        Raises:
            ValidationError: The instance was never saved.
        """
        from assistant_models.core.persistence import delete_row

        return delete_row(self._unit_of_work(), self)  # type: ignore[arg-type]

    def refresh_from_db(self, fields: Iterable[str] | None = None) -> None:
        """Reload this instance's values (or only ``fields``) from its row.

        Raises:
            NotFoundError: The row is gone (the model's ``DoesNotExist``).
            ValidationError: The instance was never saved.
        """
        from assistant_models.core.persistence import translating
        from assistant_models.exceptions import ValidationError

        model: Any = type(self)
        state = sa.inspect(self)
        if state.key is None:
            raise ValidationError.single("pk", "only a saved row can be refreshed", model.__name__)
        session = self._unit_of_work()
        names = None if fields is None else list(fields)
        with translating():
            if self not in session:
                session.add(self)
            try:
                session.refresh(self, attribute_names=names)
            except InvalidRequestError:  # SQLAlchemy's way of saying the row is gone
                key = state.identity  # not self.pk: its expired values would try to load the gone row
                raise model.DoesNotExist(f"{model.__name__} matching pk={key!r} does not exist") from None

    # -- awaited twins, as Django's asave/adelete/arefresh_from_db ------------------------------

    async def asave(self) -> None:
        """Await :meth:`save` in an async unit of work (``async with db.asession():``)."""
        from assistant_models.core.aio import run_bridged

        await run_bridged(self.save)

    async def adelete(self) -> tuple[int, dict[str, int]]:
        """Await :meth:`delete` in an async unit of work."""
        from assistant_models.core.aio import run_bridged

        return await run_bridged(self.delete)

    async def arefresh_from_db(self, fields: Iterable[str] | None = None) -> None:
        """Await :meth:`refresh_from_db` in an async unit of work."""
        from assistant_models.core.aio import run_bridged

        await run_bridged(self.refresh_from_db, fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InstanceAPI):
            return NotImplemented
        if type(self) is not type(other):
            return False
        mine = self._known_pk()
        return self is other if mine is None else mine == other._known_pk()

    def __hash__(self) -> int:
        known = self._known_pk()
        if known is None:
            raise TypeError(UNHASHABLE)
        return hash((type(self), known))
