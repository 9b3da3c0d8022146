"""Messages: posting with the chat's counters, validation, idempotency, threads, import, history.

Counters are kept by triggers (migration 0008); the concurrency tests commit, so they
run on a scratch database of their own.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from scratch import scratch_database
from sqlalchemy import text

from assistant_models import Database
from assistant_models.exceptions import ValidationError
from assistant_models.models import AuditLog, User
from assistant_models.models.chat import MAX_CONTENT, ChatSession, Message, Role
from assistant_models.testing.factories import UserFactory

pytestmark = pytest.mark.integration

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
}


def _chat(**fields) -> ChatSession:
    return ChatSession.objects.create(user_id=UserFactory().id, **fields)


def _figures(db_session, chat) -> tuple:
    """Return the chat's stored ``(message_count, total_tokens, last_message_at, version)``."""
    row = db_session.execute(
        text(
            "SELECT message_count, total_tokens, last_message_at, version FROM chat_sessions WHERE id = :id"
        ),
        {"id": chat.id},
    ).one()
    return tuple(row)


def _chat_updates(db_session) -> int:
    """Return how many rows of chat_sessions this transaction has updated so far."""
    return db_session.execute(
        text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'chat_sessions'")
    ).scalar_one()


def _stored(db_session, chat) -> int:
    return db_session.execute(
        text("SELECT count(*) FROM messages WHERE session_id = :id"), {"id": chat.id}
    ).scalar_one()


# ------------------------------------------------------------------ post and the chat's figures


def test_post_stores_the_message_and_moves_the_chats_figures(db_session) -> None:
    chat = _chat()
    first = Message.objects.post(chat, "user", "hello", input_tokens=5)
    second = Message.objects.post(chat.id, Role.ASSISTANT, "hi!", input_tokens=7, output_tokens=11)

    assert second.role is Role.ASSISTANT and second.session_id == chat.id
    assert Message.objects.filter(session_id=chat.id).count() == 2
    count, tokens, last, _ = _figures(db_session, chat)
    assert (count, tokens) == (2, 23)
    assert last == max(first.created_at, second.created_at)


def test_a_held_chat_shows_the_new_figures_after_post(db_session) -> None:
    chat = _chat()
    assert chat.message_count == 0
    Message.objects.post(chat, "user", "hello", input_tokens=2, output_tokens=3)
    assert (chat.message_count, chat.total_tokens) == (1, 5)
    assert chat.last_message_at is not None


def test_the_figures_move_neither_the_chats_version_nor_its_audit_trail(db_session) -> None:
    chat = _chat()
    version, audited = chat.version, AuditLog.objects.for_object(chat).count()
    Message.objects.post(chat, "user", "hello", input_tokens=1)
    Message.objects.filter(session_id=chat.id).delete()
    assert _figures(db_session, chat)[3] == version
    assert AuditLog.objects.for_object(chat).count() == audited
    chat.title = "renamed"  # the held version is still the stored one: no stale-version error
    chat.save()


def test_a_post_updates_the_chat_row_once(db_session) -> None:
    chat = _chat()
    before = _chat_updates(db_session)
    Message.objects.post(chat, "user", "hello")
    assert _chat_updates(db_session) - before == 1


def test_soft_delete_restore_and_hard_delete_of_an_instance_keep_the_figures(db_session) -> None:
    chat = _chat()
    first = Message.objects.post(chat, "user", "one", input_tokens=1)
    last = Message.objects.post(chat, "assistant", "two", output_tokens=10)
    assert _figures(db_session, chat)[:2] == (2, 11)

    last.delete()
    count, tokens, latest, _ = _figures(db_session, chat)
    assert (count, tokens, latest) == (1, 1, first.created_at)
    last.restore()
    assert _figures(db_session, chat)[:2] == (2, 11)
    last.delete(hard=True)
    assert _figures(db_session, chat)[:2] == (1, 1)
    first.delete()
    first.delete(hard=True)  # already out of the figures: not counted out twice
    assert _figures(db_session, chat)[:3] == (0, 0, None)


