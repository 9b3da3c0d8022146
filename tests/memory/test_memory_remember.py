"""remember(): a memory stored with its chat, persona and first message, every bad argument refused first."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

from assistant_models import ValidationError
from assistant_models.models import ChatSession, ConversationMemory, MemoryType, Message, Persona
from assistant_models.testing.chat_factories import ChatSessionFactory, MessageFactory, PersonaFactory
from assistant_models.testing.memory_factories import ConversationMemoryFactory, embedding_for

pytestmark = pytest.mark.usefixtures("pgvector")


def test_remember_stores_the_memory_with_its_references_and_metadata(db_session) -> None:
    persona = PersonaFactory()
    chat = ChatSessionFactory(persona=persona)
    message = MessageFactory(session=chat, content="I am vegetarian")
    memory = ConversationMemory.objects.remember(
        chat,
        "The user is vegetarian.",
        embedding_for("vegetarian"),
        importance=0.8,
        memory_type="semantic",
        persona=persona.id,
        first_message=str(message.id),
        embedding_model="text-embedding-3-small",
        metadata={"source": "chat"},
    )
    found = ConversationMemory.objects.filter(pk=memory.id).values_list(
        "session_id", "persona_id", "first_message_id", "memory_type", "importance", "meta", "access_count"
    )
    assert found.get() == (chat.id, persona.id, message.id, MemoryType.SEMANTIC, 0.8, {"source": "chat"}, 0)
    assert memory.last_accessed_at is not None and memory.embedding_model == "text-embedding-3-small"
    assert np.allclose(
        ConversationMemory.objects.get(pk=memory.id).embedding, embedding_for("vegetarian"), atol=1e-6
    )


def test_remember_takes_the_chat_as_its_key_and_defaults_to_an_episodic_memory(db_session) -> None:
    chat = ChatSessionFactory()
    memory = ConversationMemory.objects.remember(str(chat.id), "It rained.", embedding_for("rain"))
    assert (memory.session_id, memory.memory_type, memory.importance, memory.meta) == (
        chat.id,
        MemoryType.EPISODIC,
        0.5,
        {},
    )


BAD = [
    ({"content": ""}, "content"),
    ({"content": "   "}, "content"),
    ({"content": 42}, "content"),
    ({"embedding": [0.1, 0.2]}, "embedding"),
    ({"embedding": [math.nan] * 1536}, "embedding"),
    ({"embedding": "vector"}, "embedding"),
    ({"importance": 1.5}, "importance"),
    ({"importance": -0.1}, "importance"),
    ({"importance": math.nan}, "importance"),
    ({"importance": True}, "importance"),
    ({"memory_type": "dream"}, "memory_type"),
    ({"persona": 12}, "persona"),
    ({"first_message": "not-a-key"}, "first_message"),
    ({"session": None}, "session"),
    ({"embedding_model": ""}, "embedding_model"),
    ({"metadata": ["a", "list"]}, "metadata"),
    ({"metadata": {"x": math.inf}}, "metadata"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_a_bad_argument_is_refused_naming_it_and_nothing_is_written(db_session, statements, change, field):
    chat = ChatSessionFactory()
    db_session.flush()
    arguments = {"session": chat, "content": "A fact.", "embedding": embedding_for("fact"), **change}
    before = len(statements)
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.remember(
            arguments.pop("session"), arguments.pop("content"), arguments.pop("embedding"), **arguments
        )
    assert caught.value.fields == [field]
    assert statements[before:] == []  # refused before any SQL
    assert not ConversationMemory.objects.filter(session_id=chat.id).exists()


def test_every_bad_argument_is_named_at_once(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.remember(
            "nope", "", [1.0], importance=2, memory_type="x", persona=object()
        )
    assert caught.value.fields == ["session", "persona", "content", "embedding", "importance", "memory_type"]


def test_a_first_message_of_another_chat_is_refused(db_session) -> None:
    chat, other = ChatSessionFactory(), ChatSessionFactory()
    elsewhere = MessageFactory(session=other)
    for given in (elsewhere, elsewhere.id):
        with pytest.raises(ValidationError) as caught:
            ConversationMemory.objects.remember(chat, "A fact.", embedding_for("fact"), first_message=given)
        assert caught.value.fields == ["first_message"]
    assert not ConversationMemory.objects.filter(session_id=chat.id).exists()


def test_a_deleted_first_message_is_refused(db_session) -> None:
    chat = ChatSessionFactory()
    gone = MessageFactory(session=chat)
    gone.delete()
    with pytest.raises(ValidationError, match="first_message"):
        ConversationMemory.objects.remember(chat, "A fact.", embedding_for("fact"), first_message=gone.id)


def test_the_memories_of_a_deleted_chat_are_hidden_and_come_back_with_it(db_session) -> None:
    memory = ConversationMemoryFactory()
    chat = ChatSession.objects.get(pk=memory.session_id)
    chat.delete()
    assert not ConversationMemory.objects.filter(pk=memory.id).exists()
    assert ConversationMemory.objects.recall(memory.embedding) == []
    chat.restore()
    assert ConversationMemory.objects.filter(pk=memory.id).exists()


def test_a_chat_deleted_for_good_takes_its_memories_with_it(db_session) -> None:
    memory = ConversationMemoryFactory()
    ChatSession.all_objects.filter(pk=memory.session_id).delete(hard=True)
    assert not ConversationMemory.all_objects.filter(pk=memory.id).exists()


def test_a_persona_deleted_for_good_leaves_its_memories_without_a_persona(db_session) -> None:
    persona = PersonaFactory()
    memory = ConversationMemoryFactory(persona=persona)
    Persona.all_objects.filter(pk=persona.id).delete(hard=True)
    assert ConversationMemory.objects.filter(pk=memory.id).values_list("persona_id", flat=True).get() is None


def test_a_first_message_deleted_for_good_leaves_the_memory(db_session) -> None:
    message = MessageFactory()
    memory = ConversationMemoryFactory(session=message.session_id, first_message=message)
    Message.all_objects.filter(pk=message.id).delete(hard=True)
    assert (
        ConversationMemory.objects.filter(pk=memory.id).values_list("first_message_id", flat=True).get()
        is None
    )


def test_an_unknown_chat_is_refused_by_its_foreign_key_naming_it(db_session) -> None:
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.remember(uuid.uuid4(), "A fact.", embedding_for("fact"))
    assert caught.value.fields == ["session_id"]
