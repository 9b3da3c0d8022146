"""A chat's rows go with it: hard delete removes them (counted), soft delete hides them everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conversation_rows import new_chat, new_message, new_user, tag

from assistant_models.core.aggregates import Count
from assistant_models.core.types import server_now
from assistant_models.models import (
    Attachment,
    AuditLog,
    ChatSession,
    Confirmation,
    ConversationState,
    Message,
    ToolExecution,
    User,
)

pytestmark = pytest.mark.integration

CHILDREN = (Message, ToolExecution, Attachment, Confirmation, ConversationState)


def _full_chat(db_session, user: User | None = None, word: str = "") -> ChatSession:
    """Return a chat with two messages, a tool run, an attachment, a confirmation and a state value."""
    chat = new_chat(user)
    question = new_message(chat, f"what is {word} today?")
    answer = new_message(chat, f"{word} is fine", role="assistant")
    ToolExecution.objects.record(chat, "search", {"q": word}, message=answer)
    Attachment.objects.attach(question, "notes.txt", f"notes {tag()}".encode())
    Confirmation.objects.create(
        session_id=chat.id,
        user_id=chat.user_id,
        kind="send_email",
        data={"to": "a@example.com"},
        expires_at=server_now(db_session) + timedelta(minutes=5),
    )
    ConversationState.objects.create(session_id=chat.id, key="mood", value={"level": 3})
    return chat


def _of(model, chat: ChatSession):
    return model.objects.filter(session_id=chat.id)


# ------------------------------------------------------------------ hard delete


def test_hard_deleting_a_chat_removes_and_counts_every_row_of_it(db_session) -> None:
    chat = _full_chat(db_session)
    other = _full_chat(db_session)
    assert chat.delete(hard=True) == (
        7,
        {
            "ChatSession": 1,
            "Message": 2,
            "ToolExecution": 1,
            "Attachment": 1,
            "Confirmation": 1,
            "ConversationState": 1,
        },
    )
    for model in CHILDREN:
        assert not model.all_objects.filter(session_id=chat.id).exists(), model.__name__
        assert _of(model, other).count() >= 1, model.__name__
    assert [log.action.value for log in AuditLog.objects.for_object(chat)] == ["create", "delete"]


def test_hard_deleting_chats_through_a_queryset_counts_their_rows(db_session) -> None:
    user = new_user()
    for _ in range(2):
        _full_chat(db_session, user)
    total, counts = ChatSession.objects.filter(user_id=user.id).delete(hard=True)
    assert counts["ChatSession"] == 2 and counts["Message"] == 4 and counts["Attachment"] == 2
    assert total == 14


# ------------------------------------------------------------------ soft delete


@pytest.mark.parametrize("model", CHILDREN, ids=lambda m: m.__name__)
def test_a_soft_deleted_chat_hides_its_rows_from_every_read(db_session, model) -> None:
    chat = _full_chat(db_session)
    keep = _full_chat(db_session)
    row = _of(model, chat).first()
    chat.delete()
    rows = _of(model, chat)
    assert rows.count() == 0 and not rows.exists() and list(rows) == []
    assert list(rows.values_list("pk", flat=True)) == []
    assert rows.aggregate(n=Count("pk")) == {"n": 0}
    assert model.objects.in_bulk([row.pk]) == {}
    with pytest.raises(model.DoesNotExist):
        model.objects.get(pk=row.pk)
    assert not model.objects.filter(pk__in=model.all_objects.filter(session_id=chat.id).values("pk")).exists()
    assert _of(model, keep).exists()
    assert model.all_objects.filter(session_id=chat.id).count() >= 1


@pytest.mark.parametrize("model", CHILDREN, ids=lambda m: m.__name__)
def test_restoring_a_chat_brings_its_rows_back(db_session, model) -> None:
    chat = _full_chat(db_session)
    before = sorted(_of(model, chat).values_list("pk", flat=True))
    chat.delete()
    chat.restore()
    assert sorted(_of(model, chat).values_list("pk", flat=True)) == before != []


def test_a_soft_deleted_chat_hides_its_messages_from_search(db_session) -> None:
    word = f"zq{tag()}"
    chat, keep = _full_chat(db_session, word=word), _full_chat(db_session, word=word)
    assert {m.session_id for m in Message.objects.search(word)} == {chat.id, keep.id}
    chat.delete()
    assert {m.session_id for m in Message.objects.search(word)} == {keep.id}
    assert {m.session_id for m in Message.all_objects.search(word)} == {chat.id, keep.id}
    assert ChatSession.objects.filter(pk=chat.id).search("New chat").count() == 0


def test_a_soft_deleted_chat_keeps_its_rows_and_writes_none_of_them(db_session) -> None:
    chat = _full_chat(db_session)
    stamps = {
        m: sorted(m.all_objects.filter(session_id=chat.id).values_list("updated_at", flat=True))
        for m in CHILDREN
    }
    assert chat.delete() == (1, {"ChatSession": 1})
    for model in CHILDREN:
        assert (
            sorted(model.all_objects.filter(session_id=chat.id).values_list("updated_at", flat=True))
            == stamps[model]
        )


def test_tool_stats_leave_out_the_runs_of_a_soft_deleted_chat(db_session) -> None:
    chat = _full_chat(db_session)
    name = f"tool_{tag()}"
    ToolExecution.objects.record(chat, name, {})
    assert name in ToolExecution.objects.stats()
    chat.delete()
    assert name not in ToolExecution.objects.stats()


# ------------------------------------------------------------------ a user's data


def test_hard_deleting_a_user_erases_their_chats_and_everything_in_them_audited(db_session) -> None:
    user = new_user()
    chats = [_full_chat(db_session, user) for _ in range(2)]
    total, counts = user.delete(hard=True)
    assert counts["User"] == 1 and counts["ChatSession"] == 2
    assert (counts["Message"], counts["ToolExecution"], counts["Attachment"]) == (4, 2, 2)
    assert (counts["Confirmation"], counts["ConversationState"]) == (2, 2)
    assert total == sum(counts.values())
    for chat in chats:
        assert [log.action.value for log in AuditLog.objects.for_object(chat)] == ["create", "delete"]
        for model in CHILDREN:
            assert not model.all_objects.filter(session_id=chat.id).exists()
    assert [log.action.value for log in AuditLog.objects.for_object(user)][-1] == "delete"
