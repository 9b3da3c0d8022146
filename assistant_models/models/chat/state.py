"""Conversation state: keyed values a chat's persona and modules keep between turns."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel, validate_fields
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.persistence import translating
from assistant_models.core.types import JSONB
from assistant_models.models.chat.documents import json_text
from assistant_models.models.chat.personas import Persona, PromptModule
from assistant_models.models.chat.refs import instance_key, optional_instance_key, table_of
from assistant_models.models.chat.sessions import ChatSession

__all__ = ["MAX_STATE_VALUE", "ConversationState", "ConversationStateManager"]

#: The longest value kept, in characters of its JSON text.
MAX_STATE_VALUE = 1_000_000
_OWNER = "ConversationState"


class ConversationStateManager(Manager["ConversationState"]):
    """Conversation state: set, get and delete values by key.

    A value belongs to a chat and, optionally, to a persona and a module: the scope.
    ``persona=None`` and ``module=None`` name the scope without one, so a value set
    for a module is not the chat-wide value of the same key. Values are any JSON
    document (``None`` is stored as JSON ``null``); they are checked as every JSONB
    write is (no NUL or lone surrogate, at most 64 levels deep) and must serialize
    to JSON (no ``NaN`` or infinity) of at most :data:`MAX_STATE_VALUE` characters.
    Reads see nothing of a soft-deleted chat.
    """

    def set_value(
        self,
        session: ChatSession,
        key: str,
        value: Any,
        *,
        persona: Persona | None = None,
        module: PromptModule | None = None,
    ) -> ConversationState:
        """Store ``value`` under ``key`` in the scope; return the row.

        One ``INSERT ... ON CONFLICT ... DO UPDATE`` statement on the unique scope and
        key, so concurrent writers of one key never collide: the last one wins and
        there is always exactly one row.

        Raises:
            ValidationError: A bad ``session``, ``persona``, ``module``, ``key`` or ``value``.
        """
        params = _scope(session, persona, module)
        params["am_key"] = _checked_key(key)
        params["am_value"] = json_text(value, "value", _OWNER, MAX_STATE_VALUE)
        with translating():
            row: ConversationState = self.session.execute(_upsert(), params).scalar_one()
        return row

    def get_value(
        self,
        session: ChatSession,
        key: str,
        *,
        persona: Persona | None = None,
        module: PromptModule | None = None,
        default: Any = None,
    ) -> Any:
        """Return the value stored under ``key`` in the scope, or ``default`` when there is none."""
        found = list(self._in_scope(session, key, persona, module).values_list("value", flat=True)[:1])
        return found[0] if found else default

    def delete_value(
        self,
        session: ChatSession,
        key: str,
        *,
        persona: Persona | None = None,
        module: PromptModule | None = None,
    ) -> bool:
        """Remove the value stored under ``key`` in the scope; return whether there was one."""
        removed, _ = self._in_scope(session, key, persona, module).delete()
        return removed > 0

    def all_for(
        self, session: ChatSession, *, persona: Persona | None = None, module: PromptModule | None = None
    ) -> dict[str, Any]:
        """Return every value of the scope (that persona and module, or their absence) by key."""
        rows = self._scoped(_scope(session, persona, module)).order_by("key").values_list("key", "value")
        return dict(rows)

    def _in_scope(
        self, session: ChatSession, key: str, persona: Persona | None, module: PromptModule | None
    ) -> ConversationStateManager:
        return self._scoped(_scope(session, persona, module)).filter(key=_checked_key(key))

    def _scoped(self, params: dict[str, Any]) -> ConversationStateManager:
        return self.filter(
            session_id=params["am_session"], persona_id=params["am_persona"], module_id=params["am_module"]
        )


class ConversationState(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """One value kept for a chat (table ``conversation_states``), per persona and module.

    Unique on (session, persona, module, key), an absent persona or module counting as
    one value (``NULLS NOT DISTINCT``), so an upsert finds the row whatever is absent.
    """

    __tablename__ = "conversation_states"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)
    __table_args__ = (
        sa.UniqueConstraint(
            "session_id",
            "persona_id",
            "module_id",
            "key",
            postgresql_nulls_not_distinct=True,
            name="uq_conversation_states__key",
        ),
    )

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE")
    persona_id: uuid.UUID | None = Field(
        default=None, foreign_key="personas.id", ondelete="CASCADE", index=True
    )
    module_id: uuid.UUID | None = Field(
        default=None, foreign_key="modules.id", ondelete="CASCADE", index=True
    )
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(sa_type=JSONB)

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))

    objects: ClassVar[ConversationStateManager] = ConversationStateManager()
    all_objects: ClassVar[ConversationStateManager] = ConversationStateManager(visibility=ALL)


def _scope(session: ChatSession, persona: Persona | None, module: PromptModule | None) -> dict[str, Any]:
    """Return the checked keys of a scope as the statements' parameters.

    Raises:
        ValidationError: ``session``, ``persona`` or ``module`` is not a saved instance of its model.
    """
    return {
        "am_session": instance_key(session, ChatSession, "session", _OWNER),
        "am_persona": optional_instance_key(persona, Persona, "persona", _OWNER),
        "am_module": optional_instance_key(module, PromptModule, "module", _OWNER),
    }


def _checked_key(key: str) -> str:
    """Return ``key`` if it is a valid key (1 to 255 characters PostgreSQL can store)."""
    checked: str = validate_fields(ConversationState, {"key": key})["key"]
    return checked


@cache
def _upsert() -> Any:
    """Return the one-statement upsert of a value, returning its row (built once)."""
    table = table_of(ConversationState)
    insert = pg.insert(table).values(
        session_id=sa.bindparam("am_session", type_=sa.Uuid()),
        persona_id=sa.bindparam("am_persona", type_=sa.Uuid()),
        module_id=sa.bindparam("am_module", type_=sa.Uuid()),
        key=sa.bindparam("am_key", type_=sa.String()),
        value=sa.cast(sa.bindparam("am_value", type_=sa.Text()), pg.JSONB),
    )
    upsert = insert.on_conflict_do_update(
        constraint="uq_conversation_states__key",
        set_={"value": insert.excluded.value, "updated_at": sa.func.now()},
    )
    stmt = sa.select(ConversationState).from_statement(upsert.returning(*table.c))
    return stmt.execution_options(populate_existing=True)
