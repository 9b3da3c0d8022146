"""Public read schemas: each entity's fields without its secrets, fit for API responses.

``UserRead.model_validate(user)`` reads an instance (or any object with the attributes)
and serializes without ``password_hash``; ``read_schema(Model)`` makes one for an
application's own model. Secret fields are excluded from the models' own dumps too
(``exclude=True`` on the field), so ``response_model=User`` is safe as well; a read
schema also keeps the ORM's lazy relations and SQLAlchemy state out of responses.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from assistant_models.core.base import AssistantModel
from assistant_models.models import (
    ApiKey,
    Attachment,
    AuditLog,
    AuthSession,
    ChatSession,
    Confirmation,
    ConversationMemory,
    ConversationState,
    Message,
    Persona,
    PromptModule,
    Task,
    ToolExecution,
    User,
)

__all__ = [
    "ApiKeyRead",
    "AttachmentRead",
    "AuditLogRead",
    "AuthSessionRead",
    "ChatSessionRead",
    "ConfirmationRead",
    "ConversationMemoryRead",
    "ConversationStateRead",
    "MessageRead",
    "PersonaRead",
    "PromptModuleRead",
    "TaskRead",
    "ToolExecutionRead",
    "UserRead",
    "read_schema",
]


@functools.cache
def read_schema(model: type[AssistantModel]) -> type[BaseModel]:
    """Return ``<Model>Read``: ``model``'s fields but its secret ones, read from attributes.

    The fields keep their types, defaults and serializers (a vector dumps as a list of
    numbers); generated columns such as ``search_vector`` are left out with the secrets.
    """
    secret = model.__secret_fields__
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in secret and not info.exclude
    }
    schema: type[BaseModel] = create_model(
        f"{model.__name__}Read",
        __config__=ConfigDict(from_attributes=True),
        __module__=__name__,
        __doc__=f"What a response shows of a {model.__name__}: every field but the secret ones.",
        **fields,
    )
    return schema


UserRead = read_schema(User)
ApiKeyRead = read_schema(ApiKey)
AuthSessionRead = read_schema(AuthSession)
TaskRead = read_schema(Task)
AuditLogRead = read_schema(AuditLog)
ChatSessionRead = read_schema(ChatSession)
MessageRead = read_schema(Message)
ToolExecutionRead = read_schema(ToolExecution)
AttachmentRead = read_schema(Attachment)
ConfirmationRead = read_schema(Confirmation)
PersonaRead = read_schema(Persona)
PromptModuleRead = read_schema(PromptModule)
ConversationStateRead = read_schema(ConversationState)
ConversationMemoryRead = read_schema(ConversationMemory)