def test_set_based_soft_delete_restore_and_hard_delete_keep_the_figures(db_session) -> None:
    chat, other = _chat(), _chat()
    for i in range(4):
        Message.objects.post(chat, "user", f"m{i}", input_tokens=i)
    Message.objects.post(other, "user", "elsewhere", input_tokens=100)

    assert Message.objects.filter(session_id=chat.id, input_tokens__gte=2).delete()[0] == 2
    assert _figures(db_session, chat)[:2] == (2, 1)
    assert Message.all_objects.filter(session_id=chat.id).update(deleted_at=None) == 4
    assert _figures(db_session, chat)[:2] == (4, 6)
    Message.all_objects.filter(session_id=chat.id, input_tokens__lt=3).delete(hard=True)
    assert _figures(db_session, chat)[:2] == (1, 3)
    assert _figures(db_session, other)[:2] == (1, 100)


def test_editing_a_message_changes_only_what_it_counts(db_session) -> None:
    chat = _chat()
    message = Message.objects.post(chat, "assistant", "draft", output_tokens=1)
    before = _chat_updates(db_session)
    Message.objects.filter(pk=message.id).update(content="final")
    assert _chat_updates(db_session) == before  # nothing counted changed: the chat is left alone
    Message.objects.filter(pk=message.id).update(output_tokens=40)
    assert _figures(db_session, chat)[:2] == (1, 40)


def test_a_chat_deleted_for_good_takes_its_messages_along(db_session) -> None:
    chat = _chat()
    Message.objects.post(chat, "user", "hello")
    chat.delete(hard=True)
    assert _stored(db_session, chat) == 0


def test_posting_to_a_deleted_chat_is_refused(db_session) -> None:
    chat = _chat()
    chat.delete()
    with pytest.raises(ValidationError) as caught:
        Message.objects.post(chat.id, "user", "anyone there?")
    assert caught.value.fields == ["session_id"]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"role": "robot"}, "role"),
        ({"role": None}, "role"),
        ({"content_type": "html"}, "content_type"),
        ({"role": "tool"}, "tool_call_id"),
        ({"role": "user", "tool_call_id": "call_1"}, "tool_call_id"),
        ({"role": "user", "tool_calls": [CALL]}, "tool_calls"),
        ({"content": "x" * (MAX_CONTENT + 1)}, "content"),
        ({"content": "nul \x00 inside"}, "content"),
        ({"content": "lone \ud800 surrogate"}, "content"),
        ({"thinking": "nul \x00"}, "thinking"),
        ({"meta": {"k": "\udfff"}}, "meta"),
        ({"session_id": uuid.uuid4()}, "session_id"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db_session, fields, field) -> None:
    chat = _chat()
    values = {"role": "user", "content": "hello", **fields}
    with pytest.raises(ValidationError) as caught:
        Message.objects.post(chat, values.pop("role"), values.pop("content"), **values)
    assert caught.value.fields == [field]
    assert _stored(db_session, chat) == 0
    assert _figures(db_session, chat)[:2] == (0, 0)


@pytest.mark.parametrize(
    "calls",
    [
        [],
        {"id": "call_1"},
        [{"id": "call_1", "type": "function"}],
        [{**CALL, "type": "code"}],
        [{**CALL, "id": ""}],
        [{**CALL, "function": {"name": "f", "arguments": {"city": "Oslo"}}}],
        [{**CALL, "function": {"name": "", "arguments": "{}"}}],
        [{**CALL, "function": {"name": "f"}}],
        [{**CALL, "extra": 1}],
        [CALL, CALL],
    ],
)
def test_tool_calls_must_have_the_chat_completions_shape(db_session, calls) -> None:
    chat = _chat()
    with pytest.raises(ValidationError) as caught:
        Message.objects.post(chat, "assistant", "", tool_calls=calls)
    assert caught.value.fields == ["tool_calls"]
    assert _stored(db_session, chat) == 0


def test_tool_calls_shape_is_checked_on_every_write(db_session) -> None:
    chat = _chat()
    message = Message.objects.post(chat, "assistant", "", tool_calls=[CALL])
    with pytest.raises(ValidationError) as caught:
        Message.objects.filter(pk=message.id).update(tool_calls=[{"id": "x"}])
    assert caught.value.fields == ["tool_calls"]


