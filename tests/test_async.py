"""The async twin: the same behaviour through ``await`` on asyncpg as through the sync API.

Tests taking the ``api`` fixture run twice: on ``db_session`` (psycopg2, sync calls)
and on ``adb_session`` (asyncpg, the ``a``-prefixed twins), so the twin cannot drift.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from assistant_models.aio import run_bridged
from assistant_models.core.context import get_current_session
from assistant_models.core.pagination import CursorPage, Page
from assistant_models.database import Database
from assistant_models.exceptions import (
    AsyncUsageError,
    ConflictError,
    InvalidTransition,
    RelationNotLoadedError,
    SessionRequiredError,
    ValidationError,
    translate,
)
from assistant_models.models import ApiKey, AuditLog, AuthSession, Task, TaskStatus, User

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _new_user(api, **fields) -> User:
    tag = _tag()
    return api(User.objects, "create_user", f"{tag}@example.com", f"u{tag}", PASSWORD, **fields)


# ------------------------------------------------------------------ reading


def test_created_rows_are_found_by_get_filter_count_exists_and_first(api) -> None:
    tag = _tag()
    made = [api(Task.objects, "create", title=f"{tag} {i}", priority=i) for i in range(3)]
    queue = Task.objects.filter(title__startswith=tag)
    assert api(queue, "count") == 3
    assert api(queue, "exists") is True
    assert api(queue.filter(priority=9), "exists") is False
    assert api(Task.objects, "get", pk=made[1].id).title == f"{tag} 1"
    assert api(queue.order_by("-priority"), "first").id == made[2].id
    assert api(queue.order_by("priority"), "last").id == made[2].id
    assert sorted(api.rows(queue.filter(priority__gte=1).values_list("priority", flat=True))) == [1, 2]
    assert set(api(queue, "in_bulk")) == {t.id for t in made}


def test_get_of_a_missing_row_raises_does_not_exist(api) -> None:
    with pytest.raises(Task.DoesNotExist):
        api(Task.objects, "get", pk=uuid.uuid4())


def test_iteration_yields_every_row_in_order(api) -> None:
    tag = _tag()
    for i in range(4):
        api(Task.objects, "create", title=f"{tag} {i}", priority=i)
    queue = Task.objects.filter(title__startswith=tag).order_by("priority")
    assert [t.priority for t in api.rows(queue)] == [0, 1, 2, 3]


def test_chunked_iterator_yields_every_row(api) -> None:
    tag = _tag()
    for i in range(5):
        api(Task.objects, "create", title=f"{tag} {i}", priority=i)
    queue = Task.objects.filter(title__startswith=tag).order_by("priority")
    if api.is_async:

        async def collect() -> list[int]:
            return [t.priority async for t in queue.aiterator(chunk_size=2)]

        priorities = api.run(collect())
    else:
        priorities = [t.priority for t in queue.iterator(chunk_size=2)]
    assert priorities == [0, 1, 2, 3, 4]


def test_aggregate_and_values_read_the_same_rows(api) -> None:
    from assistant_models import Count, Max

    tag = _tag()
    for i in range(3):
        api(Task.objects, "create", title=f"{tag} {i}", priority=i + 4)
    queue = Task.objects.filter(title__startswith=tag)
    assert api(queue, "aggregate", n=Count("pk"), top=Max("priority")) == {"n": 3, "top": 6}
    assert sorted(r["priority"] for r in api.rows(queue.values("priority"))) == [4, 5, 6]
    assert api(queue.values("priority").filter(priority__gte=5), "count") == 2


def test_paginate_and_cursor_paginate_walk_all_rows(api) -> None:
    tag = _tag()
    for i in range(5):
        api(Task.objects, "create", title=f"{tag} {i}", priority=i)
    queue = Task.objects.filter(title__startswith=tag).order_by("priority")
    page = api(queue, "paginate", page=2, per_page=2)
    assert isinstance(page, Page)
    assert ([t.priority for t in page.items], page.total, page.pages) == ([2, 3], 5, 3)
    seen, after = [], None
    while True:
        chunk = api(queue, "cursor_paginate", first=2, after=after)
        assert isinstance(chunk, CursorPage)
        seen += [t.priority for t in chunk.items]
        if not chunk.has_next:
            break
        after = chunk.next_cursor
    assert seen == [0, 1, 2, 3, 4]


def test_distinct_rows_ordered_by_a_constant_and_an_unlisted_field(api) -> None:
    from assistant_models import Value

    tag = _tag()
    for i, title in enumerate(["b", "a", "b"]):
        api(Task.objects, "create", title=f"{tag} {title}", priority=i)
    queue = Task.objects.filter(title__startswith=tag).annotate(one=Value(1))
    titles = queue.values_list("title", flat=True).distinct().order_by("one", "-priority")
    assert api.rows(titles) == [f"{tag} b", f"{tag} a", f"{tag} b"]


# ------------------------------------------------------------------ writing


def test_a_hard_delete_counts_the_rows_removed_by_cascade(api) -> None:
    user = _new_user(api)
    api(AuthSession.objects, "start", user, ttl=timedelta(hours=1))
    counts = api(User.all_objects.filter(pk=user.id), "delete", hard=True)
    assert counts == (2, {"User": 1, "AuthSession": 1})


def test_update_and_delete_return_counts_and_change_the_rows(api) -> None:
    tag = _tag()
    for i in range(3):
        api(Task.objects, "create", title=f"{tag} {i}", priority=i)
    queue = Task.objects.filter(title__startswith=tag)
    assert api(queue.filter(priority__gte=1), "update", priority=9) == 2
    assert api(queue.filter(priority=9), "count") == 2
    assert api(queue.filter(priority=0), "delete") == (1, {"Task": 1})
    assert api(queue, "count") == 2
    assert api(Task.all_objects.filter(title__startswith=tag), "count") == 3


def test_bulk_create_copies_rows_and_returns_them_with_keys(api) -> None:
    tag = _tag()
    made = api(
        Task.objects, "bulk_create", [Task(title=f"{tag} {i}\ttab", priority=i % 11) for i in range(30)]
    )
    assert len(made) == 30 and all(t.id is not None for t in made)
    queue = Task.objects.filter(title__startswith=tag)
    assert api(queue, "count") == 30
    assert api(queue.filter(title=f"{tag} 7\ttab"), "get").priority == 7
    audited = AuditLog.objects.filter(table_name="tasks", row_id__in=[str(t.id) for t in made[:3]])
    assert api(audited, "count") == 3


def test_bulk_create_of_a_duplicate_email_raises_conflict_naming_the_field(api) -> None:
    tag = _tag()
    users = [User(email=f"{tag}@example.com", username=f"u{tag}{i}", password_hash="x") for i in range(2)]
    with pytest.raises(ConflictError) as caught:
        api(User.objects, "bulk_create", users)
    assert caught.value.field == "email"


def test_bulk_update_writes_the_fields_of_each_instance(api) -> None:
    tag = _tag()
    made = api(Task.objects, "bulk_create", [Task(title=f"{tag} {i}") for i in range(3)])
    for i, task in enumerate(made):
        task.priority = i + 1
    assert api(Task.objects, "bulk_update", made, ["priority"]) == 3
    queue = Task.objects.filter(title__startswith=tag)
    assert sorted(api.rows(queue.values_list("priority", flat=True))) == [1, 2, 3]


def test_get_or_create_creates_once_then_gets(api) -> None:
    tag = _tag()
    first, created = api(Task.objects, "get_or_create", title=tag, defaults={"priority": 8})
    again, created_again = api(Task.objects, "get_or_create", title=tag, defaults={"priority": 1})
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.priority == 8
    updated, created = api(Task.objects, "update_or_create", title=tag, defaults={"priority": 2})
    assert (updated.id, updated.priority, created) == (first.id, 2, False)


# ------------------------------------------------------------------ domain methods


def test_task_lifecycle_enqueue_claim_complete_and_fail(api) -> None:
    tag = _tag()
    queue = Task.objects.filter(title__startswith=tag)
    api(queue, "enqueue", f"{tag} low", priority=1)
    api(queue, "enqueue", f"{tag} high", priority=9)
    claimed = api(queue, "claim_next", "w1")
    assert (claimed.title, claimed.status, claimed.claimed_by) == (f"{tag} high", TaskStatus.RUNNING, "w1")
    done = api(Task.objects, "complete", claimed, {"answer": 42})
    assert (done.status, done.results) == (TaskStatus.COMPLETED, {"answer": 42})
    with pytest.raises(InvalidTransition):
        api(Task.objects, "start", done)
    second = api(queue, "claim_next", "w2")
    retried = api(Task.objects, "fail", second, "boom")
    assert (retried.status, retried.retry_count, retried.error) == (TaskStatus.PENDING, 1, "boom")
    assert api(queue, "claim_next", "w3") is None  # the retry waits for its back-off
    assert api(Task.objects, "statistics")["total"] >= 2


def test_users_are_created_and_authenticated(api) -> None:
    user = _new_user(api)
    assert user.password_hash != PASSWORD
    assert api(User.objects, "authenticate", user.email.upper(), PASSWORD).id == user.id
    assert api(User.objects, "authenticate", user.email, "wrong password here") is None
    api(User.objects, "deactivate", user)
    assert api(User.objects, "authenticate", user.email, PASSWORD) is None


def test_api_keys_are_issued_and_verified(api) -> None:
    user = _new_user(api)
    key, raw = api(ApiKey.objects, "issue", user, "ci", scopes=["tasks:read"])
    assert api(ApiKey.objects, "verify", raw).id == key.id
    api(ApiKey.objects, "revoke", key)
    assert api(ApiKey.objects, "verify", raw) is None


def test_auth_sessions_start_and_are_found_by_token(api) -> None:
    user = _new_user(api)
    session, raw = api(AuthSession.objects, "start", user, ttl=timedelta(hours=1))
    assert api(AuthSession.objects, "find_by_token", raw).id == session.id
    assert api(AuthSession.objects, "terminate_all_for", user) == 1
    assert api(AuthSession.objects, "find_by_token", raw) is None


# ------------------------------------------------------------------ errors by SQLSTATE


def test_a_duplicate_user_raises_conflict_naming_the_field(api) -> None:
    user = _new_user(api)
    with pytest.raises(ConflictError) as caught:
        api(User.objects, "create_user", user.email, f"other{_tag()}", PASSWORD)
    assert caught.value.field == "email"


RAW_ERRORS = [
    ("INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), NULL)", ValidationError, "title"),
    (
        "INSERT INTO tasks (id, title, status, priority, retry_count, max_retries, version) "
        "VALUES (gen_random_uuid(), 't', 'pending', 11, 0, 3, 1)",
        ValidationError,
        "priority",
    ),
    (
        "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes) "
        "VALUES (gen_random_uuid(), gen_random_uuid(), 'n', 'p', 'h', '[]')",
        ValidationError,
        "user_id",
    ),
    ("SELECT 1/0", None, None),
]


@pytest.mark.parametrize(("sql", "kind", "field"), RAW_ERRORS)
def test_server_errors_translate_the_same_from_either_driver(
    api, db_session_or_async, sql: str, kind, field
) -> None:
    error = db_session_or_async(sql)
    translated = translate(error)
    if kind is None:
        assert "22012" in str(translated)  # division by zero: its SQLSTATE, from either driver
        return
    assert isinstance(translated, kind)
    assert field in translated.fields


@pytest.fixture
def db_session_or_async(request, api):
    """Return a function that runs raw SQL in the test's session and returns the error it raises."""

    def run_sync(sql: str) -> SQLAlchemyError:
        session = request.getfixturevalue("db_session")
        with pytest.raises(SQLAlchemyError) as caught:
            session.execute(text(sql))
        return caught.value

    def run_async(sql: str) -> SQLAlchemyError:
        session = request.getfixturevalue("adb_session")

        async def main() -> None:
            await session.execute(text(sql))

        with pytest.raises(SQLAlchemyError) as caught:
            api.run(main())
        return caught.value

    return run_async if api.is_async else run_sync


