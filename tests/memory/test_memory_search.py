"""The vector manager's searches work on memories: nearest by meaning, hybrid by words and meaning."""

from __future__ import annotations

import pytest

from assistant_models.models import ConversationMemory
from assistant_models.testing.chat_factories import ChatSessionFactory
from assistant_models.testing.memory_factories import ConversationMemoryFactory, embedding_for

pytestmark = pytest.mark.usefixtures("pgvector")


def test_nearest_and_hybrid_search_find_memories_of_a_chat(db_session) -> None:
    chat = ChatSessionFactory()
    tea = ConversationMemoryFactory(session=chat, content="The user drinks green tea every morning.")
    ConversationMemoryFactory(session=chat, content="The user cycles to work.")
    ConversationMemoryFactory(content="The user drinks green tea every morning.")  # another chat
    mine = ConversationMemory.objects.filter(session_id=chat.id)
    nearest = mine.nearest("embedding", embedding_for(tea.content), k=1)
    assert nearest == [tea] and nearest[0].similarity == pytest.approx(1.0, abs=1e-6)
    found = mine.hybrid_search("green tea", "embedding", embedding_for("unrelated"), k=2)
    assert found[0] is tea and found[0].text_rank == 1
