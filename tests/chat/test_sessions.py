"""Chat sessions: start, a user's list, archive, pin, summaries, search, and the mixins' guarantees."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from conversation_rows import new_chat, new_message, new_user, tag
from sqlalchemy import text

from assistant_models.core.expressions import Now
from assistant_models.exceptions import ConflictError, InvalidTransition, ValidationError
from assistant_models.models import AuditLog, ChatSession, ChatStatus, Message, Persona, Role, User
from assistant_models.models.chat import ChatSummary
from assistant_models.models.chat.activity import UserActivity
from assistant_models.models.chat.sessions import PREVIEW_LENGTH

pytestmark = pytest.mark.integration


def _ago(chat: ChatSession, **delta) -> None:
    """Date ``chat``'s last message back by ``delta`` on the server's clock."""
    ChatSession.objects.filter(pk=chat.id).update(last_message_at=Now() - timedelta(**delta))


def _audit_actions(chat: ChatSession) -> list[str]:
    return [log.action.value for log in AuditLog.objects.for_object(chat)]


# ------------------------------------------------------------------ start


def test_a_started_chat_is_active_untitled_and_has_no_messages_yet(db_session) -> None:
    user = new_user()
    chat = ChatSession.objects.start(user)
    assert (chat.user_id, chat.title, chat.status) == (user.id, "New chat", ChatStatus.ACTIVE)
    assert (chat.message_count, chat.total_tokens, chat.last_message_at, chat.version) == (0, 0, None, 1)
    assert (chat.context, chat.settings, chat.is_pinned) == ({}, {}, False)
    assert ChatSession.objects.get(pk=chat.id).title == "New chat"


def test_a_chat_starts_with_its_title_persona_agent_context_and_settings(db_session) -> None:
    persona = Persona.objects.create(name=f"guide {tag()}", template="You are a guide.")
    chat = ChatSession.objects.start(
        new_user().id,
        "Trip to Lisbon",
        persona=persona,
        agent_type="triage",
        context={"city": "Lisbon"},
        settings={"temperature": 0.2},
    )
    assert ChatSession.objects.get(pk=chat.id).persona_id == persona.id
    assert (chat.title, chat.agent_type, chat.context, chat.settings) == (
        "Trip to Lisbon",
        "triage",
        {"city": "Lisbon"},
        {"temperature": 0.2},
    )


def test_starting_a_chat_writes_its_audit_row(db_session) -> None:
    assert _audit_actions(new_chat()) == ["create"]


@pytest.mark.parametrize(
    ("args", "fields", "field"),
    [
        (("not a user",), {}, "user"),
        ((None,), {}, "user"),
        ((), {"title": ""}, "title"),
        ((), {"title": "x" * 256}, "title"),
        ((), {"agent_type": "a" * 51}, "agent_type"),
        ((), {"persona": 42}, "persona"),
        ((), {"context": ["not", "a", "dict"]}, "context"),
    ],
)
def test_bad_start_input_is_a_validation_error_naming_the_field(db_session, args, fields, field) -> None:
    user = new_user()
    title = fields.pop("title", None)
    before = ChatSession.all_objects.count()
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.start(*(args or (user,)), title, **fields)
    assert field in caught.value.fields
    assert ChatSession.all_objects.count() == before


def test_a_chat_cannot_be_started_for_a_deleted_user(db_session) -> None:
    user = new_user()
    user.delete()
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.start(user)
    assert caught.value.fields == ["user_id"]


def test_the_async_twin_starts_a_chat(adb_session, arun) -> None:
    name = tag()

    async def main() -> ChatSession:
        user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", "correct horse battery")
        return await ChatSession.objects.astart(user, "async chat", agent_type="triage")

    chat = arun(main())
    assert (chat.title, chat.agent_type, chat.status) == ("async chat", "triage", ChatStatus.ACTIVE)
    assert arun(ChatSession.objects.filter(pk=chat.id).acount()) == 1


# ------------------------------------------------------------------ a user's list


def test_a_users_list_shows_pinned_chats_first_then_the_most_recent_activity(db_session) -> None:
    user = new_user()
    quiet = new_chat(user, "never spoken")
    old = new_chat(user, "old")
    recent = new_chat(user, "recent")
    pinned_old = new_chat(user, "pinned old")
    new_chat(new_user(), "someone else's")
    _ago(old, days=3)
    _ago(recent, hours=1)
    _ago(pinned_old, days=30)
    ChatSession.objects.pin(pinned_old)
    assert [c.title for c in ChatSession.objects.for_user(user)] == [
        "pinned old",
        "recent",
        "old",
        "never spoken",
    ]
    assert ChatSession.objects.for_user(user).count() == 4
    assert quiet in ChatSession.objects.for_user(user.id)


def test_a_users_list_breaks_ties_by_the_newest_key(db_session) -> None:
    user = new_user()
    chats = [new_chat(user, f"chat {i}") for i in range(4)]
    assert [c.id for c in ChatSession.objects.for_user(user)] == sorted((c.id for c in chats), reverse=True)


def test_a_users_list_can_show_one_status_and_never_shows_deleted_chats(db_session) -> None:
    user = new_user()
    active, archived, deleted = new_chat(user, "a"), new_chat(user, "b"), new_chat(user, "c")
    ChatSession.objects.archive(archived)
    deleted.delete()
    assert [c.id for c in ChatSession.objects.for_user(user, ChatStatus.ACTIVE)] == [active.id]
    assert [c.id for c in ChatSession.objects.for_user(user, "archived")] == [archived.id]
    assert {c.id for c in ChatSession.objects.for_user(user)} == {active.id, archived.id}


def test_an_unknown_status_is_a_validation_error(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.for_user(new_user(), "deleted")
    assert caught.value.fields == ["status"]


def test_a_users_list_is_read_from_its_index_in_order(db_session) -> None:
    user = new_user()
    for i in range(3):
        new_chat(user, f"chat {i}")
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = ChatSession.objects.for_user(user)[:20].explain()
    assert "ix_chat_sessions__user_list" in plan
    assert "Sort" not in plan  # the index gives the order: a page reads only its rows


# ------------------------------------------------------------------ archive, unarchive, pin


def test_archiving_and_unarchiving_move_a_chat_and_audit_each_move(db_session) -> None:
    chat = new_chat()
    ChatSession.objects.archive(chat)
    assert (ChatSession.objects.get(pk=chat.id).status, chat.version) == (ChatStatus.ARCHIVED, 2)
    ChatSession.objects.unarchive(chat)
    assert (ChatSession.objects.get(pk=chat.id).status, chat.version) == (ChatStatus.ACTIVE, 3)
    assert _audit_actions(chat) == ["create", "update", "update"]


def test_archiving_an_archived_chat_or_unarchiving_an_active_one_is_an_invalid_transition(db_session) -> None:
    chat = new_chat()
    with pytest.raises(InvalidTransition):
        ChatSession.objects.unarchive(chat)
    ChatSession.objects.archive(chat)
    with pytest.raises(InvalidTransition):
        ChatSession.objects.archive(chat)
    assert chat.version == 2


def test_pinning_and_unpinning_a_chat(db_session) -> None:
    chat = new_chat()
    ChatSession.objects.pin(chat)
    assert ChatSession.objects.get(pk=chat.id).is_pinned is True
    ChatSession.objects.pin(chat, pinned=False)
    assert ChatSession.objects.get(pk=chat.id).is_pinned is False
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.pin(chat, pinned="yes")
    assert caught.value.fields == ["pinned"]


# ------------------------------------------------------------------ archive_inactive


def test_archive_inactive_archives_idle_active_chats_in_one_audited_statement(db_session, record_sql) -> None:
    user = new_user()
    idle, busy, idle_archived, idle_deleted = (new_chat(user, t) for t in ("idle", "busy", "arch", "del"))
    for chat in (idle, idle_archived, idle_deleted):
        _ago(chat, days=40)
    _ago(busy, days=2)
    ChatSession.objects.archive(idle_archived)
    idle_deleted.delete()
    version = ChatSession.objects.get(pk=idle.id).version
    with record_sql() as sent:
        archived = ChatSession.objects.filter(user_id=user.id).archive_inactive(timedelta(days=30))
    assert archived == 1
    writes = [s for s in sent if s.lstrip().upper().startswith(("UPDATE", "WITH", "INSERT"))]
    assert len(writes) == 1
    assert ChatSession.objects.get(pk=idle.id).status == ChatStatus.ARCHIVED
    assert ChatSession.objects.get(pk=idle.id).version == version + 1
    assert ChatSession.objects.get(pk=busy.id).status == ChatStatus.ACTIVE
    assert ChatSession.all_objects.get(pk=idle_deleted.id).status == ChatStatus.ACTIVE
    log = list(AuditLog.objects.for_object(idle))[-1]
    assert (log.action.value, log.changes) == (
        "update",
        {"fields": {"status": {"before": "active", "after": "archived"}}},
    )


def test_archive_inactive_counts_a_chat_without_messages_from_its_start(db_session) -> None:
    user = new_user()
    fresh = new_chat(user, "fresh")
    stale = new_chat(user, "stale")
    ChatSession.objects.filter(pk=stale.id).update(created_at=Now() - timedelta(days=90))
    assert ChatSession.objects.filter(user_id=user.id).archive_inactive(timedelta(days=30)) == 1
    assert ChatSession.objects.get(pk=stale.id).status == ChatStatus.ARCHIVED
    assert ChatSession.objects.get(pk=fresh.id).status == ChatStatus.ACTIVE


@pytest.mark.parametrize("older_than", [30, "30 days", timedelta(days=-1), None])
def test_archive_inactive_needs_a_non_negative_timedelta(db_session, older_than) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.archive_inactive(older_than)
    assert caught.value.fields == ["older_than"]


# ------------------------------------------------------------------ summaries


def test_summaries_show_each_chat_with_its_last_live_message_in_list_order(db_session, record_sql) -> None:
    user = new_user()
    quiet = new_chat(user, "quiet")
    talk = new_chat(user, "talk")
    pinned = new_chat(user, "pinned")
    ChatSession.objects.pin(pinned)
    new_message(talk, "first question")
    last = new_message(talk, "x" * 500, role="assistant")
    hidden = new_message(talk, "a later message, deleted")
    Message.objects.filter(pk=last.id).update(created_at=Now() + timedelta(seconds=1))
    Message.objects.filter(pk=hidden.id).update(created_at=Now() + timedelta(seconds=2))
    hidden.delete()
    new_message(pinned, "pinned message")
    _ago(talk, minutes=1)
    with record_sql() as sent:
        summaries = ChatSession.objects.summaries(user)
    assert len(sent) == 1
    assert [s.session.id for s in summaries] == [pinned.id, talk.id, quiet.id]
    top, middle, bottom = summaries
    assert isinstance(top, ChatSummary) and isinstance(top.session, ChatSession)
    assert (top.last_message_preview, top.last_message_role) == ("pinned message", Role.USER)
    assert middle.last_message_preview == "x" * PREVIEW_LENGTH
    assert middle.last_message_role is Role.ASSISTANT
    assert middle.last_message_at == Message.objects.get(pk=last.id).created_at
    assert bottom.last_message_preview is bottom.last_message_role is bottom.last_message_at is None


def test_summaries_stop_at_the_limit_and_skip_other_users_and_deleted_chats(db_session) -> None:
    user = new_user()
    chats = [new_chat(user, f"chat {i}") for i in range(4)]
    chats[0].delete()
    new_chat(new_user(), "not mine")
    summaries = ChatSession.objects.summaries(user.id, limit=2)
    assert [s.session.id for s in summaries] == [c.id for c in ChatSession.objects.for_user(user)[:2]]
    assert chats[0].id not in {s.session.id for s in ChatSession.objects.summaries(user)}


@pytest.mark.parametrize("limit", [0, -1, 1001, "20", 2.5, True])
def test_summaries_refuse_a_bad_limit(db_session, limit) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatSession.objects.summaries(new_user(), limit=limit)
    assert caught.value.fields == ["limit"]


def test_the_async_twin_summarises(adb_session, arun) -> None:
    name = tag()

    async def main() -> list[ChatSummary]:
        user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", "correct horse battery")
        chat = await ChatSession.objects.astart(user, "async")
        await Message.objects.acreate(session_id=chat.id, role="user", content="hi there")
        return await ChatSession.objects.asummaries(user)

    (summary,) = arun(main())
    assert (summary.session.title, summary.last_message_preview) == ("async", "hi there")


# ------------------------------------------------------------------ search


def test_search_ranks_title_matches_above_description_matches_and_hides_deleted_chats(db_session) -> None:
    user = new_user()
    word = f"zq{tag()}"
    in_description = ChatSession.objects.start(user, "Planning")
    ChatSession.objects.filter(pk=in_description.id).update(description=f"notes about {word}")
    in_title = new_chat(user, f"{word} budget")
    gone = new_chat(user, f"{word} gone")
    gone.delete()
    assert [c.id for c in ChatSession.objects.search(word)] == [in_title.id, in_description.id]
    assert [c.id for c in ChatSession.objects.for_user(user).search(word)] == [in_title.id, in_description.id]
    assert gone.id in {c.id for c in ChatSession.all_objects.search(word)}


# ------------------------------------------------------------------ soft delete, audit, versions


def test_a_deleted_chat_is_hidden_kept_and_restorable_with_audit_rows(db_session) -> None:
    chat = new_chat()
    assert chat.delete() == (1, {"ChatSession": 1})
    assert not ChatSession.objects.filter(pk=chat.id).exists()
    assert ChatSession.all_objects.get(pk=chat.id).is_deleted
    assert [c.id for c in ChatSession.deleted_objects.filter(user_id=chat.user_id)] == [chat.id]
    chat.restore()
    assert ChatSession.objects.get(pk=chat.id).deleted_at is None
    assert _audit_actions(chat)[0] == "create"
    assert len(_audit_actions(chat)) == 3


def test_a_write_from_a_stale_version_raises_conflict(db_session) -> None:
    chat = new_chat()
    db_session.execute(text("UPDATE chat_sessions SET version = version + 1 WHERE id = :id"), {"id": chat.id})
    with pytest.raises(ConflictError):
        ChatSession.objects.pin(chat)


def test_counter_columns_are_not_audited(db_session) -> None:
    chat = new_chat()
    ChatSession.objects.filter(pk=chat.id).update(message_count=3, total_tokens=50, last_message_at=Now())
    assert _audit_actions(chat) == ["create"]


def test_a_missing_chat_is_a_does_not_exist(db_session) -> None:
    with pytest.raises(ChatSession.DoesNotExist):
        ChatSession.objects.get(pk=uuid.uuid4())


# ------------------------------------------------------------------ per-user activity


def test_user_activity_sums_each_users_live_chats_in_one_query(db_session, record_sql) -> None:
    busy, idle, quiet = new_user(), new_user(), new_user()
    first, second, gone = new_chat(busy), new_chat(busy), new_chat(busy)
    ChatSession.objects.filter(pk=first.id).update(message_count=3, total_tokens=100, last_message_at=Now())
    ChatSession.objects.filter(pk=second.id).update(
        message_count=2, total_tokens=50, last_message_at=Now() + timedelta(minutes=5)
    )
    ChatSession.objects.filter(pk=gone.id).update(message_count=7, total_tokens=700)
    gone.delete()
    ChatSession.objects.filter(pk=new_chat(idle).id).update(created_at=Now() - timedelta(days=2))
    deleted = new_user()
    deleted.delete()
    with record_sql() as sent:
        rows = User.objects.filter(pk__in=[busy.id, idle.id, quiet.id, deleted.id]).activity()
    assert len(sent) == 1
    assert [(r.user.id, r.sessions, r.messages, r.tokens) for r in rows] == [
        (busy.id, 2, 5, 150),
        (idle.id, 1, 0, 0),
        (quiet.id, 0, 0, 0),
    ]
    assert rows[0].last_activity_at == ChatSession.objects.get(pk=second.id).last_message_at
    assert rows[1].last_activity_at == ChatSession.objects.get(pk=idle_chat_of(idle)).created_at
    assert rows[2].last_activity_at is None
    assert isinstance(rows[0], UserActivity)


def idle_chat_of(user) -> uuid.UUID:
    return ChatSession.objects.get(user_id=user.id).id


def test_the_async_twin_gives_user_activity(adb_session, arun) -> None:
    name = tag()

    async def main() -> list[UserActivity]:
        user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", "correct horse battery")
        await ChatSession.objects.astart(user)
        return await User.objects.filter(pk=user.id).aactivity()

    (row,) = arun(main())
    assert (row.user.username, row.sessions) == (f"u{name}", 1)
