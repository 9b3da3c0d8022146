"""The domain: one module (or package) per area. Importing it defines the tables."""

from assistant_models.models.audit import AuditLog, AuditLogManager
from assistant_models.models.identity import (
    ApiKey,
    ApiKeyManager,
    AuthSession,
    AuthSessionManager,
    User,
    UserManager,
    UserRole,
)
from assistant_models.models.work import Task, TaskManager, TaskStatus

__all__ = [
    "ApiKey",
    "ApiKeyManager",
    "AuditLog",
    "AuditLogManager",
    "AuthSession",
    "AuthSessionManager",
    "Task",
    "TaskManager",
    "TaskStatus",
    "User",
    "UserManager",
    "UserRole",
]