# ------------------------------------------------------------------ async only


def test_lazy_relation_under_async_raises_naming_select_and_prefetch_related(adb_session, arun) -> None:
    async def main() -> None:
        user = await User.objects.acreate_user(f"{_tag()}@example.com", f"u{_tag()}", PASSWORD)
        task = await Task.objects.aenqueue("assigned", assignee_id=user.id)
        adb_session.expunge(task)
        loaded = await Task.objects.aget(pk=task.id)
        with pytest.raises(RelationNotLoadedError) as caught:
            _ = loaded.assignee
        message = str(caught.value)
        assert "Task.assignee" in message
        assert "select_related('assignee')" in message and "prefetch_related('assignee')" in message
        for how in ("select_related", "prefetch_related"):
            adb_session.expunge_all()
            eager = await getattr(Task.objects, how)("assignee").aget(pk=task.id)
            assert eager.assignee.id == user.id

    arun(main())


def test_a_sync_call_in_an_async_unit_of_work_raises_a_clear_error(adb_session, arun) -> None:
    async def main() -> None:
        with pytest.raises(AsyncUsageError, match="acount"):
            Task.objects.count()

    arun(main())


def test_instance_methods_have_awaited_twins(adb_session, arun) -> None:
    async def main() -> None:
        task = Task(title="awaited instance")
        await task.asave()
        task.title = "saved again"
        await task.asave()
        await Task.objects.filter(pk=task.id).aupdate(priority=9)
        await task.arefresh_from_db()
        assert (task.title, task.priority) == ("saved again", 9)
        assert await task.adelete() == (1, {"Task": 1})
        assert not await Task.objects.filter(pk=task.id).aexists()
        await task.arestore()
        assert await Task.objects.filter(pk=task.id).aexists()
        assert await task.adelete(hard=True) == (1, {"Task": 1})
        assert not await Task.all_objects.filter(pk=task.id).aexists()

    arun(main())


