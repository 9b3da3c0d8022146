"""The awaited twins of the memory manager, on asyncpg: the same methods, generated, not rewritten."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from assistant_models import ValidationError
from assistant_models.models import ChatSession, ConversationMemory, User
from assistant_models.testing.memory_factories import embedding_for

pytestmark = pytest.mark.usefixtures("pgvector")


async def _chat() -> ChatSession:
    name = uuid.uuid4().hex[:12]
    user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", "correct horse battery")
    return await ChatSession.objects.astart(user, "memories")


def test_the_twins_remember_recall_decay_and_forget(adb_session, arun) -> None:
    async def main() -> tuple:
        chat = await _chat()
        kept = await ConversationMemory.objects.aremember(
            chat, "Likes tea.", embedding_for("tea"), importance=0.9
        )
        faint = await ConversationMemory.objects.aremember(
            chat, "Saw a bus.", embedding_for("bus"), importance=0.1
        )
        recalled = await ConversationMemory.objects.arecall(embedding_for("tea"), session=chat, k=1)
        scoped = ConversationMemory.objects.filter(session_id=chat.id)
        decayed = await scoped.adecay(timedelta(days=7))
        forgotten = await scoped.aforget(below=0.5)
        left = [m.id async for m in scoped]
        return kept, faint, recalled, decayed, forgotten, left

    kept, _faint, recalled, decayed, forgotten, left = arun(main())
    ((memory, score),) = recalled
    assert memory is kept and kept.access_count == 1 and score == pytest.approx(1.0)
    assert (decayed, forgotten, left) == (2, 1, [kept.id])


def test_the_twins_of_stale_and_reembed(adb_session, arun) -> None:
    async def main() -> tuple:
        chat = await _chat()
        for n in range(3):
            await ConversationMemory.objects.aremember(
                chat, f"fact {n}", embedding_for(f"{n}"), embedding_model="v1"
            )
        scoped = ConversationMemory.objects.filter(session_id=chat.id)
        sizes = [len(batch) async for batch in scoped.astale("v2", batch_size=2)]
        count = await scoped.areembed(lambda texts: [embedding_for(t) for t in texts], embedding_model="v2")
        return sizes, count, await scoped.filter(embedding_model="v2").acount()

    assert arun(main()) == ([2, 1], 3, 3)


def test_a_twin_refuses_bad_arguments_as_the_sync_method_does(adb_session, arun) -> None:
    with pytest.raises(ValidationError) as caught:
        arun(ConversationMemory.objects.arecall([1.0], k=0))
    assert caught.value.fields == ["query_embedding", "k"]
