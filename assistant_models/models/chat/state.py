"""Conversation state: keyed values a chat's persona and modules keep between turns."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB

if TYPE_CHECKING:
    from assistant_models.models.chat.sessions import ChatSession

__all__ = ["ConversationState", "ConversationStateManager"]


class ConversationStateManager(Manager["ConversationState"]):
    """Conversation state: set, get and delete values by key."""


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
