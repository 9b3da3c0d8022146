"""Retention sweeps: what ``assistant-models purge`` removes or closes, each in its own unit of work.

The sweeps are an open registry: an application adds its own with :func:`register_sweep`
and ``purge`` runs them with the package's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from assistant_models.core.expressions import Now

__all__ = ["SWEEPS", "RetentionPolicy", "Sweep", "register_sweep"]


@dataclass(frozen=True)
class RetentionPolicy:
    """How long things are kept.

    Attributes:
        archived_chats: Archived chats untouched for longer are deleted (soft).
        faded_importance: Memories whose importance fell below this are forgotten.
        faded_after: ...and only those not recalled for this long.
    """

    archived_chats: timedelta = timedelta(days=90)
    faded_importance: float = 0.05
    faded_after: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Sweep:
    """One retention step: a name, what it does, and the function doing it (returns a row count).

    ``needs`` names a PostgreSQL extension whose tables the sweep reads; it is skipped
    on a database without it.
    """

    name: str
    description: str
    run: Callable[[RetentionPolicy], int]
    needs: str | None = field(default=None)


#: The sweeps ``purge`` runs, in order.
SWEEPS: list[Sweep] = []


def register_sweep(sweep: Sweep) -> Sweep:
    """Add ``sweep`` to the ones ``purge`` runs (after the package's)."""
    SWEEPS.append(sweep)
    return sweep


def _expired_logins(policy: RetentionPolicy) -> int:
    from assistant_models.models import AuthSession

    return AuthSession.objects.cleanup_expired()


def _stale_confirmations(policy: RetentionPolicy) -> int:
    from assistant_models.models import Confirmation

    return Confirmation.objects.expire_stale()


def _archived_chats(policy: RetentionPolicy) -> int:
    from assistant_models.models import ChatSession, ChatStatus

    old = ChatSession.objects.filter(status=ChatStatus.ARCHIVED, updated_at__lt=Now() - policy.archived_chats)
    return old.delete()[1].get("ChatSession", 0)


def _faded_memories(policy: RetentionPolicy) -> int:
    from assistant_models.models import ConversationMemory

    stale = Now() - policy.faded_after
    faded = ConversationMemory.objects.filter(
        importance__lt=policy.faded_importance, last_accessed_at__lt=stale
    )
    return faded.delete()[1].get("ConversationMemory", 0)


register_sweep(Sweep("expired-logins", "delete login sessions past their expiry", _expired_logins))
register_sweep(
    Sweep("stale-confirmations", "expire pending confirmations past their time", _stale_confirmations)
)
register_sweep(Sweep("archived-chats", "delete archived chats untouched past the horizon", _archived_chats))
register_sweep(
    Sweep("faded-memories", "forget memories faded below the threshold", _faded_memories, "vector")
)