def test_a_parent_must_be_a_message_of_the_same_chat(db_session) -> None:
    chat, other = _chat(), _chat()
    elsewhere = Message.objects.post(other, "user", "elsewhere")
    for fields in ({"parent": elsewhere}, {"parent_id": elsewhere.id}, {"parent_id": str(uuid.uuid4())}):
        with pytest.raises(ValidationError) as caught:
            Message.objects.post(chat, "user", "reply", **fields)
        assert caught.value.fields == ["parent_id"]
    assert _stored(db_session, chat) == 0
    root = Message.objects.post(chat, "user", "root")
    assert Message.objects.post(chat, "assistant", "reply", parent=root).parent_id == root.id
    assert Message.objects.post(chat, "assistant", "again", parent_id=str(root.id)).parent_id == root.id


# ------------------------------------------------------------------ idempotency


def test_the_same_idempotency_key_returns_the_first_message_and_counts_once(db_session) -> None:
    chat, other = _chat(), _chat()
    first = Message.objects.post(chat, "user", "hello", idempotency_key="k1", input_tokens=3)
    again = Message.objects.post(chat, "user", "hello (retried)", idempotency_key="k1", input_tokens=3)
    assert again.id == first.id and again.content == "hello"
    assert _stored(db_session, chat) == 1
    assert _figures(db_session, chat)[:2] == (1, 3)
    assert Message.objects.post(other, "user", "hello", idempotency_key="k1").id != first.id
    first.delete()
    assert Message.objects.post(chat, "user", "hello", idempotency_key="k1").id == first.id
    assert _figures(db_session, chat)[:2] == (0, 0)


# ------------------------------------------------------------------ threads, replies, tool calls


def test_thread_runs_from_the_root_to_the_message_in_one_query(db_session, record_sql) -> None:
    chat = _chat()
    root = Message.objects.post(chat, "user", "root")
    middle = Message.objects.post(chat, "assistant", "middle", parent=root)
    Message.objects.post(chat, "assistant", "sibling", parent=root)
    leaf = Message.objects.post(chat, "user", "leaf", parent=middle)
    with record_sql() as sent:
        thread = Message.objects.thread(leaf)
    assert [m.content for m in thread] == ["root", "middle", "leaf"]
    assert len(sent) == 1
    middle.delete()
    assert [m.content for m in Message.objects.thread(leaf)] == ["root", "leaf"]
    assert [m.content for m in Message.all_objects.thread(leaf)] == ["root", "middle", "leaf"]


def test_replies_are_the_direct_replies_oldest_first(db_session) -> None:
    chat = _chat()
    root = Message.objects.post(chat, "user", "root")
    replies = [Message.objects.post(chat, "assistant", f"r{i}", parent=root) for i in range(3)]
    Message.objects.post(chat, "user", "deeper", parent=replies[0])
    assert [m.content for m in Message.objects.replies(root)] == ["r0", "r1", "r2"]
    assert Message.objects.replies(root).filter(content="r1").count() == 1


def test_with_tool_calls_returns_the_messages_that_call_tools(db_session) -> None:
    chat = _chat()
    Message.objects.post(chat, "user", "weather?")
    calling = Message.objects.post(chat, "assistant", "", tool_calls=[CALL])
    Message.objects.post(chat, "tool", '{"temp": 3}', tool_call_id="call_1", name="get_weather")
    assert list(Message.objects.with_tool_calls(chat)) == [calling]


# ------------------------------------------------------------------ import


def test_import_history_copies_thousands_and_updates_the_chat_once(db_session, record_sql) -> None:
    chat = _chat()
    rows = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}", "input_tokens": 1}
        for i in range(3000)
    ]
    before = _chat_updates(db_session)
    with record_sql() as sent:
        assert Message.objects.import_history(chat, rows) == 3000
    assert _chat_updates(db_session) - before == 1
    assert not any("INSERT INTO messages" in statement for statement in sent)  # COPY, not INSERT
    assert (chat.message_count, chat.total_tokens) == (3000, 3000)
    history = Message.objects.history(chat)
    assert [m["content"] for m in history] == [f"m{i}" for i in range(3000)]


