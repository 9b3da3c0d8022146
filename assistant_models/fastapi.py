"""FastAPI integration: a unit of work per request, committed before the response, and errors as HTTP.

Needs the ``fastapi`` extra. The recipe::

    from fastapi import FastAPI
    from assistant_models import Database
    from assistant_models.fastapi import add_exception_handlers, unit_of_work

    db = Database()
    app = FastAPI(dependencies=[unit_of_work(db)])
    add_exception_handlers(app)

    @app.get("/tasks/{key}", response_model=TaskRead)
    def read_task(key: uuid.UUID) -> Task:          # sync endpoints: the managers as usual
        return Task.objects.get(pk=key)

    @app.get("/tasks")
    async def count_tasks() -> int:                 # async endpoints: the awaited twins
        return await Task.objects.acount()

Each request runs in one unit of work: a synchronous one for ``def`` endpoints and an
asyncpg one for ``async def`` endpoints, bound as the current session where the
endpoint runs (FastAPI's worker thread, or the request's task). It commits when the
endpoint returns, **before** the response is sent, so a failed commit becomes an error
response and a client never sees a success that was rolled back; an exception rolls it
back. Inside a test's rolled-back unit of work (the pytest plugin's ``db_session``), a
request runs in a savepoint of it instead.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, NoReturn

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from assistant_models.core.context import bind_session, get_current_session, unbind_session
from assistant_models.database import Database
from assistant_models.exceptions import (
    ConflictError,
    DatabaseError,
    FieldError,
    InvalidTransition,
    NotFoundError,
    RetryableError,
    ValidationError,
    translate,
)

__all__ = ["RETRY_AFTER_SECONDS", "UnitOfWork", "add_exception_handlers", "unit_of_work"]

#: What a 503 response for a retryable error asks the client to wait, in seconds.
RETRY_AFTER_SECONDS = 1


class UnitOfWork:
    """A FastAPI dependency (with ``yield``) running each request in one unit of work.

    Use it through :func:`unit_of_work`, which declares it with ``scope="function"``:
    the commit then happens before the response is sent.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, request: Request) -> AsyncIterator[Any]:
        """Open the unit of work the endpoint's kind needs, yield its session, commit or roll back."""
        route = request.scope.get("route")
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None and inspect.iscoroutinefunction(endpoint):
            async with self.db.asession() as session:
                yield session
            return
        async with self._sync() as session:
            yield session

    @asynccontextmanager
    async def _sync(self) -> AsyncIterator[Session]:
        """Open a synchronous unit of work, bound here: FastAPI copies this context to its worker thread.

        Binding and unbinding happen on the event loop (a context variable is reset in
        the context that set it); every statement, the commit included, runs in a worker
        thread, so the loop never waits on the database.
        """
        current = get_current_session()
        if current is not None and self.db.joins(current):  # a test's rolled-back unit of work
            nested = await run_in_threadpool(_begin_nested, current)
            try:
                yield current
                if nested.is_active:
                    await run_in_threadpool(_commit, nested)
            except BaseException as exc:
                await run_in_threadpool(_rollback, nested)
                _reraise(exc)
            return
        session = self.db.sessionmaker()
        token = bind_session(session)
        try:
            yield session
            await run_in_threadpool(_commit, session)
        except BaseException as exc:
            await run_in_threadpool(_rollback, session)
            _reraise(exc)
        finally:
            unbind_session(token)
            await run_in_threadpool(session.close)


def _reraise(exc: BaseException) -> NoReturn:
    """Raise ``exc``, translated to the package's errors if SQLAlchemy raised it (as ``db.session()``)."""
    if isinstance(exc, SQLAlchemyError):
        raise translate(exc) from exc
    raise exc


def _begin_nested(session: Session) -> Any:
    try:
        return session.begin_nested()
    except SQLAlchemyError as exc:
        raise translate(exc) from exc


def _commit(transaction: Any) -> None:
    try:
        transaction.commit()
    except SQLAlchemyError as exc:
        raise translate(exc) from exc


def _rollback(transaction: Any) -> None:
    with suppress(SQLAlchemyError):  # the original error matters more; the connection is discarded anyway
        transaction.rollback()


def unit_of_work(db: Database) -> Any:
    """Return the dependency to list in ``FastAPI(dependencies=[...])`` or a router's.

    It is declared with ``scope="function"``, so the unit of work commits when the
    endpoint returns, before the response is sent.
    """
    return Depends(UnitOfWork(db), scope="function")


def _problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _problem(404, str(exc))


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    errors = [
        {"loc": [error["field"]], "msg": error["message"], "type": "value_error"} for error in exc.errors
    ]
    return _problem(422, errors)


async def _bad_field(request: Request, exc: Exception) -> JSONResponse:
    return _problem(400, str(exc))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return _problem(409, str(exc))


async def _retryable(request: Request, exc: Exception) -> JSONResponse:
    return _problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _database(request: Request, exc: Exception) -> JSONResponse:
    return _problem(500, "the database could not complete the request")


def add_exception_handlers(app: FastAPI) -> None:
    """Answer the package's errors with HTTP statuses.

    ``NotFoundError`` (every ``Model.DoesNotExist``) 404; ``ValidationError`` 422 with
    one ``{"loc": [field], "msg", "type"}`` per field, as FastAPI reports its own;
    ``FieldError`` 400; ``ConflictError`` and ``InvalidTransition`` 409; retryable errors
    (the database unreachable, a timeout, a serialization failure) 503 with
    ``Retry-After``; any other ``DatabaseError`` 500 without details.
    """
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(FieldError, _bad_field)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(RetryableError, _retryable)
    app.add_exception_handler(DatabaseError, _database)
