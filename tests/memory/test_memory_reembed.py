"""stale() and reembed(): keyset batches of another model's memories, written and committed batch by batch."""

from __future__ import annotations

import io
import math
from datetime import timedelta

import pytest
from memory_rows import age, stored

from assistant_models import Database, SessionRequiredError, ValidationError
from assistant_models.models import ConversationMemory
from assistant_models.testing.chat_factories import ChatSessionFactory
from assistant_models.testing.memory_factories import ConversationMemoryFactory, embedding_for

pytestmark = pytest.mark.usefixtures("pgvector")
NEW = "embedder-v2"


def _embed(contents: list[str]) -> list[list[float]]:
    return [embedding_for(f"{NEW}:{c}") for c in contents]


@pytest.fixture
def chat_memories(db_session):
    """A chat with five memories of an old model and two already of the new one."""
    chat = ChatSessionFactory()
    old = [
        ConversationMemoryFactory(session=chat, content=f"old {n}", embedding_model="v1") for n in range(4)
    ]
    old.append(ConversationMemoryFactory(session=chat, content="unknown model"))
    ConversationMemoryFactory(session=chat, content="new 0", embedding_model=NEW)
    ConversationMemoryFactory(session=chat, content="new 1", embedding_model=NEW)
    return chat, ConversationMemory.objects.filter(session_id=chat.id), sorted(m.id for m in old)


def test_stale_yields_the_other_models_memories_in_key_order_batches(
    db_session, chat_memories, statements
) -> None:
    _chat, mine, old = chat_memories
    batches = list(mine.stale(NEW, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [m.id for b in batches for m in b] == old
    reads = [s for s in statements if "FROM conversation_memory" in s and "LIMIT" in s]
    assert len(reads) == 4 and not any("OFFSET" in s for s in reads)
    assert all("conversation_memory.id >" in s for s in reads[1:])


def test_stale_keyset_neither_skips_nor_repeats_rows_changed_between_batches(
    db_session, chat_memories
) -> None:
    _chat, mine, old = chat_memories
    batches = mine.stale(NEW, batch_size=2)
    first = next(batches)
    mine.filter(pk=first[0].id).update(embedding_model=NEW)  # done meanwhile: no shift of the rest
    assert [m.id for b in [first, *batches] for m in b] == old


def test_reembed_writes_every_stale_memory_in_one_statement_per_batch(
    db_session, chat_memories, statements
) -> None:
    _chat, mine, old = chat_memories
    held = ConversationMemory.objects.get(pk=old[0])
    updated = {key: stored(db_session, key)["updated_at"] for key in old}
    before = len(statements)
    assert mine.reembed(_embed, embedding_model=NEW, batch_size=2) == 5
    writes = [s for s in statements[before:] if s.startswith("UPDATE conversation_memory")]
    assert len(writes) == 3 and all("FROM (VALUES" in s for s in writes)
    db_session.expire_all()
    for key in old:
        memory = ConversationMemory.objects.get(pk=key)
        assert memory.embedding_model == NEW
        assert memory.embedding == pytest.approx(embedding_for(f"{NEW}:{memory.content}"), abs=1e-6)
        assert stored(db_session, key)["updated_at"] == updated[key]  # the decay clock is not reset
    assert held.embedding_model == NEW
    assert mine.reembed(_embed, embedding_model=NEW) == 0


def test_an_interrupted_reembed_keeps_its_batches_and_a_rerun_finishes(db_session, chat_memories) -> None:
    _chat, mine, old = chat_memories
    calls: list[list[str]] = []

    def flaky(contents: list[str]) -> list[list[float]]:
        calls.append(contents)
        if len(calls) == 2:
            raise RuntimeError("the embedding service went away")
        return _embed(contents)

    before = [stored(db_session, key)["embedding_model"] for key in old]
    with pytest.raises(RuntimeError, match="went away"):
        mine.reembed(flaky, embedding_model=NEW, batch_size=2)
    assert [stored(db_session, key)["embedding_model"] for key in old] == [NEW, NEW, *before[2:]]
    assert NEW not in before
    assert mine.reembed(flaky, embedding_model=NEW, batch_size=2) == 3
    assert [len(c) for c in calls] == [2, 2, 2, 1]
    assert all(stored(db_session, key)["embedding_model"] == NEW for key in old)


def test_a_wrong_count_of_vectors_is_refused_and_the_batch_not_written(db_session, chat_memories) -> None:
    _chat, mine, old = chat_memories
    with pytest.raises(ValidationError) as caught:
        mine.reembed(lambda contents: _embed(contents)[:-1], embedding_model=NEW, batch_size=2)
    assert caught.value.fields == ["fn"] and "returned 1 vectors for 2 memories" in str(caught.value)
    assert all(stored(db_session, key)["embedding_model"] != NEW for key in old)


@pytest.mark.parametrize("bad", [[0.1, 0.2], [math.nan] * 1536, "text", None])
def test_a_bad_vector_is_refused_naming_its_row_and_the_batch_not_written(
    db_session, chat_memories, bad
) -> None:
    _chat, mine, old = chat_memories

    def broken(contents: list[str]) -> list:
        vectors: list = _embed(contents)
        vectors[1] = bad
        return vectors

    with pytest.raises(ValidationError) as caught:
        mine.reembed(broken, embedding_model=NEW, batch_size=3)
    assert caught.value.fields == ["vectors[1]"] and str(old[1]) in str(caught.value)
    assert all(stored(db_session, key)["embedding_model"] != NEW for key in old)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"embedding_model": ""}, "embedding_model"),
        ({"embedding_model": None}, "embedding_model"),
        ({"embedding_model": NEW, "batch_size": 0}, "batch_size"),
        ({"embedding_model": NEW, "fn": "not callable"}, "fn"),
    ],
)
def test_reembed_refuses_bad_arguments_before_any_sql(db_session, statements, arguments, field) -> None:
    arguments = {"fn": _embed, **arguments}
    with pytest.raises(ValidationError) as caught:
        ConversationMemory.objects.reembed(arguments.pop("fn"), **arguments)
    assert caught.value.fields == [field] and statements == []


