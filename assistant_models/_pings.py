"""Ping a pooled connection only when it sat idle long enough to have gone stale.

``pool_pre_ping`` sends a ``SELECT 1`` at every checkout, one more round trip per unit of
work. A connection checked in moments ago is almost never dead; one that sat idle may
have been cut by the server, a proxy or a failover. So the pool checks a connection
only when it comes back after ``idle_seconds``; a dead one is replaced transparently
(SQLAlchemy's pessimistic disconnect handling, raised as ``DisconnectionError``).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

__all__ = ["ping_after_idle"]

#: Key in a pooled connection's ``info`` of the moment it was last checked in.
IDLE_SINCE = "assistant_models_idle_since"


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Make ``engine``'s pool ping connections idle for ``idle_seconds`` or more before handing them out."""

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back from a moment ago: trusted
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # the driver's own error, whatever it is: the connection is gone
            raise DisconnectionError("a pooled connection went stale while idle") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)
