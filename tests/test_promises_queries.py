"""QuerySet promises whose results change when the feature is taken out.

``search()`` returns exactly the matching rows, best first; ``distinct()`` removes the
duplicates a join makes; ``only()`` leaves the other columns out of the SELECT;
``in_bulk()`` returns exactly the keys asked for.
"""

from __future__ import annotations

import uuid

import pytest

from assistant_models.models import Task, User

pytestmark = pytest.mark.integration


def _word() -> str:
    return f"zq{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ranked(db_session) -> tuple[str, list[uuid.UUID]]:
    """Three matches stored worst first, with rising keys, among rows that do not match.

    Insertion order, key order and creation time all run opposite to rank order, so
    only ranking puts the best match first.
    """
    word = _word()
    keys = sorted(uuid.uuid4() for _ in range(6))
    Task.objects.enqueue("unrelated chore", description="nothing to find", id=keys[0])
    weak = Task.objects.enqueue("plain title", description=f"mentions {word} once", id=keys[1]).id
    medium = Task.objects.enqueue(f"{word} in the title", id=keys[2]).id
    strong = Task.objects.enqueue(f"{word} {word} {word}", description=word, id=keys[3]).id
    Task.objects.enqueue("another chore", description=f"{word[:-1]} is a different word", id=keys[4])
    Task.objects.enqueue("last chore", id=keys[5])
    return word, [strong, medium, weak]


def test_search_returns_exactly_the_matching_rows_best_first(ranked) -> None:
    word, best_first = ranked
    assert [t.id for t in Task.objects.search(word)] == best_first
    assert Task.objects.search(word).count() == 3


def test_search_for_a_word_no_row_holds_returns_nothing(ranked) -> None:
    assert list(Task.objects.search(_word())) == []


# -- distinct ------------------------------------------------------------------------------


@pytest.fixture
def owners(db_session) -> list[str]:
    """Two users; the first is assigned three tasks and the second one."""
    names = []
    for n, count in enumerate((3, 1)):
        tag = uuid.uuid4().hex[:12]
        user = User.objects.create_user(f"{tag}@example.com", f"owner{n}{tag}", "correct horse battery")
        names.append(user.username)
        for i in range(count):
            Task.objects.enqueue(f"owned {i}", assignee_id=user.id)
    return names


def test_distinct_removes_the_duplicates_a_join_makes(owners) -> None:
    joined = Task.objects.filter(assignee__username__in=owners).values_list("assignee__username", flat=True)
    assert sorted(joined) == sorted([owners[0]] * 3 + [owners[1]])
    assert sorted(joined.distinct()) == sorted(owners)
    assert joined.distinct().count() == 2


# -- only ----------------------------------------------------------------------------------


def test_only_selects_just_the_named_columns_and_the_key(db_session, record_sql) -> None:
    task = Task.objects.enqueue("slim", description="loaded later")
    db_session.expunge_all()  # a fresh instance: nothing cached from the insert
    with record_sql() as sent:
        slim = Task.objects.only("title").get(pk=task.id)
    (select,) = sent
    columns = select.split(" FROM ", 1)[0]
    assert "tasks.title" in columns and "tasks.id" in columns
    assert "tasks.description" not in columns and "tasks.priority" not in columns
    with record_sql() as sent:
        assert slim.description == "loaded later"  # the deferred column loads on first access
    assert len(sent) == 1 and "tasks.description" in sent[0]


# -- in_bulk -------------------------------------------------------------------------------


def test_in_bulk_returns_exactly_the_keys_asked_for(db_session) -> None:
    tag = f"bulk-{uuid.uuid4().hex[:12]}"
    tasks = [Task.objects.enqueue(f"{tag} {n}") for n in range(4)]
    asked = [tasks[0].id, tasks[2].id, uuid.uuid4()]  # one key matches no row
    found = Task.objects.in_bulk(asked)
    assert set(found) == {tasks[0].id, tasks[2].id}
    assert all(found[key].id == key for key in found)
    assert set(Task.objects.filter(title__startswith=tag).in_bulk()) == {t.id for t in tasks}
