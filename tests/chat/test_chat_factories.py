"""The conversation factories go through the managers, so their rows are whole and counted."""

from __future__ import annotations

import pytest

from assistant_models.exceptions import ValidationError
from assistant_models.models import Attachment, ChatSession, ConversationState, Message, ToolStatus
from assistant_models.testing.chat_factories import (
    AttachmentFactory,
    ChatSessionFactory,
    ConfirmationFactory,
    ConversationStateFactory,
    MessageFactory,
    PersonaFactory,
    PromptModuleFactory,
    ToolExecutionFactory,
)


def test_every_factory_creates_through_its_manager(db_session):
    persona = PersonaFactory()
    chat = ChatSessionFactory(persona=persona, title="Factory chat")
    MessageFactory(session=chat, content="hello", input_tokens=5)
    MessageFactory(session=chat, role="assistant", content="hi", output_tokens=7)
    fresh = ChatSession.objects.get(pk=chat.id)
    assert (fresh.message_count, fresh.total_tokens, fresh.persona_id) == (2, 12, persona.id)
    run = ToolExecutionFactory(session=chat, tool_name="lookup")
    assert run.status is ToolStatus.PENDING and run.input["query"].startswith("question")
    attachment = AttachmentFactory(message=Message.objects.filter(session_id=chat.id).first())
    content = Attachment.objects.content_of(attachment)
    assert attachment.filename.startswith("notes-") and content.startswith(b"attached file ")
    assert attachment.size == len(content) and attachment.mime_type == "text/plain"
    confirmation = ConfirmationFactory(session=chat)
    assert confirmation.user_id == chat.user_id and confirmation.expires_at is not None
    ConversationStateFactory(session=chat, key="topic", value="travel")
    assert ConversationState.objects.get_value(chat, "topic") == "travel"
    assert PromptModuleFactory().name.startswith("module-")


def test_build_validates_without_writing(db_session):
    message = MessageFactory.build(session=ChatSessionFactory(), content="draft")
    assert message.id is not None and not Message.objects.filter(pk=message.id).exists()
    with pytest.raises(ValidationError):
        MessageFactory.build(session=ChatSessionFactory(), role="narrator")


def test_a_subfactory_chat_gets_its_own_user(db_session):
    first, second = MessageFactory(), MessageFactory()
    assert first.session_id != second.session_id
