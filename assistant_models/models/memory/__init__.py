"""Conversation memory: what an assistant remembers, searchable by meaning (pgvector) and by words."""

from assistant_models.models.memory.memories import (
    EMBEDDING_DIMENSIONS,
    ConversationMemory,
    ConversationMemoryManager,
    MemoryType,
)

__all__ = ["EMBEDDING_DIMENSIONS", "ConversationMemory", "ConversationMemoryManager", "MemoryType"]