def test_reembed_refuses_to_run_inside_a_savepoint(db_session, chat_memories) -> None:
    _chat, mine, _old = chat_memories
    with db_session.begin_nested(), pytest.raises(SessionRequiredError, match="unit of work of its own"):
        mine.reembed(_embed, embedding_model=NEW)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_counter_line_on_a_terminal_and_silent_elsewhere(
    db_session, chat_memories, monkeypatch
):
    _chat, mine, _old = chat_memories
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    mine.filter(embedding_model="v1").reembed(_embed, embedding_model=NEW, batch_size=2)
    assert piped.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    mine.reembed(_embed, embedding_model="embedder-v3", batch_size=4)
    assert terminal.getvalue() == "\rre-embedded 4 memories\rre-embedded 7 memories\n"
    assert mine.reembed(_embed, embedding_model="embedder-v3", progress=True) == 0


def test_each_batch_is_committed_so_an_interruption_keeps_what_was_written(scratch_url) -> None:
    db = Database(scratch_url)
    try:
        db.migrate()
        with db.session():
            chat = ChatSessionFactory()
            keys = [ConversationMemoryFactory(session=chat, content=f"m{n}").id for n in range(3)]
        calls = 0

        def dies_on_the_second_batch(contents: list[str]) -> list[list[float]]:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("interrupted")
            return _embed(contents)

        with pytest.raises(RuntimeError), db.session():
            ConversationMemory.objects.reembed(dies_on_the_second_batch, embedding_model=NEW, batch_size=2)
        with db.session():  # a new unit of work: what the first one committed
            done = ConversationMemory.objects.filter(pk__in=keys, embedding_model=NEW).count()
            assert done == 2
            assert ConversationMemory.objects.reembed(_embed, embedding_model=NEW, batch_size=2) == 1
        with db.session():
            assert ConversationMemory.objects.filter(embedding_model=NEW).count() == 3
    finally:
        db.dispose()


def test_a_reembedded_memory_keeps_its_decay_clock(db_session) -> None:
    memory = ConversationMemoryFactory(importance=0.8, embedding_model="v1")
    age(db_session, memory, accessed=timedelta(days=7))
    ConversationMemory.objects.filter(pk=memory.id).reembed(_embed, embedding_model=NEW)
    ConversationMemory.objects.filter(pk=memory.id).decay(timedelta(days=7))
    assert stored(db_session, memory.id)["importance"] == pytest.approx(0.4)