def test_instance_methods_run_in_the_bridge_and_say_so_when_not(adb_session, arun) -> None:
    async def main() -> None:
        user = await User.objects.acreate_user(f"{_tag()}@example.com", f"u{_tag()}", PASSWORD)
        await run_bridged(user.delete)
        assert not await User.objects.filter(pk=user.id).aexists()
        assert await User.all_objects.filter(pk=user.id).aexists()
        other = await User.objects.acreate_user(f"{_tag()}@example.com", f"u{_tag()}", PASSWORD)
        with pytest.raises(AsyncUsageError, match="run_bridged"):
            other.delete()  # a failed flush spoils the unit of work, as ever: last step

    arun(main())


def test_an_async_twin_with_a_sync_session_current_raises_a_clear_error(db_session) -> None:
    with pytest.raises(AsyncUsageError, match=r"use count\(\) instead"):
        asyncio.run(Task.objects.acount())

    async def iterate() -> list[Task]:
        return [task async for task in Task.objects.all()]

    with pytest.raises(AsyncUsageError, match="use `for` instead"):
        asyncio.run(iterate())


def test_an_async_twin_with_no_unit_of_work_names_asession() -> None:
    with pytest.raises(SessionRequiredError, match=r"db\.asession\(\)"):
        asyncio.run(Task.objects.acount())


