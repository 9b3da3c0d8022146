"""A tour of conversation memory: remember, recall, search, re-embed, decay and forget.

Needs pgvector on the server (the embedded PostgreSQL has it). Run it with no set-up at
all: without DATABASE_URL it starts the embedded PostgreSQL and migrates it.

    python examples/memory.py

The embeddings come from a toy embedder (a fixed random vector per word, summed), so
the tour runs offline; a real application calls an embedding model instead. Each run
uses a chat of its own, so it can be run again and again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import timedelta

import numpy as np

from assistant_models import Database
from assistant_models.models import ChatSession, ConversationMemory, User

DIMENSIONS = 1536
STOP_WORDS = {"the", "a", "an", "to", "of", "in", "is", "what", "does", "every", "on", "and", "by"}


def embed(text: str) -> list[float]:
    """Return a unit vector for ``text``: texts sharing words point the same way."""
    total = np.zeros(DIMENSIONS)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word not in STOP_WORDS:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
            total += np.random.default_rng(seed).standard_normal(DIMENSIONS)
    norm = np.linalg.norm(total)
    vector: list[float] = (total / norm if norm else np.ones(DIMENSIONS) / DIMENSIONS**0.5).tolist()
    return vector


def step(title: str) -> None:
    print(f"\n== {title}")


FACTS = [
    ("The user drinks green tea every morning.", 0.6, "semantic"),
    ("The user cycles to work, even in the rain.", 0.5, "semantic"),
    ("The user is allergic to peanuts.", 1.0, "semantic"),
    ("We talked about a trip to Lisbon in May.", 0.4, "episodic"),
]
OLD_FACTS = ["The user asked about the weather in Oslo.", "The user once ordered pizza by the lake."]


def main() -> None:
    run = secrets.token_hex(3)
    db = Database()
    db.migrate()

    step("Remember what the conversations taught")
    with db.session():
        user = User.objects.create_user(
            f"ada.{run}@example.com", f"ada_{run}", "correct horse battery staple"
        )
        chat = ChatSession.objects.start(user, "Morning chat")
        old_chat = ChatSession.objects.start(user, "Last month")
        for content, importance, kind in FACTS:
            ConversationMemory.objects.remember(
                chat,
                content,
                embed(content),
                importance=importance,
                memory_type=kind,
                embedding_model="toy-1",
            )
        for content in OLD_FACTS:
            ConversationMemory.objects.remember(old_chat, content, embed(content), embedding_model="toy-1")
        mine = ConversationMemory.objects.filter(session_id__in=[chat.id, old_chat.id])
        print(f"{mine.count()} memories in two chats")

    step("Recall: relevance, importance and recency, scaled and weighed (one statement)")
    with db.session():
        query = "Green tea in the morning?"
        for memory, score in ConversationMemory.objects.recall(embed(query), session=chat, k=3):
            print(f"{score:.3f}  {memory.content}  (recalled {memory.access_count} time)")
        relevant_only = ConversationMemory.objects.recall(embed("rain"), session=chat, k=1, weights=(1, 0, 0))
        print(f"by relevance alone, 'rain' -> {relevant_only[0][0].content!r}")

    step("Search by words and meaning at once (reciprocal rank fusion)")
    with db.session():
        mine = ConversationMemory.objects.filter(session_id=chat.id)
        found = mine.hybrid_search("peanuts", "embedding", embed("food allergy"), k=2)
        print(f"hybrid 'peanuts' / 'food allergy' -> {found[0].content!r}")

    step("Re-embed with a new model, a batch per transaction")
    with db.session():
        scoped = ConversationMemory.objects.filter(session_id__in=[chat.id, old_chat.id])

        def embed_all(texts: list[str]) -> list[list[float]]:
            return [embed(text) for text in texts]

        count = scoped.reembed(embed_all, embedding_model="toy-2", batch_size=4)
        again = scoped.reembed(embed_all, embedding_model="toy-2")
        print(f"re-embedded {count} memories; a second run finds {again} left to do")

    step("Decay and forget")
    time.sleep(0.2)  # ten half-lives of 20 ms: last month, in miniature
    with db.session():
        old = ConversationMemory.objects.filter(session_id=old_chat.id)
        print(f"decayed {old.decay(timedelta(milliseconds=20))} memories of the old chat")
        print(f"all now below 0.001: {all(m.importance < 0.001 for m in old)}")
        forgotten = ConversationMemory.objects.filter(session_id__in=[chat.id, old_chat.id]).forget(
            below=0.01
        )
        print(f"forgot {forgotten} faded memories (soft-deleted)")
        left = ConversationMemory.objects.filter(session_id__in=[chat.id, old_chat.id]).count()
        print(f"{left} memories left")
    print("\nDone.")


if __name__ == "__main__":
    main()
