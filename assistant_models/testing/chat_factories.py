"""factory-boy factories for the conversation models.

As in :mod:`assistant_models.testing.factories`, ``Factory.build()`` calls the model's
validating constructor and ``Factory()`` the manager method application code calls
(``ChatSession.objects.start``, ``Message.objects.post``, ``ToolExecution.objects.record``,
``Attachment.objects.attach``, ``Confirmation.objects.request``,
``ConversationState.objects.set_value``), in the current unit of work.

Example:
    >>> def test_a_tool_turn(db_session):  # doctest: +SKIP
    ...     chat = ChatSessionFactory(title="Trip")
    ...     MessageFactory(session=chat, role="user", content="Weather in Lisbon?")
    ...     run = ToolExecutionFactory(session=chat, tool_name="get_weather")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from factory import declarations

from assistant_models.models.chat.attachments import Attachment
from assistant_models.models.chat.confirmations import Confirmation
from assistant_models.models.chat.messages import Message
from assistant_models.models.chat.personas import Persona, PromptModule
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.models.chat.state import ConversationState
from assistant_models.models.chat.tools import ToolExecution
from assistant_models.models.identity.users import User
from assistant_models.testing.factories import (
    RUN_TAG,
    AssistantModelFactory,
    Sequence,
    SubFactory,
    UserFactory,
)

__all__ = [
    "AttachmentFactory",
    "ChatSessionFactory",
    "ConfirmationFactory",
    "ConversationStateFactory",
    "MessageFactory",
    "PersonaFactory",
    "PromptModuleFactory",
    "ToolExecutionFactory",
]


#: factory-boy's ``Sequence`` for values other than text (its typed alias in factories takes str).
Numbered: Callable[[Callable[[int], Any]], Any] = declarations.Sequence


def _key(value: Any) -> Any:
    """Return the key of a saved row (or the value itself)."""
    return getattr(value, "id", value)


class PersonaFactory(AssistantModelFactory[Persona]):
    """Personas with unique names, created with ``Persona.objects.create``."""

    class Meta:
        """factory-boy options."""

        model = Persona

    name = Sequence(lambda n: f"Persona {n} {RUN_TAG}")
    template = "You are a helpful assistant."


class PromptModuleFactory(AssistantModelFactory[PromptModule]):
    """Prompt modules with unique names, created with ``PromptModule.objects.create``."""

    class Meta:
        """factory-boy options."""

        model = PromptModule

    name = Sequence(lambda n: f"module-{n}-{RUN_TAG}")
    type = "prompt"
    content = "Answer briefly."


#: What ``ChatSession.objects.start`` takes.
_START_ARGUMENTS = frozenset({"user", "title", "persona", "agent_type", "context", "settings"})


class ChatSessionFactory(AssistantModelFactory[ChatSession]):
    """Chats started with ``ChatSession.objects.start``; accepts its arguments only."""

    class Meta:
        """factory-boy options."""

        model = ChatSession

    user = SubFactory(UserFactory)
    title = Sequence(lambda n: f"Chat {n}")
    persona = None
    agent_type = None

    @classmethod
    def _construct(cls, model_class: type[ChatSession], values: dict[str, Any]) -> ChatSession:
        cls._accept_only(values, set(_START_ARGUMENTS), "ChatSession")
        user, persona = values.pop("user"), values.pop("persona")
        fields = {k: v for k, v in values.items() if v is not None}
        return model_class(user_id=_key(user), persona_id=_key(persona), **fields)

    @classmethod
    def _persist(cls, model_class: type[ChatSession], values: dict[str, Any]) -> ChatSession:
        cls._accept_only(values, set(_START_ARGUMENTS), "ChatSession")
        user, title = values.pop("user"), values.pop("title")
        return model_class.objects.start(user, title, **values)


class MessageFactory(AssistantModelFactory[Message]):
    """Messages posted with ``Message.objects.post`` (so the chat's counters move)."""

    class Meta:
        """factory-boy options."""

        model = Message

    session = SubFactory(ChatSessionFactory)
    role = "user"
    content = Sequence(lambda n: f"Message {n}")

    @classmethod
    def _construct(cls, model_class: type[Message], values: dict[str, Any]) -> Message:
        session = values.pop("session")
        return model_class(session_id=_key(session), **values)

    @classmethod
    def _persist(cls, model_class: type[Message], values: dict[str, Any]) -> Message:
        session, role, content = values.pop("session"), values.pop("role"), values.pop("content")
        return model_class.objects.post(session, role, content, **values)


class ToolExecutionFactory(AssistantModelFactory[ToolExecution]):
    """Pending tool runs recorded with ``ToolExecution.objects.record``."""

    class Meta:
        """factory-boy options."""

        model = ToolExecution

    session = SubFactory(ChatSessionFactory)
    tool_name = "search"
    input = Numbered(lambda n: {"query": f"question {n}"})

    @classmethod
    def _construct(cls, model_class: type[ToolExecution], values: dict[str, Any]) -> ToolExecution:
        session = values.pop("session")
        return model_class(session_id=_key(session), **values)

    @classmethod
    def _persist(cls, model_class: type[ToolExecution], values: dict[str, Any]) -> ToolExecution:
        session, name, tool_input = values.pop("session"), values.pop("tool_name"), values.pop("input")
        return model_class.objects.record(session, name, tool_input, **values)


class AttachmentFactory(AssistantModelFactory[Attachment]):
    """Files attached with ``Attachment.objects.attach``; ``content`` is the bytes."""

    class Meta:
        """factory-boy options."""

        model = Attachment

    message = SubFactory(MessageFactory)
    filename = Sequence(lambda n: f"notes-{n}.txt")
    content = Numbered(lambda n: f"attached file {n}\n".encode())

    @classmethod
    def _construct(cls, model_class: type[Attachment], values: dict[str, Any]) -> Attachment:
        raise TypeError("AttachmentFactory only creates: an attachment's bytes are stored by attach()")

    @classmethod
    def _persist(cls, model_class: type[Attachment], values: dict[str, Any]) -> Attachment:
        message, filename, content = values.pop("message"), values.pop("filename"), values.pop("content")
        return model_class.objects.attach(message, filename, content, **values)


class ConfirmationFactory(AssistantModelFactory[Confirmation]):
    """Pending confirmations requested with ``Confirmation.objects.request`` of the chat's user."""

    class Meta:
        """factory-boy options."""

        model = Confirmation

    session = SubFactory(ChatSessionFactory)
    kind = "confirm_action"
    data = Numbered(lambda n: {"action": f"step {n}"})
    ttl = timedelta(minutes=10)

    @classmethod
    def _construct(cls, model_class: type[Confirmation], values: dict[str, Any]) -> Confirmation:
        raise TypeError("ConfirmationFactory only creates: expiry comes from the server's clock")

    @classmethod
    def _persist(cls, model_class: type[Confirmation], values: dict[str, Any]) -> Confirmation:
        session = values.pop("session")
        user = values.pop("user", None) or User.objects.get(pk=session.user_id)
        return model_class.objects.request(session, user, values.pop("kind"), values.pop("data"), **values)


class ConversationStateFactory(AssistantModelFactory[ConversationState]):
    """State values stored with ``ConversationState.objects.set_value``."""

    class Meta:
        """factory-boy options."""

        model = ConversationState

    session = SubFactory(ChatSessionFactory)
    key = Sequence(lambda n: f"key-{n}")
    value = Numbered(lambda n: {"n": n})

    @classmethod
    def _construct(cls, model_class: type[ConversationState], values: dict[str, Any]) -> ConversationState:
        session = values.pop("session")
        return model_class(session_id=_key(session), **values)

    @classmethod
    def _persist(cls, model_class: type[ConversationState], values: dict[str, Any]) -> ConversationState:
        session, key, value = values.pop("session"), values.pop("key"), values.pop("value")
        return model_class.objects.set_value(session, key, value, **values)