def test_nested_asession_rolls_back_only_its_savepoint(database: Database, adb_session, arun) -> None:
    async def main() -> None:
        tag = _tag()
        async with database.asession() as outer:
            assert outer is adb_session
            await Task.objects.aenqueue(f"{tag} kept")
            with pytest.raises(ValidationError):
                async with database.asession():
                    await Task.objects.aenqueue(f"{tag} dropped")
                    await adb_session.execute(
                        text("INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), NULL)")
                    )
            titles = [
                t async for t in Task.objects.filter(title__startswith=tag).values_list("title", flat=True)
            ]
        assert titles == [f"{tag} kept"]

    arun(main())


def test_adb_session_commits_only_a_savepoint_of_the_rolled_back_transaction(
    database: Database, adb_session, arun
) -> None:
    tag = _tag()

    async def main() -> None:
        async with database.asession():
            await Task.objects.aenqueue(tag)
        await adb_session.commit()
        assert await Task.objects.filter(title=tag).aexists()

    arun(main())
    with database.engine.connect() as other:
        seen = other.execute(text("SELECT count(*) FROM tasks WHERE title = :t"), {"t": tag}).scalar_one()
    assert seen == 0


def test_async_connections_carry_the_settings_of_the_sync_ones(database: Database, arun) -> None:
    url = database.engine.url.update_query_dict(
        {
            "application_name": "from-url",
            "connect_timeout": "5",
            "options": "-c lock_timeout=777",
            "sslmode": "disable",
        }
    )
    db = Database(
        url.render_as_string(hide_password=False),
        statement_timeout=1234,
        application_name="async-probe",
        pool_size=2,
        max_overflow=0,
    )
    show = ("statement_timeout", "lock_timeout", "application_name")

    async def main() -> list[str]:
        try:
            async with db.asession() as session:
                return [(await session.execute(text(f"SHOW {name}"))).scalar_one() for name in show]
        finally:
            await db.adispose()

    try:
        assert arun(main()) == ["1234ms", "777ms", "async-probe"]
        assert db.async_engine.pool.size() == 2
        assert db.async_engine.url.drivername == "postgresql+asyncpg"
    finally:
        db.dispose()


def test_async_connection_arguments_translate_libpq_ones() -> None:
    from sqlalchemy.engine import make_url

    from assistant_models.aio import async_connect_args, async_url

    args = async_connect_args(
        {
            "application_name": "app",
            "connect_timeout": 7,
            "options": "-c a=1 -cb=2 --c-d=3 -c statement_timeout=5",
        }
    )
    assert args == {
        "timeout": 7,
        "server_settings": {
            "a": "1",
            "b": "2",
            "c_d": "3",
            "statement_timeout": "5",
            "application_name": "app",
        },
    }
    url = async_url(
        make_url("postgresql+psycopg2://u@h/db?sslmode=require&options=-c%20x%3D1&application_name=a")
    )
    assert url.drivername == "postgresql+asyncpg"
    assert dict(url.query) == {"ssl": "require"}
    with pytest.raises(ValidationError) as caught:
        async_connect_args({"sslpassword": "pem-s3cret"})
    assert caught.value.fields == ["url"] and "pem-s3cret" not in str(caught.value)


