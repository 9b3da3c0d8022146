"""recall(): relevance, importance and recency mixed as Generative Agents does, in one statement."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from memory_rows import age, expected_scores, stored
from sqlalchemy import text

from assistant_models import ValidationError
from assistant_models.models import ConversationMemory, MemoryType
from assistant_models.testing.chat_factories import ChatSessionFactory, PersonaFactory
from assistant_models.testing.memory_factories import ConversationMemoryFactory, embedding_for

pytestmark = pytest.mark.usefixtures("pgvector")


def _blend(*weighted: tuple[str, float]) -> list[float]:
    """Return the unit vector mixing the embeddings of texts with weights (a query near some of them)."""
    import numpy as np

    vector = sum(w * np.asarray(embedding_for(t)) for t, w in weighted)
    return (vector / np.linalg.norm(vector)).tolist()


@pytest.fixture
def garden(db_session):
    """A chat with five memories of varied relevance to the query, importance and age."""
    chat = ChatSessionFactory()
    rows = {}
    for name, importance, days in (
        ("roses", 0.2, 0),
        ("tulips", 0.9, 3),
        ("oaks", 0.5, 10),
        ("moss", 0.1, 1),
        ("ivy", 0.7, 20),
    ):
        rows[name] = ConversationMemoryFactory(session=chat, content=name, importance=importance)
        age(db_session, rows[name], accessed=timedelta(days=days, hours=1))
    query = _blend(("roses", 1.0), ("tulips", 0.6), ("oaks", 0.3), ("moss", 0.1))
    return chat, rows, query


def test_scores_follow_the_formula_computed_in_python_on_the_same_rows(db_session, garden) -> None:
    chat, rows, query = garden
    for weights in ((1.0, 1.0, 1.0), (2.0, 0.5, 0.0), (0.0, 0.0, 3.0)):
        expected = expected_scores(db_session, query, [m.id for m in rows.values()], weights)
        nested = db_session.begin_nested()
        got = ConversationMemory.objects.recall(query, session=chat, k=5, weights=weights)
        nested.rollback()  # the bump of access times changes recency for the next round
        assert [m.id for m, _ in got] == sorted(expected, key=lambda key: (-expected[key], key))
        for memory, score in got:
            assert score == pytest.approx(expected[memory.id], abs=1e-6)


def test_recall_is_one_statement(db_session, garden, statements) -> None:
    chat, _rows, query = garden
    db_session.flush()
    before = len(statements)
    ConversationMemory.objects.recall(query, session=chat, k=3)
    assert len(statements) - before == 1
    assert "ORDER BY conversation_memory.embedding <=>" in statements[-1] and "UPDATE" in statements[-1]


def test_recall_returns_the_top_k_best_first_and_bumps_only_them(db_session, garden) -> None:
    chat, rows, query = garden
    got = ConversationMemory.objects.recall(query, session=chat, k=2)
    assert len(got) == 2 and got[0][1] >= got[1][1]
    now = db_session.execute(text("SELECT now()")).scalar_one()
    returned = {m.id for m, _ in got}
    for memory in rows.values():
        row = stored(db_session, memory.id)
        if memory.id in returned:
            assert (row["access_count"], row["last_accessed_at"]) == (1, now)
        else:
            assert row["access_count"] == 0 and row["last_accessed_at"] < now


def test_recalled_instances_are_the_held_ones_with_the_new_access_values(db_session, garden) -> None:
    chat, rows, query = garden
    held = ConversationMemory.objects.get(pk=rows["roses"].id)
    updated = held.updated_at
    got = dict(ConversationMemory.objects.recall(query, session=chat, k=5))
    assert held in got
    now = db_session.execute(text("SELECT now()")).scalar_one()
    assert (held.access_count, held.last_accessed_at) == (1, now)
    assert held.updated_at == updated  # a use is no change


def test_scores_use_the_access_times_from_before_the_recall(db_session, garden) -> None:
    chat, rows, query = garden
    expected = expected_scores(db_session, query, [m.id for m in rows.values()], (0.0, 0.0, 1.0))
    got = ConversationMemory.objects.recall(query, session=chat, k=5, weights=(0, 0, 1))
    assert [s for _, s in got] == pytest.approx(sorted(expected.values(), reverse=True), abs=1e-9)


def test_equal_components_scale_to_one(db_session) -> None:
    chat = ChatSessionFactory()
    memory = ConversationMemoryFactory(session=chat, content="alone")
    ((found, score),) = ConversationMemory.objects.recall(embedding_for("unrelated"), session=chat)
    assert found is memory and score == pytest.approx(1.0)


def test_ties_go_to_the_smaller_key(db_session) -> None:
    chat = ChatSessionFactory()
    same = [
        ConversationMemoryFactory(session=chat, content="same", embedding=embedding_for("x"))
        for _ in range(4)
    ]
    got = ConversationMemory.objects.recall(embedding_for("x"), session=chat, k=2)
    assert [m.id for m, _ in got] == sorted(m.id for m in same)[:2]


def test_soft_deleted_memories_are_never_recalled(db_session, garden) -> None:
    chat, rows, query = garden
    rows["roses"].delete()
    got = ConversationMemory.objects.recall(query, session=chat, k=5)
    assert rows["roses"].id not in {m.id for m, _ in got} and len(got) == 4
    assert stored(db_session, rows["roses"].id)["access_count"] == 0


def test_the_memories_of_a_deleted_chat_are_never_recalled(db_session, garden) -> None:
    chat, _rows, query = garden
    other = ConversationMemoryFactory(content="roses")
    chat.delete()
    got = ConversationMemory.objects.recall(query, k=50)
    assert [m.id for m, _ in got] == [other.id]


def test_recall_narrows_to_a_chat_a_persona_and_memory_types(db_session) -> None:
    persona = PersonaFactory()
    chat, other = ChatSessionFactory(), ChatSessionFactory()
    fact = ConversationMemoryFactory(session=chat, content="fact", memory_type="semantic", persona=persona)
    event = ConversationMemoryFactory(session=chat, content="event")
    ConversationMemoryFactory(session=other, content="elsewhere", persona=persona)
    query = embedding_for("fact")

    def ids(**narrowing) -> set:
        return {m.id for m, _ in ConversationMemory.objects.recall(query, k=10, **narrowing)} & {
            fact.id,
            event.id,
        }

    assert ids(session=chat) == {fact.id, event.id}
    assert ids(session=chat.id, persona=persona) == {fact.id}
    assert ids(session=chat, memory_types=[MemoryType.EPISODIC]) == {event.id}
    assert ids(session=str(chat.id), memory_types=["semantic", "summary"]) == {fact.id}
    assert len(ConversationMemory.objects.recall(query, persona=persona, k=10)) == 2


def test_a_nearer_memory_outside_the_filters_takes_no_place_among_the_candidates(db_session) -> None:
    chat, other = ChatSessionFactory(), ChatSessionFactory()
    mine = ConversationMemoryFactory(session=chat, content="mine")
    ConversationMemoryFactory(session=other, content="exact")
    deleted = ConversationMemoryFactory(session=chat, content="exact")
    deleted.delete()
    got = ConversationMemory.objects.recall(embedding_for("exact"), session=chat, k=1, candidates=1)
    assert [m.id for m, _ in got] == [mine.id]


def test_min_similarity_drops_the_candidates_below_it(db_session) -> None:
    chat = ChatSessionFactory()
    near = ConversationMemoryFactory(session=chat, content="near")
    ConversationMemoryFactory(session=chat, content="far")
    got = ConversationMemory.objects.recall(
        _blend(("near", 1.0), ("far", 0.2)), session=chat, min_similarity=0.5
    )
    assert [m.id for m, _ in got] == [near.id]


def test_the_pool_is_the_nearest_candidates_only(db_session) -> None:
    chat = ChatSessionFactory()
    near = ConversationMemoryFactory(session=chat, content="near", importance=0.0)
    ConversationMemoryFactory(session=chat, content="far", importance=1.0)
    got = ConversationMemory.objects.recall(embedding_for("near"), session=chat, k=1, candidates=1)
    assert [m.id for m, _ in got] == [near.id]
    got = ConversationMemory.objects.recall(embedding_for("near"), session=chat, k=1, weights=(0, 1, 0))
    assert [m.content for m, _ in got] == ["far"]


def test_filters_chained_before_recall_apply(db_session, garden) -> None:
    chat, _rows, query = garden
    got = ConversationMemory.objects.filter(importance__gte=0.5).recall(query, session=chat, k=10)
    assert {m.content for m, _ in got} == {"tulips", "oaks", "ivy"}


@pytest.fixture
def client_clock_a_day_behind(monkeypatch):
    """Make the package's client-side clock run a day behind the server's."""
    behind = lambda: datetime.now(UTC) - timedelta(days=1)  # noqa: E731
    for module in ("core.types", "core.persistence"):
        monkeypatch.setattr(f"assistant_models.{module}.utcnow", behind, raising=False)


def test_recency_follows_the_server_clock(db_session, client_clock_a_day_behind) -> None:
    # a skewed clock shifts every age alike, which scaling hides, except where an age
    # would be negative: by a clock a day behind, the two newer memories would tie
    chat = ChatSessionFactory()
    fresh, middle, old = (ConversationMemoryFactory(session=chat, content=c) for c in ("fresh", "mid", "old"))
    age(db_session, middle, accessed=timedelta(hours=12))
    age(db_session, old, accessed=timedelta(days=7))
    expected = expected_scores(db_session, embedding_for("x"), [fresh.id, middle.id, old.id], (0, 0, 1))
    assert expected[fresh.id] == 1.0 and 0.9 < expected[middle.id] < 1.0
    got = ConversationMemory.objects.recall(embedding_for("x"), session=chat, weights=(0, 0, 1))
    assert [m.id for m, _ in got] == [fresh.id, middle.id, old.id]
    assert [s for _, s in got] == pytest.approx([expected[m.id] for m, _ in got], abs=1e-6)


BAD = [
    ({"query_embedding": [1.0, 2.0]}, "query_embedding"),
    ({"query_embedding": [math.nan] * 1536}, "query_embedding"),
    ({"k": 0}, "k"),
    ({"k": 2.5}, "k"),
    ({"candidates": 2, "k": 5}, "candidates"),
    ({"min_similarity": 1.5}, "min_similarity"),
    ({"min_similarity": math.nan}, "min_similarity"),
    ({"weights": (1, -1, 1)}, "weights"),
    ({"weights": (0, 0, 0)}, "weights"),
    ({"weights": (1, math.nan, 1)}, "weights"),
    ({"weights": (1, 1)}, "weights"),
    ({"weights": "abc"}, "weights"),
    ({"half_life": timedelta(0)}, "half_life"),
    ({"half_life": 7}, "half_life"),
    ({"memory_types": ["dream"]}, "memory_types"),
    ({"memory_types": []}, "memory_types"),
    ({"session": 3}, "session"),
    ({"persona": "nope"}, "persona"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_a_bad_argument_is_refused_before_any_sql(db_session, statements, change, field) -> None:
    arguments = {"query_embedding": embedding_for("q"), **change}
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.recall(arguments.pop("query_embedding"), **arguments)
    assert caught.value.fields == [field]
    assert statements == []