def test_import_history_checks_rows_as_post_does_and_writes_nothing(db_session) -> None:
    chat, other = _chat(), _chat()
    elsewhere = Message.objects.post(other, "user", "elsewhere")
    rows = [
        {"role": "user", "content": "fine"},
        {"role": "robot", "content": "bad role"},
        {"role": "tool", "content": "no call id"},
        {"role": "user", "content": "parent elsewhere", "parent_id": elsewhere.id},
        {"role": "user", "content": "nul \x00"},
    ]
    with pytest.raises(ValidationError) as caught:
        Message.objects.import_history(chat, rows)
    assert caught.value.fields == ["rows[1].role", "rows[2].tool_call_id"]
    with pytest.raises(ValidationError) as caught:
        Message.objects.import_history(chat, [rows[0], rows[3]])
    assert caught.value.fields == ["rows[1].parent_id"]
    with pytest.raises(ValidationError) as caught:
        Message.objects.import_history(chat, [rows[0], rows[4]])
    assert caught.value.fields == ["rows[1].content"]
    assert _stored(db_session, chat) == 0
    assert _figures(db_session, chat)[:2] == (0, 0)


def test_import_history_keeps_threads_within_the_rows(db_session) -> None:
    chat = _chat()
    root, reply = uuid.uuid4(), uuid.uuid4()
    rows = [
        {"id": root, "role": "user", "content": "root"},
        {"id": reply, "role": "assistant", "content": "reply", "parent_id": root},
    ]
    assert Message.objects.import_history(chat, rows) == 2
    assert [m.content for m in Message.objects.thread(Message.objects.get(pk=reply))] == ["root", "reply"]


# ------------------------------------------------------------------ history


def test_history_is_the_chat_in_the_chat_completions_format_oldest_first(db_session) -> None:
    chat = _chat()
    Message.objects.post(chat, "system", "be brief")
    Message.objects.post(chat, "user", "weather in Oslo?", name="ada")
    Message.objects.post(chat, "assistant", "", tool_calls=[CALL], input_tokens=9)
    Message.objects.post(chat, "tool", '{"temp": 3}', tool_call_id="call_1", name="get_weather")
    Message.objects.post(chat, "assistant", "3 degrees.").delete()
    Message.objects.post(chat, "assistant", "It is 3 degrees.")
    assert Message.objects.history(chat) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Oslo?", "name": "ada"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "content": '{"temp": 3}', "tool_call_id": "call_1", "name": "get_weather"},
        {"role": "assistant", "content": "It is 3 degrees."},
    ]
    assert Message.objects.history(chat, include_system=False)[0]["role"] == "user"


def _conversation(chat) -> None:
    Message.objects.post(chat, "system", "sys")
    for turn in range(5):
        Message.objects.post(chat, "user", f"question {turn}")
        Message.objects.post(chat, "assistant", "", tool_calls=[{**CALL, "id": f"call_{turn}"}])
        Message.objects.post(chat, "tool", f"result {turn}", tool_call_id=f"call_{turn}")
        Message.objects.post(chat, "assistant", f"answer {turn}")


def test_history_within_max_tokens_keeps_system_whole_tool_turns_and_starts_on_a_user(db_session) -> None:
    chat = _chat()
    _conversation(chat)

    def contents(max_tokens: int) -> list[str]:
        history = Message.objects.history(chat, max_tokens=max_tokens, token_counter=lambda message: 10)
        return [m["content"] for m in history]

    last_two = ["question 3", "", "result 3", "answer 3", "question 4", "", "result 4", "answer 4"]
    assert contents(90) == ["sys", *last_two]
    # one token short: turn 3 loses its question, and what is left of it does not start on a user
    assert contents(89) == ["sys", *last_two[4:]]
    assert contents(50) == ["sys", *last_two[4:]]
    # the tool call and its result fit only together: without room for both, neither is kept
    assert contents(49) == ["sys"]
    assert contents(5) == ["sys"]


def test_history_with_a_limit_reads_the_latest_messages_and_keeps_them_whole(db_session) -> None:
    chat = _chat()
    _conversation(chat)
    assert [m["content"] for m in Message.objects.history(chat, limit=4)] == [
        "sys",
        "question 4",
        "",
        "result 4",
        "answer 4",
    ]
    # the latest six start on a tool result whose call is older: it goes, and so does the answer after it
    assert [m["content"] for m in Message.objects.history(chat, limit=6)] == [
        "sys",
        "question 4",
        "",
        "result 4",
        "answer 4",
    ]
    assert [m["role"] for m in Message.objects.history(chat, limit=3, include_system=False)] == []


