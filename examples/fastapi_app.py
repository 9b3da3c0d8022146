"""A small FastAPI application on the package: sign up, log in, tasks with cursor pages.

Run the demo (it drives the application in-process through httpx, on the embedded
PostgreSQL when DATABASE_URL is not set):

    python examples/fastapi_app.py

Serve it:

    uvicorn --factory examples.fastapi_app:create_app

Each request runs in one unit of work, committed before its response is sent; the
package's errors come back as HTTP statuses (404, 409, 422, 503); responses use the
public read schemas, which never show a password hash.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from assistant_models import Database
from assistant_models.fastapi import add_exception_handlers, unit_of_work
from assistant_models.models import AuthSession, Task, User
from assistant_models.schemas import TaskRead, UserRead


class SignUp(BaseModel):
    email: str
    username: str
    password: str


class LogIn(BaseModel):
    login: str
    password: str


class NewTask(BaseModel):
    title: str
    priority: int = 5


class TaskPage(BaseModel):
    items: list[TaskRead]  # type: ignore[valid-type]
    next_cursor: str | None


def current_user(authorization: Annotated[str, Header()] = "") -> User:
    """Return the user whose login session the bearer token names, or answer 401."""
    scheme, _, token = authorization.partition(" ")
    found = AuthSession.objects.find_by_token(token) if scheme.lower() == "bearer" else None
    if found is None:
        raise HTTPException(status_code=401, detail="log in first")
    return User.objects.get(pk=found.user_id)


Me = Annotated[User, Depends(current_user)]


def create_app(db: Database | None = None) -> FastAPI:
    """Return the application, working on ``db`` (``Database()`` by default)."""
    database = db or Database()
    app = FastAPI(title="tasks", dependencies=[unit_of_work(database)])
    add_exception_handlers(app)

    @app.post("/signup", response_model=UserRead, status_code=201)
    def sign_up(form: SignUp) -> User:
        return User.objects.create_user(form.email, form.username, form.password)

    @app.post("/login")
    def log_in(form: LogIn) -> dict[str, str]:
        user = User.objects.authenticate(form.login, form.password)
        if user is None:
            raise HTTPException(status_code=401, detail="wrong login or password")
        _, token = AuthSession.objects.start(user)
        return {"token": token}

    @app.post("/tasks", response_model=TaskRead, status_code=201)
    def add_task(form: NewTask, me: Me) -> Task:
        return Task.objects.enqueue(form.title, priority=form.priority, assignee_id=me.id)

    @app.get("/tasks", response_model=TaskPage)
    def my_tasks(me: Me, after: str | None = None, first: int = 20) -> TaskPage:
        page = (
            Task.objects.filter(assignee_id=me.id)
            .order_by("-created_at", "-id")
            .cursor_paginate(first, after)
        )
        return TaskPage(items=page.items, next_cursor=page.next_cursor)

    @app.get("/tasks/{key}", response_model=TaskRead)
    def one_task(key: uuid.UUID, me: Me) -> Task:
        return Task.objects.filter(assignee_id=me.id).get(pk=key)  # another's task: 404 too

    @app.get("/stats")
    async def stats() -> dict[str, int]:  # an async endpoint: its unit of work is asyncpg's
        return {"tasks": await Task.objects.acount(), "users": await User.objects.acount()}

    return app


def main() -> None:
    """Sign up, log in, add tasks, page through them, and show the errors as HTTP."""
    db = Database()
    db.migrate()
    tag = secrets.token_hex(4)  # fresh names: the demo runs again and again
    try:
        with TestClient(create_app(db)) as client:
            form = {"email": f"ada-{tag}@example.com", "username": f"ada_{tag}", "password": "correct horse"}
            signed = client.post("/signup", json=form)
            print("signup:", signed.status_code, sorted(signed.json()))
            print("same email again:", client.post("/signup", json=form).status_code)
            bad = client.post("/signup", json={**form, "email": "not an email", "username": f"b_{tag}"})
            print("bad email:", bad.status_code, [e["loc"] for e in bad.json()["detail"]])
            wrong = client.post("/login", json={"login": form["email"], "password": "wrong"})
            print("wrong password:", wrong.status_code)
            token = client.post("/login", json={"login": form["email"], "password": form["password"]}).json()[
                "token"
            ]
            me = {"Authorization": f"Bearer {token}"}
            for n in range(5):
                client.post("/tasks", json={"title": f"task {n}", "priority": n}, headers=me)
            pages, after = [], None
            while True:
                page = client.get(
                    "/tasks", params={"first": 2, **({"after": after} if after else {})}, headers=me
                )
                body = page.json()
                pages.append([item["title"] for item in body["items"]])
                after = body["next_cursor"]
                if after is None:
                    break
            print("pages of 2:", pages)
            print("a task that is not there:", client.get(f"/tasks/{uuid.uuid4()}", headers=me).status_code)
            print("without a token:", client.get("/tasks").status_code)
            print("stats (async endpoint):", sorted(client.get("/stats").json()))
            print("Done.")
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
