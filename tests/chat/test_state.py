"""Conversation state: keyed JSON values per chat, persona and module, upserted in one statement."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from assistant_models.database import Database
from assistant_models.exceptions import ValidationError
from assistant_models.models import User
from assistant_models.models.chat import ChatSession, ConversationState, Persona, PromptModule
from assistant_models.models.chat.state import MAX_STATE_VALUE

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
State = ConversationState.objects


def _chat(title: str = "state") -> ChatSession:
    tag = uuid.uuid4().hex[:12]
    user = User.objects.create_user(f"{tag}@example.com", f"u{tag}", PASSWORD)
    return ChatSession.objects.create(user_id=user.id, title=title)


@pytest.fixture
def chat(db_session: Session) -> ChatSession:
    return _chat()


@pytest.fixture
def persona(db_session: Session) -> Persona:
    return Persona.objects.create(name=f"state-{uuid.uuid4().hex[:10]}", template="t")


@pytest.fixture
def module(db_session: Session) -> PromptModule:
    return PromptModule.objects.create(name=f"state-{uuid.uuid4().hex[:10]}", type="memory")


def test_a_value_set_is_read_back_and_a_missing_one_gives_the_default(chat: ChatSession) -> None:
    row = State.set_value(chat, "mood", {"level": 3, "tags": ["calm"]})
    assert isinstance(row, ConversationState)
    assert (row.session_id, row.persona_id, row.module_id, row.key) == (chat.id, None, None, "mood")
    assert State.get_value(chat, "mood") == {"level": 3, "tags": ["calm"]}
    assert State.get_value(chat, "absent") is None
    assert State.get_value(chat, "absent", default="none yet") == "none yet"


def test_setting_a_key_again_replaces_its_value_in_the_same_row(chat: ChatSession, record_sql) -> None:
    first = State.set_value(chat, "step", 1)
    with record_sql() as sent:
        second = State.set_value(chat, "step", 2)
    assert len(sent) == 1 and "ON CONFLICT ON CONSTRAINT uq_conversation_states__key" in sent[0]
    assert second.id == first.id
    assert first.value == 2  # the row in hand is refreshed
    assert State.filter(session_id=chat.id).count() == 1
    assert State.get_value(chat, "step") == 2


def test_each_persona_and_module_scope_keeps_its_own_value(
    chat: ChatSession, persona: Persona, module: PromptModule
) -> None:
    scopes = [{}, {"persona": persona}, {"module": module}, {"persona": persona, "module": module}]
    for n, scope in enumerate(scopes):
        State.set_value(chat, "k", n, **scope)
    for n, scope in enumerate(scopes):
        State.set_value(chat, "k", n * 10, **scope)  # absent persona/module count as equal: upserts
        assert State.get_value(chat, "k", **scope) == n * 10
    assert State.filter(session_id=chat.id).count() == 4


def test_any_json_value_is_kept_none_included(chat: ChatSession) -> None:
    values = [None, True, 0, -1.5, "text é ✓", [], {}, [1, [2, [3]]], {"a": {"b": None}}]
    for n, value in enumerate(values):
        State.set_value(chat, f"v{n}", value)
    assert [State.get_value(chat, f"v{n}", default="missing") for n in range(len(values))] == values


def test_delete_value_removes_the_key_and_says_whether_it_was_there(
    chat: ChatSession, persona: Persona
) -> None:
    State.set_value(chat, "k", 1)
    State.set_value(chat, "k", 2, persona=persona)
    assert State.delete_value(chat, "k") is True
    assert State.delete_value(chat, "k") is False
    assert State.get_value(chat, "k") is None
    assert State.get_value(chat, "k", persona=persona) == 2


def test_all_for_returns_the_values_of_one_scope_by_key(
    chat: ChatSession, persona: Persona, module: PromptModule
) -> None:
    State.set_value(chat, "b", 2)
    State.set_value(chat, "a", 1)
    State.set_value(chat, "a", "module's", module=module)
    State.set_value(chat, "z", "persona's", persona=persona)
    State.set_value(_chat(), "a", "another chat's")
    assert State.all_for(chat) == {"a": 1, "b": 2}
    assert list(State.all_for(chat)) == ["a", "b"]
    assert State.all_for(chat, module=module) == {"a": "module's"}
    assert State.all_for(chat, persona=persona) == {"z": "persona's"}
    assert State.all_for(chat, persona=persona, module=module) == {}


def test_the_state_of_a_soft_deleted_chat_is_hidden_until_it_is_restored(chat: ChatSession) -> None:
    State.set_value(chat, "k", "v")
    chat.delete()
    assert State.get_value(chat, "k", default="hidden") == "hidden"
    assert State.all_for(chat) == {}
    chat.restore()
    assert State.get_value(chat, "k") == "v"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("nul \x00 inside", "NUL"),
        ({"deep": {"nul": ["\x00"]}}, "NUL"),
        ({"lone": "\ud800"}, "surrogate"),
        (b"bytes with \x00", "NUL"),
        (float("nan"), "NaN"),
        ({"x": float("inf")}, "NaN"),
        (object(), "JSON"),
        ("x" * MAX_STATE_VALUE, "longer"),
    ],
)
def test_a_value_postgresql_or_json_cannot_hold_is_refused_naming_value(
    chat: ChatSession, value, why: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        State.set_value(chat, "k", value)
    assert caught.value.fields == ["value"]
    assert why in str(caught.value)
    assert not State.filter(session_id=chat.id).exists()


def test_a_value_nested_too_deep_is_refused_naming_value(chat: ChatSession) -> None:
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValidationError) as caught:
        State.set_value(chat, "k", deep)
    assert caught.value.fields == ["value"]
    assert not State.filter(session_id=chat.id).exists()


@pytest.mark.parametrize("key", ["", "k" * 256, "nul\x00", None, 7])
def test_a_bad_key_is_refused_naming_key_by_every_method(chat: ChatSession, key) -> None:
    calls = [
        lambda: State.set_value(chat, key, 1),
        lambda: State.get_value(chat, key),
        lambda: State.delete_value(chat, key),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.fields == ["key"]
    assert not State.filter(session_id=chat.id).exists()


def test_scope_arguments_must_be_saved_instances_of_their_model(
    chat: ChatSession, persona: Persona, module: PromptModule
) -> None:
    cases = [
        ({"session": chat.id}, "session"),
        ({"session": ChatSession(user_id=chat.user_id)}, "session"),
        ({"session": chat, "persona": module}, "persona"),
        ({"session": chat, "module": persona}, "module"),
    ]
    for args, field in cases:
        with pytest.raises(ValidationError) as caught:
            State.set_value(key="k", value=1, **args)
        assert caught.value.fields == [field]
        with pytest.raises(ValidationError) as caught:
            State.all_for(**args)
        assert caught.value.fields == [field]
    assert not State.filter(session_id=chat.id).exists()


def test_awaited_set_value_and_get_value_work(adb_session, arun) -> None:
    async def scenario():
        tag = uuid.uuid4().hex[:12]
        user = await User.objects.acreate_user(f"{tag}@example.com", f"u{tag}", PASSWORD)
        chat = await ChatSession.objects.acreate(user_id=user.id, title="async")
        await State.aset_value(chat, "k", {"n": 1})
        await State.aset_value(chat, "k", {"n": 2})
        return await State.aget_value(chat, "k"), await State.aall_for(chat)

    assert arun(scenario()) == ({"n": 2}, {"k": {"n": 2}})


# ------------------------------------------------------------------ concurrency


@pytest.fixture
def migrated(scratch_url: str) -> Iterator[Database]:
    with Database(scratch_url, pool_size=20) as db:
        db.migrate()
        yield db


def test_sixteen_writers_of_one_key_leave_one_row_and_no_error(migrated: Database) -> None:
    with migrated.session():
        chat_id = _chat().id
    writers = 16
    barrier = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with migrated.session():
                chat = ChatSession.objects.get(pk=chat_id)
                barrier.wait()
                State.set_value(chat, "shared", {"writer": n})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with migrated.session():
        rows = list(State.filter(session_id=chat_id).values_list("key", "value"))
    assert len(rows) == 1
    assert rows[0][0] == "shared" and rows[0][1]["writer"] in range(writers)