def test_history_of_a_deleted_chat_is_empty(db_session) -> None:
    chat = _chat()
    Message.objects.post(chat, "user", "hello")
    chat.delete()
    assert Message.objects.history(chat) == []


@pytest.mark.parametrize("fields", [{"limit": 0}, {"limit": "3"}, {"max_tokens": -1}, {"max_tokens": True}])
def test_history_refuses_bad_bounds(db_session, fields) -> None:
    with pytest.raises(ValidationError) as caught:
        Message.objects.history(uuid.uuid4(), **fields)
    assert caught.value.fields == list(fields)


# ------------------------------------------------------------------ async


def test_async_twins_post_thread_import_and_history(adb_session, arun) -> None:
    async def scenario() -> None:
        tag = uuid.uuid4().hex[:10]
        user = await User.objects.acreate_user(
            f"{tag}@example.com", f"u{tag}", "correct horse battery staple"
        )
        chat = await ChatSession.objects.acreate(user_id=user.id)
        root = await Message.objects.apost(chat, "user", "hello", input_tokens=2)
        reply = await Message.objects.apost(chat, "assistant", "hi", parent=root, output_tokens=3)
        assert (chat.message_count, chat.total_tokens) == (2, 5)  # read again at once: no lazy load
        assert [m.id for m in await Message.objects.athread(reply)] == [root.id, reply.id]
        assert await Message.objects.aimport_history(chat, [{"role": "user", "content": "more"}]) == 1
        history = await Message.objects.ahistory(chat, max_tokens=1000)
        assert [m["content"] for m in history] == ["hello", "hi", "more"]
        assert [m.content async for m in Message.objects.replies(root)] == ["hi"]

    arun(scenario())


# ------------------------------------------------------------------ concurrency (committed work)


@pytest.fixture(scope="module")
def committed_db(database) -> Iterator[Database]:
    """A migrated database of its own, for tests whose threads commit."""
    with scratch_database(database, "am_msg") as url:
        db = Database(url, pool_size=17, max_overflow=0)
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()


