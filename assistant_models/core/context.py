"""The context-local unit of work that managers use implicitly.

A :class:`contextvars.ContextVar` is private to each thread and to each asyncio
task, so two threads (or tasks) that open ``db.session()`` never see each other's
session.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from sqlalchemy.orm import Session

from assistant_models.exceptions import SessionRequiredError

__all__ = [
    "HOSTS_EVERY_DATABASE",
    "bind_session",
    "current_session",
    "forget_current_session",
    "get_current_session",
    "hosts_every_database",
    "unbind_session",
]

_current: ContextVar[Session | None] = ContextVar("assistant_models_session", default=None)

_HOW = (
    "no unit of work is open: wrap the call in `with db.session():` "
    "(db = assistant_models.Database()) or pass a session explicitly with "
    "Model.objects.using(session); in tests, request the `db_session` fixture of "
    "assistant_models.testing.plugin, which opens one that is rolled back afterwards"
)


def get_current_session() -> Session | None:
    """Return the session bound to this context, or ``None``."""
    return _current.get()


def current_session() -> Session:
    """Return the session bound to this context.

    Raises:
        SessionRequiredError: No ``db.session()`` is open in this context.
    """
    session = _current.get()
    if session is None:
        raise SessionRequiredError(_HOW)
    return session


#: Key of ``Session.info`` marking a session every database's units of work run inside (as
#: savepoints): the pytest plugin's rolled-back test session.
HOSTS_EVERY_DATABASE = "assistant_models.hosts_every_database"


def hosts_every_database(session: Session) -> bool:
    """Return whether units of work of any database handle run inside ``session`` (a test's)."""
    return bool(session.info.get(HOSTS_EVERY_DATABASE))


def bind_session(session: Session) -> Token[Session | None]:
    """Make ``session`` the current one; return the token that undoes it."""
    return _current.set(session)


def unbind_session(token: Token[Session | None]) -> None:
    """Restore the session that was current before :func:`bind_session`."""
    _current.reset(token)


def forget_current_session() -> None:
    """Unbind the current session without restoring anything (after ``os.fork()``, in the child).

    A process forked inside ``with db.session():`` inherits the parent's session,
    bound to a connection the parent is using: the child must open its own.
    """
    _current.set(None)
