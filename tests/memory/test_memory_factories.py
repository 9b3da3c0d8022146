"""embedding_for() and ConversationMemoryFactory: deterministic vectors, memories through the manager."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from assistant_models import ValidationError
from assistant_models.models import ConversationMemory, MemoryType
from assistant_models.testing.memory_factories import ConversationMemoryFactory, embedding_for


def test_embedding_for_is_a_unit_vector_determined_by_the_text() -> None:
    vector = embedding_for("hello")
    assert len(vector) == 1536 and np.linalg.norm(vector) == pytest.approx(1.0)
    assert embedding_for("hello") == vector and embedding_for("hello!") != vector
    assert len(embedding_for("hello", dim=3)) == 3
    assert abs(np.dot(vector, embedding_for("something else"))) < 0.15  # nearly orthogonal


def test_embedding_for_is_the_same_in_another_process() -> None:
    code = (
        "from assistant_models.testing.memory_factories import embedding_for\n"
        "print(repr(embedding_for('hello')[:4]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == repr(embedding_for("hello")[:4])


def test_the_factory_remembers_through_the_manager(db_session, pgvector) -> None:
    memory = ConversationMemoryFactory(
        content="The user likes tea.", memory_type="semantic", metadata={"n": 1}
    )
    found = ConversationMemory.objects.get(pk=memory.id)
    assert (found.content, found.memory_type, found.meta) == (
        "The user likes tea.",
        MemoryType.SEMANTIC,
        {"n": 1},
    )
    assert found.embedding == pytest.approx(embedding_for("The user likes tea."), abs=1e-6)


def test_the_factory_builds_without_sql_and_refuses_what_remember_cannot_take(db_session, pgvector) -> None:
    built = ConversationMemoryFactory.build(content="built", importance=0.3)
    assert (built.content, built.importance) == ("built", 0.3)
    assert built.embedding == pytest.approx(embedding_for("built"))
    assert not ConversationMemory.all_objects.filter(content="built").exists()
    with pytest.raises(ValidationError) as caught:
        ConversationMemoryFactory(access_count=3)
    assert caught.value.fields == ["access_count"]
