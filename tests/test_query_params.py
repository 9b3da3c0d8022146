"""Query parameters: every value keeps a name of its own, so a statement built once serves any values."""

from assistant_models.models import Task


def _task(title: str, priority: int, **fields) -> Task:
    return Task.objects.enqueue(title, priority=priority, **fields)


def test_a_null_lookup_before_a_value_does_not_lend_its_name_to_the_next_filter(db_session):
    _task("kept", 3)
    _task("other", 9)
    qs = Task.objects.filter(due_at=None, priority=3).filter(title="kept")
    assert [t.title for t in qs] == ["kept"]
    assert sorted(qs.query.params.values(), key=str) == [3, "kept"]


def test_an_isnull_lookup_does_not_lend_its_name_either(db_session):
    _task("kept", 3)
    qs = Task.objects.filter(due_at__isnull=True, priority=3).filter(title="kept")
    assert qs.count() == 1


def test_combined_queries_keep_every_value_after_null_lookups(db_session):
    _task("left", 3)
    _task("right", 5)
    _task("neither", 7)
    left = Task.objects.filter(due_at=None, priority=3)
    right = Task.objects.filter(due_at__isnull=True, title="right")
    combined = (left | right).filter(priority__lt=7)
    assert sorted(t.title for t in combined) == ["left", "right"]
