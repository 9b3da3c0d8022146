"""Fork safety: a child process never uses its parent's pooled connections."""

from __future__ import annotations

import os
import threading
import weakref

from sqlalchemy.engine import Engine

from assistant_models.core.context import forget_current_session

__all__ = ["forget_in_children"]

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()
_hooked = False


def forget_in_children(engine: Engine) -> None:
    """Make a forked child drop ``engine``'s pooled connections (they belong to the parent).

    A child that used the parent's sockets would interleave its protocol messages
    with the parent's: hangs and libpq protocol errors on both sides. SQLAlchemy's
    recipe for ``os.fork()``: in the child, ``dispose(close=False)`` swaps in an
    empty pool without closing anything, and psycopg2 never closes a connection
    from a process other than the one that opened it. A unit of work the parent
    had open is no longer current in the child either: ``db.session()`` there
    opens a new one on a new connection rather than a savepoint on the parent's.
    The hook is registered on the first call (the first ``Database()``), not on
    import.
    """
    global _hooked
    with _lock:
        if not _hooked and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_dispose_inherited_pools)
            _hooked = True
        _engines.add(engine)


def _dispose_inherited_pools() -> None:
    forget_current_session()
    for engine in list(_engines):
        engine.dispose(close=False)