def _in_threads(count: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def _new_chat(db: Database) -> uuid.UUID:
    with db.session():
        return _chat().id


def test_sixteen_concurrent_posters_leave_exact_figures(committed_db) -> None:
    chat, posts = _new_chat(committed_db), 10

    def post(n: int) -> None:
        for i in range(posts):
            with committed_db.session():
                Message.objects.post(chat, "user", f"{n}.{i}", input_tokens=n, output_tokens=1)

    assert _in_threads(16, post) == []
    with committed_db.session():
        stored = ChatSession.objects.get(pk=chat)
        assert stored.message_count == 16 * posts == Message.objects.filter(session_id=chat).count()
        assert stored.total_tokens == sum((n + 1) * posts for n in range(16))
        assert (
            stored.last_message_at == Message.objects.filter(session_id=chat).latest("created_at").created_at
        )


def test_concurrent_deletes_restores_and_posts_leave_exact_figures(committed_db) -> None:
    chat = _new_chat(committed_db)
    with committed_db.session():
        ids = [Message.objects.post(chat, "user", f"m{i}", input_tokens=1).id for i in range(32)]

    def churn(n: int) -> None:
        with committed_db.session():
            Message.objects.filter(pk__in=ids[2 * n : 2 * n + 2]).delete()
        with committed_db.session():
            Message.objects.post(chat, "assistant", f"late {n}", output_tokens=2)
        with committed_db.session():
            Message.all_objects.filter(pk=ids[2 * n]).update(deleted_at=None)

    assert _in_threads(16, churn) == []
    with committed_db.session():
        stored = ChatSession.objects.get(pk=chat)
        live = Message.objects.filter(session_id=chat)
        assert stored.message_count == live.count() == 32
        assert stored.total_tokens == 16 * 1 + 16 * 2
        assert stored.last_message_at == live.latest("created_at").created_at


def test_concurrent_posts_of_one_idempotency_key_store_one_message(committed_db) -> None:
    chat = _new_chat(committed_db)
    got: list[uuid.UUID] = []

    def post(n: int) -> None:
        with committed_db.session():
            got.append(
                Message.objects.post(chat, "user", f"try {n}", idempotency_key="once", input_tokens=1).id
            )

    assert _in_threads(16, post) == []
    assert len(set(got)) == 1
    with committed_db.session():
        assert Message.objects.filter(session_id=chat).count() == 1
        assert ChatSession.objects.get(pk=chat).message_count == 1


def _wait_for_lock_wait(db: Database, timeout: float = 20.0) -> None:
    """Wait until a backend of ``db`` waits for a lock."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("no backend came to wait for a lock")


def test_deleting_the_latest_message_sees_an_older_post_committed_meanwhile(committed_db) -> None:
    """The latest time is read again after the chat row is locked, so it counts a post that won the lock.

    B's transaction starts first, so its post is dated before X; it writes the chat row
    while A's deletion of X waits for that row. Read with the deletion's own snapshot,
    the latest time would miss B's post.
    """
    chat = _new_chat(committed_db)
    with committed_db.session():
        oldest = Message.objects.post(chat, "user", "oldest")
    started, x_posted, y_posted, commit_b = (threading.Event() for _ in range(4))
    found: dict[str, object] = {}

    def b() -> None:
        with committed_db.session() as session:
            session.execute(text("SELECT now()"))  # the transaction, and its now(), start here
            started.set()
            x_posted.wait(20)
            found["y"] = Message.objects.post(chat, "assistant", "dated before x").created_at
            y_posted.set()
            commit_b.wait(20)

    def a() -> None:
        with committed_db.session():
            Message.objects.filter(pk=found["x"]).delete()

    writer = threading.Thread(target=b)
    writer.start()
    assert started.wait(20)
    time.sleep(0.01)
    with committed_db.session():
        found["x"] = Message.objects.post(chat, "user", "x").id
    x_posted.set()
    assert y_posted.wait(20)
    deleter = threading.Thread(target=a)
    deleter.start()
    try:
        _wait_for_lock_wait(committed_db)
    finally:
        commit_b.set()
        writer.join(30)
        deleter.join(30)
    with committed_db.session():
        stored = ChatSession.objects.get(pk=chat)
        assert found["y"] > oldest.created_at
        assert stored.last_message_at == found["y"]
        assert stored.message_count == 2


def test_migration_0008_fills_existing_chats_figures_and_its_downgrade_keeps_them(database) -> None:
    with scratch_database(database, "am_msg_mig") as url:
        db = Database(url)
        try:
            db.migrate("0007")
            with db.engine.begin() as conn:
                user = conn.execute(
                    text(
                        "INSERT INTO users (email, username, password_hash, role, meta) "
                        "VALUES ('m@example.com', 'm', 'x', 'user', '{}') RETURNING id"
                    )
                ).scalar_one()
                chat = conn.execute(
                    text(
                        "INSERT INTO chat_sessions (user_id, title, status, provider_config, context, "
                        "settings) VALUES (:user, 't', 'active', '{}', '{}', '{}') RETURNING id"
                    ),
                    {"user": user},
                ).scalar_one()
                for tokens, deleted in ((3, None), (4, None), (50, "2026-01-01")):
                    conn.execute(
                        text(
                            "INSERT INTO messages (session_id, role, content, content_type, meta, "
                            "input_tokens, deleted_at) "
                            "VALUES (:chat, 'user', 'm', 'text', '{}', :tokens, :deleted)"
                        ),
                        {"chat": chat, "tokens": tokens, "deleted": deleted},
                    )
            figures = text("SELECT message_count, total_tokens FROM chat_sessions WHERE id = :chat")
            db.migrate()
            with db.engine.connect() as conn:
                assert tuple(conn.execute(figures, {"chat": chat}).one()) == (2, 7)
            db.downgrade("0007")
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM messages"))  # no trigger left to count it
                assert tuple(conn.execute(figures, {"chat": chat}).one()) == (2, 7)
        finally:
            db.dispose()
