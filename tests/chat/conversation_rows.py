"""Rows the chat tests stand on, made through the managers (the factories come later)."""

from __future__ import annotations

import uuid

from assistant_models.models import ChatSession, Message, User

PASSWORD = "correct horse battery staple"


def tag() -> str:
    return uuid.uuid4().hex[:12]


def new_user(api=None) -> User:
    name = tag()
    args = (f"{name}@example.com", f"u{name}", PASSWORD)
    if api is not None:
        return api(User.objects, "create_user", *args)
    return User.objects.create_user(*args)


def new_chat(user: User | None = None, title: str | None = None, **fields) -> ChatSession:
    return ChatSession.objects.start(user or new_user(), title, **fields)


def new_message(chat: ChatSession, content: str = "hello", role: str = "user", **fields) -> Message:
    if role == "tool":
        fields.setdefault("tool_call_id", "call_1")
    return Message.objects.create(session_id=chat.id, role=role, content=content, **fields)