def test_explain_runs_under_async(adb_session, arun) -> None:
    plan = arun(Task.objects.filter(title="x", priority=5).aexplain())
    assert "tasks" in plan


@pytest.fixture
def committed(database: Database) -> Iterator[str]:
    """Yield a title tag for committed tasks; hard-delete them afterwards."""
    tag = f"async-{_tag()}"
    try:
        yield tag
    finally:
        with database.session():
            Task.all_objects.filter(title__startswith=tag).delete(hard=True)


def test_asession_commits_on_success_and_rolls_back_on_error(
    database: Database, arun, committed: str
) -> None:
    async def main() -> None:
        async with database.asession():
            await Task.objects.aenqueue(f"{committed} kept")
        with pytest.raises(ConflictError):
            async with database.asession():
                await Task.objects.aenqueue(f"{committed} dropped")
                raise ConflictError("the block failed")

    arun(main())
    assert get_current_session() is None
    with database.session():
        assert list(Task.objects.filter(title__startswith=committed).values_list("title", flat=True)) == [
            f"{committed} kept"
        ]


def test_sixteen_asyncio_tasks_never_claim_a_task_twice(database: Database, arun, committed: str) -> None:
    count, workers = 48, 16

    async def work(name: str) -> list[uuid.UUID]:
        mine: list[uuid.UUID] = []
        while True:
            async with database.asession():
                task = await Task.objects.filter(title__startswith=committed).aclaim_next(name)
            if task is None:
                return mine
            mine.append(task.id)

    async def main() -> tuple[set[uuid.UUID], list[list[uuid.UUID]]]:
        async with database.asession():
            made = await Task.objects.abulk_create([Task(title=f"{committed} {i}") for i in range(count)])
        claims = await asyncio.gather(*(work(f"w{n}") for n in range(workers)))
        return {t.id for t in made}, claims

    ids, claims = arun(main())
    claimed = [task_id for mine in claims for task_id in mine]
    assert len(claimed) == count
    assert set(claimed) == ids
    assert sum(1 for mine in claims if mine) > 1  # the work was shared, not serialised


# ------------------------------------------------------------------ generation


def test_a_new_manager_method_gets_its_twin_without_code(adb_session, arun) -> None:
    from assistant_models.models.work import TaskManager

    class UrgentTasks(TaskManager):
        def urgent_count(self) -> int:
            return self.filter(priority__gte=9).count()

        def urgent(self) -> UrgentTasks:
            return self.filter(priority__gte=9)

    from assistant_models.core.aio import TWIN_OF

    assert getattr(UrgentTasks.aurgent_count, TWIN_OF) == "urgent_count"
    assert not hasattr(UrgentTasks, "aurgent")  # chainable: no SQL, no twin
    assert not hasattr(UrgentTasks, "afilter")
    manager = UrgentTasks().__get__(None, Task)  # what `objects: ClassVar[...] = UrgentTasks()` does

    async def main() -> int:
        tag = _tag()
        await Task.objects.aenqueue(f"{tag} a", priority=9)
        await Task.objects.aenqueue(f"{tag} b", priority=1)
        return await manager.filter(title__startswith=tag).aurgent_count()

    assert arun(main()) == 1


def test_a_twin_runs_the_subclass_override_of_its_method(adb_session, arun) -> None:
    from assistant_models.core.manager import Manager

    class Counting(Manager[Task]):
        def count(self) -> int:
            return 42

    manager = Counting().__get__(None, Task)
    assert arun(manager.acount()) == 42


def test_typed_twin_signatures_match_their_sync_methods() -> None:
    import ast
    import inspect

    from assistant_models.core import aio
    from assistant_models.core.queryset import QuerySet

    tree = ast.parse(inspect.getsource(aio.AsyncQuerySetMixin))
    stubs = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("a")
    ]
    assert len(stubs) >= 20
    for stub in stubs:
        sync = inspect.signature(getattr(QuerySet, stub.name[1:]))
        args = stub.args
        names = [a.arg for a in (*args.args, *args.kwonlyargs)]
        names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        assert sorted(names) == sorted(sync.parameters), stub.name
        assert hasattr(QuerySet, stub.name), stub.name
