"""Conversations: chats, their messages, tools, attachments, confirmations, personas and state."""

from assistant_models.models.chat.activity import UserActivity, user_activity
from assistant_models.models.chat.attachments import (
    MAX_ATTACHMENT_BYTES,
    Attachment,
    AttachmentContent,
    AttachmentManager,
    ProcessingStatus,
)
from assistant_models.models.chat.confirmations import Confirmation, ConfirmationManager, ConfirmationStatus
from assistant_models.models.chat.messages import MAX_CONTENT, ContentType, Message, MessageManager, Role
from assistant_models.models.chat.personas import (
    MAX_POSITION,
    ExecutionContext,
    Persona,
    PersonaManager,
    PersonaModule,
    PromptModule,
    PromptModuleManager,
)
from assistant_models.models.chat.sessions import ChatSession, ChatSessionManager, ChatStatus, ChatSummary
from assistant_models.models.chat.state import MAX_STATE_VALUE, ConversationState, ConversationStateManager
from assistant_models.models.chat.tools import ToolExecution, ToolExecutionManager, ToolStats, ToolStatus

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_CONTENT",
    "MAX_POSITION",
    "MAX_STATE_VALUE",
    "Attachment",
    "AttachmentContent",
    "AttachmentManager",
    "ChatSession",
    "ChatSessionManager",
    "ChatStatus",
    "ChatSummary",
    "Confirmation",
    "ConfirmationManager",
    "ConfirmationStatus",
    "ContentType",
    "ConversationState",
    "ConversationStateManager",
    "ExecutionContext",
    "Message",
    "MessageManager",
    "Persona",
    "PersonaManager",
    "PersonaModule",
    "ProcessingStatus",
    "PromptModule",
    "PromptModuleManager",
    "Role",
    "ToolExecution",
    "ToolExecutionManager",
    "ToolStats",
    "ToolStatus",
    "UserActivity",
    "user_activity",
]
