"""decay() and forget(): importance fading by the server's clock, and the faded memories let go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from memory_rows import age, stored
from sqlalchemy import text

from assistant_models import ValidationError
from assistant_models.models import ConversationMemory
from assistant_models.testing.chat_factories import ChatSessionFactory
from assistant_models.testing.memory_factories import ConversationMemoryFactory

pytestmark = pytest.mark.usefixtures("pgvector")
WEEK = timedelta(days=7)


def test_decay_halves_importance_per_half_life_since_the_later_of_use_and_update(db_session) -> None:
    chat = ChatSessionFactory()
    used = ConversationMemoryFactory(session=chat, importance=0.8)
    edited = ConversationMemoryFactory(session=chat, importance=0.8)
    fresh = ConversationMemoryFactory(session=chat, importance=0.8)
    age(db_session, used, accessed=timedelta(days=7), updated=timedelta(days=21))
    age(db_session, edited, accessed=timedelta(days=21), updated=timedelta(days=14))
    assert ConversationMemory.objects.filter(session_id=chat.id).decay(WEEK) == 3
    assert stored(db_session, used.id)["importance"] == pytest.approx(0.4)
    assert stored(db_session, edited.id)["importance"] == pytest.approx(0.2)
    assert stored(db_session, fresh.id)["importance"] == pytest.approx(0.8)
    now = db_session.execute(text("SELECT now()")).scalar_one()
    assert stored(db_session, used.id)["updated_at"] == now  # the next decay counts from here


def test_decay_follows_the_server_clock(db_session, monkeypatch) -> None:
    ahead = lambda: datetime.now(UTC) + timedelta(days=7)  # noqa: E731
    for module in ("core.types", "core.persistence"):
        monkeypatch.setattr(f"assistant_models.{module}.utcnow", ahead, raising=False)
    memory = ConversationMemoryFactory(importance=0.8)
    age(db_session, memory, accessed=WEEK)
    ConversationMemory.objects.filter(pk=memory.id).decay(WEEK)
    assert stored(db_session, memory.id)["importance"] == pytest.approx(0.4)


def test_decaying_over_two_intervals_equals_decaying_once_over_their_sum(db_session) -> None:
    chat = ChatSessionFactory()
    twice = ConversationMemoryFactory(session=chat, importance=0.9)
    once = ConversationMemoryFactory(session=chat, importance=0.9)
    age(db_session, twice, accessed=timedelta(days=30), updated=timedelta(days=3))
    ConversationMemory.objects.filter(pk=twice.id).decay(WEEK)  # over 3 days
    age(db_session, twice, accessed=timedelta(days=30), updated=timedelta(days=5))  # 5 more days pass
    ConversationMemory.objects.filter(pk=twice.id).decay(WEEK)
    age(db_session, once, accessed=timedelta(days=30), updated=timedelta(days=8))
    ConversationMemory.objects.filter(pk=once.id).decay(WEEK)  # over the 8 days at once
    assert stored(db_session, twice.id)["importance"] == pytest.approx(0.9 * 0.5 ** (8 / 7), rel=1e-9)
    assert stored(db_session, twice.id)["importance"] == pytest.approx(
        stored(db_session, once.id)["importance"]
    )


def test_decay_respects_chained_filters_and_leaves_deleted_memories_alone(db_session) -> None:
    chat, other = ChatSessionFactory(), ChatSessionFactory()
    mine = ConversationMemoryFactory(session=chat, importance=0.8)
    gone = ConversationMemoryFactory(session=chat, importance=0.8)
    theirs = ConversationMemoryFactory(session=other, importance=0.8)
    gone.delete()
    for memory in (mine, gone, theirs):
        age(db_session, memory, accessed=WEEK)
    assert ConversationMemory.objects.filter(session_id=chat.id).decay(WEEK) == 1
    assert [stored(db_session, m.id)["importance"] for m in (mine, gone, theirs)] == pytest.approx(
        [0.4, 0.8, 0.8]
    )


def test_a_memory_centuries_old_decays_to_zero_without_an_underflow(db_session) -> None:
    memory = ConversationMemoryFactory(importance=1.0)
    age(db_session, memory, accessed=timedelta(days=365 * 300))
    ConversationMemory.objects.filter(pk=memory.id).decay(timedelta(hours=1))
    assert stored(db_session, memory.id)["importance"] == 0.0


@pytest.mark.parametrize("half_life", [timedelta(0), timedelta(days=-1), 7, None])
def test_decay_refuses_a_half_life_that_is_not_a_positive_timedelta(db_session, half_life) -> None:
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.decay(half_life)
    assert caught.value.fields == ["half_life"]


def test_forget_soft_deletes_the_memories_below_the_threshold(db_session) -> None:
    chat = ChatSessionFactory()
    faint = ConversationMemoryFactory(session=chat, importance=0.05)
    kept = ConversationMemoryFactory(session=chat, importance=0.1)
    scoped = ConversationMemory.objects.filter(session_id=chat.id)
    assert scoped.forget(below=0.1) == 1
    assert stored(db_session, faint.id)["deleted_at"] is not None
    assert stored(db_session, kept.id)["deleted_at"] is None
    assert list(ConversationMemory.deleted_objects.filter(session_id=chat.id)) == [faint]
    assert scoped.forget(below=0.1) == 0  # already forgotten


def test_forget_older_than_spares_the_recently_used(db_session, statements) -> None:
    chat = ChatSessionFactory()
    stale = ConversationMemoryFactory(session=chat, importance=0.01)
    recent = ConversationMemoryFactory(session=chat, importance=0.01)
    age(db_session, stale, accessed=timedelta(days=31))
    age(db_session, recent, accessed=timedelta(days=29))
    before = len(statements)
    assert (
        ConversationMemory.objects.filter(session_id=chat.id).forget(below=0.5, older_than=timedelta(days=30))
        == 1
    )
    assert len(statements) - before == 1
    assert stored(db_session, stale.id)["deleted_at"] is not None
    assert stored(db_session, recent.id)["deleted_at"] is None


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"below": 1.5}, "below"),
        ({"below": "x"}, "below"),
        ({"below": 0.5, "older_than": timedelta(-1)}, "older_than"),
    ],
)
def test_forget_refuses_bad_arguments(db_session, arguments, field) -> None:
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.forget(**arguments)
    assert caught.value.fields == [field]
