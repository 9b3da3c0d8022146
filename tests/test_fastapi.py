"""The FastAPI integration: a unit of work per request, committed before the response; errors as HTTP."""

import uuid

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from assistant_models import Database
from assistant_models.core.context import get_current_session
from assistant_models.exceptions import (
    ConflictError,
    DatabaseError,
    FieldError,
    InvalidTransition,
    QueryTimeoutError,
    SerializationError,
    ValidationError,
)
from assistant_models.fastapi import RETRY_AFTER_SECONDS, add_exception_handlers, unit_of_work
from assistant_models.models import Task, User

pytestmark = pytest.mark.integration


# ------------------------------------------------------------ commit and rollback, on a scratch database


@pytest.fixture
def scratch(scratch_url):
    db = Database(scratch_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE notes (id int PRIMARY KEY, "
            "ref int REFERENCES notes (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    yield db
    db.dispose()


def notes(db: Database) -> list[int]:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM notes ORDER BY id")).scalars())


def app_on(db: Database) -> FastAPI:
    app = FastAPI(dependencies=[unit_of_work(db)])
    add_exception_handlers(app)

    @app.post("/notes/{key}")
    def add(key: int, ref: int | None = None, fail: bool = False) -> dict[str, bool]:
        session = get_current_session()
        assert session is not None  # the endpoint's thread sees the request's unit of work
        session.execute(sa.text("INSERT INTO notes VALUES (:k, :r)"), {"k": key, "r": ref})
        if fail:
            raise HTTPException(status_code=400, detail="changed my mind")
        return {"ok": True}

    @app.post("/async-notes/{key}")
    async def add_async(key: int) -> dict[str, bool]:
        session = get_current_session()
        assert session is not None and session.bind.dialect.is_async  # asyncpg's unit of work
        from assistant_models.aio import get_current_async_session

        await get_current_async_session().execute(sa.text("INSERT INTO notes VALUES (:k, NULL)"), {"k": key})
        return {"ok": True}

    return app


def test_a_request_commits_its_work(scratch):
    with TestClient(app_on(scratch)) as client:
        assert client.post("/notes/1").status_code == 200
    assert notes(scratch) == [1]


def test_an_error_response_rolls_the_work_back(scratch):
    with TestClient(app_on(scratch)) as client:
        assert client.post("/notes/1", params={"fail": True}).status_code == 400
    assert notes(scratch) == []


def test_the_commit_happens_before_the_response_so_its_failure_is_the_response(scratch):
    # a deferred foreign key fails only at COMMIT: the client must hear of it
    with TestClient(app_on(scratch)) as client:
        response = client.post("/notes/1", params={"ref": 99})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "refers to a row that does not exist"
    assert notes(scratch) == []


def test_an_async_endpoint_gets_an_asyncpg_unit_of_work(scratch):
    with TestClient(app_on(scratch)) as client:
        assert client.post("/async-notes/7").status_code == 200
    assert notes(scratch) == [7]


def test_requests_after_a_failed_one_get_fresh_units_of_work(scratch):
    with TestClient(app_on(scratch)) as client:
        assert client.post("/notes/1", params={"ref": 99}).status_code == 422
        assert client.post("/notes/2").status_code == 200
        assert client.post("/notes/2").status_code == 409  # primary key taken
        assert client.post("/notes/3").status_code == 200
    assert notes(scratch) == [2, 3]


# ------------------------------------------------------------------ errors as HTTP


def raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/")
    def fail() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (Task.DoesNotExist("Task matching the query does not exist"), 404),
        (ConflictError("users: a row with this email already exists", "email"), 409),
        (InvalidTransition("Task", "completed", "running"), 409),
        (FieldError(["'nope' is not a field"], "Task"), 400),
        (SerializationError("the transaction lost to a concurrent one"), 503),
        (QueryTimeoutError("the statement was cancelled"), 503),
        (DatabaseError("relation secret_table: internal detail"), 500),
    ],
)
def test_each_error_has_its_status(exc, status):
    response = TestClient(raising(exc)).get("/")
    assert response.status_code == status
    if status == 503:
        assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    if status == 500:
        assert "secret_table" not in response.text  # no internals leak
    else:
        assert response.json()["detail"] == str(exc)


def test_a_validation_error_lists_each_field():
    exc = ValidationError(
        [
            {"field": "email", "message": "is not a valid email"},
            {"field": "username", "message": "is too short"},
        ],
        "User",
    )
    response = TestClient(raising(exc)).get("/")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["email"], "msg": "is not a valid email", "type": "value_error"},
            {"loc": ["username"], "msg": "is too short", "type": "value_error"},
        ]
    }


# ------------------------------------------------------------------ inside a test's rolled-back unit of work


def test_inside_the_tests_unit_of_work_a_request_runs_in_a_savepoint(database, db_session):
    app = FastAPI(dependencies=[unit_of_work(database)])
    add_exception_handlers(app)

    @app.post("/users/{name}")
    def sign_up(name: str) -> dict[str, str]:
        user = User.objects.create_user(f"{name}@example.com", name, "a long enough password")
        return {"id": str(user.id)}

    @app.get("/tasks/{key}")
    def task(key: uuid.UUID) -> dict[str, str]:
        return {"title": Task.objects.get(pk=key).title}

    name = f"fa_{uuid.uuid4().hex[:8]}"
    with TestClient(app) as client:
        created = client.post(f"/users/{name}")
        assert created.status_code == 200
        assert client.post(f"/users/{name}").status_code == 409  # its savepoint rolled back, not the test
        assert client.get(f"/tasks/{uuid.uuid4()}").status_code == 404
    assert User.objects.filter(username=name).count() == 1  # seen by the test, rolled back after it
