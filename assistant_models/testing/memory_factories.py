"""factory-boy factories for conversation memory, and embeddings made from text.

``ConversationMemoryFactory()`` calls ``ConversationMemory.objects.remember`` in the
current unit of work; its embedding is :func:`embedding_for` its content unless given.

Example:
    >>> def test_recall(db_session, pgvector):  # doctest: +SKIP
    ...     chat = ChatSessionFactory()
    ...     ConversationMemoryFactory(session=chat, content="The user is vegetarian.")
    ...     ConversationMemory.objects.recall(embedding_for("The user is vegetarian."), session=chat)
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from assistant_models.models.memory.memories import EMBEDDING_DIMENSIONS, ConversationMemory
from assistant_models.testing.chat_factories import ChatSessionFactory, Numbered
from assistant_models.testing.factories import AssistantModelFactory, SubFactory

__all__ = ["ConversationMemoryFactory", "embedding_for"]


def embedding_for(text: str, dim: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """Return a unit vector of ``dim`` numbers determined by ``text`` alone.

    The same text gives the same vector in every run and process (seeded by the
    SHA-256 of its UTF-8 bytes); different texts give nearly orthogonal ones.
    """
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(dim)
    unit: list[float] = (vector / np.linalg.norm(vector)).tolist()
    return unit


#: What ``ConversationMemory.objects.remember`` takes besides the chat, content and embedding.
_REMEMBER_OPTIONS = frozenset(
    {"importance", "memory_type", "persona", "first_message", "embedding_model", "metadata"}
)


class ConversationMemoryFactory(AssistantModelFactory[ConversationMemory]):
    """Memories stored with ``ConversationMemory.objects.remember``; the embedding follows the content."""

    class Meta:
        """factory-boy options."""

        model = ConversationMemory

    session = SubFactory(ChatSessionFactory)
    content = Numbered(lambda n: f"Remembered fact {n}")
    embedding = None

    @classmethod
    def _construct(cls, model_class: type[ConversationMemory], values: dict[str, Any]) -> ConversationMemory:
        cls._accept_only(
            values, {"session", "content", "embedding", *_REMEMBER_OPTIONS}, "ConversationMemory"
        )
        content = values.pop("content")
        embedding = values.pop("embedding") or embedding_for(content)
        values["meta"] = values.pop("metadata", None) or {}
        for name in ("session", "persona", "first_message"):
            related = values.pop(name, None)
            values[f"{name}_id"] = getattr(related, "id", related)  # an instance or its key
        return model_class(content=content, embedding=embedding, **values)

    @classmethod
    def _persist(cls, model_class: type[ConversationMemory], values: dict[str, Any]) -> ConversationMemory:
        cls._accept_only(
            values, {"session", "content", "embedding", *_REMEMBER_OPTIONS}, "ConversationMemory"
        )
        session, content = values.pop("session"), values.pop("content")
        embedding = values.pop("embedding") or embedding_for(content)
        return model_class.objects.remember(session, content, embedding, **values)
