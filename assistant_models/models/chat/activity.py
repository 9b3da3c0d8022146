"""Per-user chat activity: chats, messages, tokens and last activity, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assistant_models.core.queryset import QuerySet
from assistant_models.models.chat.sessions import ChatSession

if TYPE_CHECKING:
    from assistant_models.models.identity.users import User

__all__ = ["UserActivity", "user_activity"]


@dataclass(frozen=True, slots=True)
class UserActivity:
    """How much one user chats.

    Attributes:
        user: The user.
        sessions: Their live chats, active or archived.
        messages: The messages of those chats (their ``message_count``).
        tokens: The tokens those chats used (their ``total_tokens``: messages and tools).
        last_activity_at: The latest message or chat start, or ``None`` without chats.
    """

    user: User
    sessions: int
    messages: int
    tokens: int
    last_activity_at: datetime | None


def user_activity(users: QuerySet[Any]) -> list[UserActivity]:
    """Return the chat activity of each of ``users``, the most recently active first.

    One grouped query over the chats' own counters (kept by the database as messages
    and tool runs are written), so no message is read. Users without chats are
    included, with zeros. Soft-deleted chats do not count.
    """
    model: Any = users.model
    chat: Any = sa.inspect(ChatSession).local_table
    key = sa.inspect(model).primary_key[0]
    last = sa.func.max(sa.func.coalesce(chat.c.last_message_at, chat.c.created_at))
    chosen = users.values_list("pk", flat=True).order_by()
    stmt = (
        sa.select(
            model,
            sa.func.count(chat.c.id),
            sa.func.coalesce(sa.func.sum(chat.c.message_count), 0),
            sa.func.coalesce(sa.func.sum(chat.c.total_tokens), 0),
            last,
        )
        .outerjoin(chat, sa.and_(chat.c.user_id == key, chat.c.deleted_at.is_(None)))
        .where(key.in_(chosen.statement()))
        .group_by(key)
        .order_by(last.desc().nulls_last(), key)
    )
    return [
        UserActivity(row[0], int(row[1]), int(row[2]), int(row[3]), row[4]) for row in chosen.execute(stmt)
    ]
