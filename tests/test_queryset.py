"""QuerySet semantics: lazy, immutable, chainable, with Django's lookups."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.dialects import postgresql

from assistant_models import (
    Count,
    F,
    FieldError,
    Max,
    MultipleObjectsReturned,
    NotFoundError,
    Q,
    ValidationError,
)
from assistant_models.core.context import bind_session, unbind_session
from assistant_models.core.types import utcnow
from assistant_models.exceptions import SessionRequiredError
from assistant_models.models import Task, TaskStatus, User


def make_user(name: str, **fields) -> User:
    return User.objects.create_user(f"{name}@example.com", name, "password-123", **fields)


@pytest.fixture
def people(db_session):
    return {name: make_user(name) for name in ("ann", "bob", "cyd")}


@pytest.fixture
def tasks(db_session, people):
    spec = [("write docs", 3, "ann"), ("fix bug", 9, "bob"), ("review", 5, "ann"), ("deploy", 7, None)]
    return [
        Task.objects.enqueue(title, priority=prio, assignee_id=people[who].id if who else None)
        for title, prio, who in spec
    ]


def titles(qs) -> list[str]:
    return [t.title for t in qs]


def test_refinements_are_lazy_and_send_no_sql(tasks, statements):
    qs = Task.objects.filter(priority__gte=5).exclude(title="deploy").order_by("-priority")[:10]
    assert statements == []
    assert titles(qs) == ["fix bug", "review"]


def test_chaining_never_changes_the_original(tasks):
    base = Task.objects.filter(priority__gte=5)
    narrower = base.filter(title="fix bug")
    assert base.count() == 3
    assert narrower.count() == 1


def test_lookups_follow_django_semantics(tasks):
    assert titles(Task.objects.filter(title__exact="review")) == ["review"]
    assert titles(Task.objects.filter(title__iexact="REVIEW")) == ["review"]
    assert set(titles(Task.objects.filter(title__contains="e"))) == {"write docs", "review", "deploy"}
    assert titles(Task.objects.filter(title__icontains="DOC")) == ["write docs"]
    assert titles(Task.objects.filter(title__startswith="fix")) == ["fix bug"]
    assert titles(Task.objects.filter(title__istartswith="FIX")) == ["fix bug"]
    assert titles(Task.objects.filter(title__endswith="ploy")) == ["deploy"]
    assert titles(Task.objects.filter(title__iendswith="PLOY")) == ["deploy"]
    assert set(titles(Task.objects.filter(priority__in=[3, 7]))) == {"write docs", "deploy"}
    assert titles(Task.objects.filter(priority__gt=8)) == ["fix bug"]
    assert titles(Task.objects.filter(priority__lt=4)) == ["write docs"]
    assert Task.objects.filter(priority__gte=7, priority__lte=9).count() == 2
    assert Task.objects.filter(priority__range=(5, 7)).count() == 2
    assert titles(Task.objects.filter(assignee_id__isnull=True)) == ["deploy"]
    assert Task.objects.filter(assignee_id__isnull=False).count() == 3


def test_user_text_in_lookups_is_always_literal(tasks, people):
    Task.objects.enqueue("100% done_now")
    assert User.objects.filter(email__iexact="%").count() == 0
    assert User.objects.filter(email__icontains="%").count() == 0
    assert titles(Task.objects.filter(title__contains="%")) == ["100% done_now"]
    assert titles(Task.objects.filter(title__contains="_")) == ["100% done_now"]
    assert Task.objects.filter(title__startswith="'; DROP TABLE tasks; --").count() == 0


def test_lookups_cross_relations(tasks, people):
    assert set(titles(Task.objects.filter(assignee__email__iexact="ANN@example.com"))) == {
        "write docs",
        "review",
    }
    assert titles(Task.objects.filter(assignee__username="bob")) == ["fix bug"]
    assert list(Task.objects.order_by("assignee__username", "title").values_list("title", flat=True)[:3]) == [
        "review",
        "write docs",
        "fix bug",
    ]
    rows = Task.objects.filter(title="fix bug").values("title", "assignee__username")
    assert list(rows) == [{"title": "fix bug", "assignee__username": "bob"}]


def test_q_objects_combine_with_or_and_and_not(tasks):
    either = Task.objects.filter(Q(priority__gte=9) | Q(title="write docs"))
    assert set(titles(either)) == {"fix bug", "write docs"}
    both = Task.objects.filter(Q(priority__gte=5) & ~Q(title="deploy"))
    assert set(titles(both)) == {"fix bug", "review"}
    assert set(titles(Task.objects.filter(~Q(priority__lt=5)))) == {"fix bug", "review", "deploy"}


def test_exclude_negates_the_lookups_together(tasks):
    assert set(titles(Task.objects.exclude(priority__gte=5, title="fix bug"))) == {
        "write docs",
        "review",
        "deploy",
    }


def test_f_expressions_update_atomically_and_compare_columns(tasks):
    changed = Task.objects.filter(priority__lt=5).update(priority=F("priority") + 2)
    assert changed == 1
    assert Task.objects.get(title="write docs").priority == 5
    assert Task.objects.filter(retry_count__lt=F("max_retries")).count() == 4


def test_unknown_lookups_and_fields_are_reported_together_before_sql(tasks, statements):
    statements.clear()
    with pytest.raises(FieldError) as caught:
        Task.objects.filter(colour="red", assignee__shoe_size=3, priority__near=4, title____x=1)
    text = str(caught.value)
    for name in ("colour", "shoe_size", "priority__near", "title____x"):
        assert name in text
    with pytest.raises(FieldError):
        Task.objects.order_by("-colour")
    with pytest.raises(FieldError):
        Task.objects.values("nope")
    with pytest.raises(FieldError):
        Task.objects.filter(assignee__nothing=None)  # a relation has fields, not lookups of its own
    assert statements == []


def test_secret_fields_cannot_be_filtered_or_ordered_on(people):
    with pytest.raises(FieldError, match="secret"):
        User.objects.filter(password_hash__startswith="$2b")
    with pytest.raises(FieldError, match="secret"):
        User.objects.order_by("password_hash")
    with pytest.raises(FieldError, match="secret"):
        Task.objects.filter(assignee__password_hash="x")
    assert "password_hash" not in User.objects.values()[0]


def test_lookup_values_of_the_wrong_shape_raise_validation_errors(tasks):
    with pytest.raises(ValidationError, match="priority__in"):
        Task.objects.filter(priority__in=5)
    with pytest.raises(ValidationError, match="priority__range"):
        Task.objects.filter(priority__range=(1, 2, 3))
    with pytest.raises(ValidationError, match="assignee_id__isnull"):
        Task.objects.filter(assignee_id__isnull="yes")


def test_get_raises_the_models_own_errors(tasks):
    with pytest.raises(Task.DoesNotExist) as missing:
        Task.objects.get(title="nothing")
    assert isinstance(missing.value, NotFoundError)
    with pytest.raises(Task.MultipleObjectsReturned) as many:
        Task.objects.get(assignee__username="ann")
    assert isinstance(many.value, MultipleObjectsReturned)
    assert not isinstance(missing.value, User.DoesNotExist)


def test_first_last_exists_count(tasks):
    ordered = Task.objects.order_by("priority")
    assert ordered.first().title == "write docs"
    assert ordered.last().title == "fix bug"
    assert Task.objects.filter(title="none").first() is None
    assert Task.objects.filter(priority=9).exists()
    assert not Task.objects.filter(priority=10).exists()
    assert Task.objects.count() == 4
    assert len(Task.objects.all()) == 4


def test_slicing_limits_and_offsets(tasks):
    ordered = Task.objects.order_by("-priority")
    assert titles(ordered[1:3]) == ["deploy", "review"]
    assert titles(ordered[1:3][1:]) == ["review"]
    assert ordered[0].title == "fix bug"
    with pytest.raises(ValidationError):
        ordered[-1]
    with pytest.raises(ValidationError):
        ordered[::2]


def test_values_and_values_list(tasks):
    rows = Task.objects.filter(title="review").values("title", "priority")
    assert list(rows) == [{"title": "review", "priority": 5}]
    assert Task.objects.order_by("priority").values_list("title", "priority")[0] == ("write docs", 3)
    assert list(Task.objects.order_by("priority").values_list("priority", flat=True)) == [3, 5, 7, 9]
    with pytest.raises(ValidationError):
        Task.objects.values_list("title", "priority", flat=True)


def test_distinct_only_in_bulk_iterator_aggregate(tasks, db_session):
    assignees = Task.objects.filter(assignee_id__isnull=False).order_by("assignee_id")
    assert len(assignees.values_list("assignee_id", flat=True)) == 3
    distinct_rows = Task.objects.filter(assignee_id__isnull=False).distinct()
    assert distinct_rows.count() == 3
    light = Task.objects.only("title").get(title="review")
    assert light.title == "review" and light.priority == 5  # the rest loads on access
    by_id = Task.objects.in_bulk([tasks[0].id, tasks[1].id])
    assert set(by_id) == {tasks[0].id, tasks[1].id}
    assert sorted(t.title for t in Task.objects.iterator(chunk_size=2)) == sorted(titles(Task.objects))
    totals = Task.objects.aggregate(n=Count("pk"), top=Max("priority"))
    assert totals == {"n": 4, "top": 9}


def test_select_related_and_prefetch_related_load_relations(tasks, db_session, statements):
    db_session.expire_all()
    statements.clear()
    loaded = list(Task.objects.filter(assignee_id__isnull=False).select_related("assignee").order_by("title"))
    assert [t.assignee.username for t in loaded] == ["bob", "ann", "ann"]
    assert len(statements) == 1
    db_session.expire_all()
    statements.clear()
    loaded = list(Task.objects.filter(assignee_id__isnull=False).prefetch_related("assignee"))
    assert {t.assignee.username for t in loaded} == {"ann", "bob"}
    assert len(statements) == 2
    with pytest.raises(FieldError):
        Task.objects.select_related("nothing")


def test_select_for_update_renders_its_options(tasks):
    def sql(qs):
        return str(qs.statement().compile(dialect=postgresql.dialect()))

    assert "FOR UPDATE OF tasks SKIP LOCKED" in sql(Task.objects.select_for_update(skip_locked=True))
    assert "NOWAIT" in sql(Task.objects.select_for_update(nowait=True))
    with pytest.raises(ValidationError):
        Task.objects.select_for_update(skip_locked=True, nowait=True)
    assert Task.objects.select_for_update().filter(title="review").get().title == "review"


def test_explain_returns_the_plan(tasks):
    plan = Task.objects.filter(priority__gt=1).explain()
    assert "tasks" in plan
    assert "Execution Time" in Task.objects.filter(priority__gt=1).explain(analyze=True)


def test_get_or_create_and_update_or_create(people):
    ann = people["ann"]
    task, created = Task.objects.get_or_create(
        title="unique job", defaults={"priority": 8, "assignee_id": ann.id}
    )
    assert created and task.priority == 8
    again, created = Task.objects.get_or_create(title="unique job", defaults={"priority": 1})
    assert not created and again.id == task.id
    updated, created = Task.objects.update_or_create(title="unique job", defaults={"priority": 2})
    assert not created and updated.priority == 2
    fresh, created = Task.objects.update_or_create(title="other job", defaults={"priority": 4})
    assert created and fresh.priority == 4


def test_get_or_create_returns_the_existing_row_after_a_unique_collision(people):
    user, created = User.objects.get_or_create(
        username__iexact="ANN",
        defaults={"email": "ann@example.com", "username": "ann", "password_hash": "x"},
    )
    assert not created and user.id == people["ann"].id


def test_queryset_delete_and_update_return_counts(tasks):
    assert Task.objects.filter(priority__lt=6).update(title="low") == 2
    assert Task.objects.filter(title="low").delete()[0] == 2
    assert Task.objects.count() == 2
    assert Task.all_objects.count() == 4


def test_managers_need_a_unit_of_work(db_session):
    token = bind_session(None)  # leave the test's session for a moment
    try:
        with pytest.raises(SessionRequiredError, match=r"db\.session\(\)"):
            Task.objects.count()
    finally:
        unbind_session(token)


def test_using_runs_in_an_explicit_session(tasks, db_session):
    token = bind_session(None)
    try:
        assert Task.objects.using(db_session).filter(priority=9).get().title == "fix bug"
    finally:
        unbind_session(token)


def test_manager_is_not_reachable_from_instances(tasks):
    with pytest.raises(AttributeError):
        tasks[0].objects  # noqa: B018


def test_overdue_and_due_use_the_server_clock(people):
    late = Task.objects.enqueue("late", due_at=utcnow() - timedelta(hours=1))
    Task.objects.enqueue("later", run_after=utcnow() + timedelta(hours=1))
    assert titles(Task.objects.overdue()) == ["late"]
    assert "later" not in titles(Task.objects.due())
    assert late.is_overdue(utcnow())
    assert Task.objects.filter(pk=uuid.uuid4()).first() is None
    assert Task.objects.filter(status=TaskStatus.PENDING).count() == 2


def test_an_evaluated_queryset_keeps_its_rows(tasks, statements):
    qs = Task.objects.order_by("title")
    statements.clear()
    rows = list(qs)
    assert len(qs) == 4 and qs.count() == 4 and bool(qs)
    assert [t.title for t in qs] == [t.title for t in rows]
    assert len(statements) == 1
    assert qs.filter(priority=9).count() == 1  # a refinement queries afresh


def test_the_manager_itself_never_keeps_rows(tasks):
    assert len(list(Task.objects)) == 4
    Task.objects.filter(title="deploy").delete()
    assert len(list(Task.objects)) == 3
    assert Task.objects.count() == 3


def test_lookup_values_of_the_wrong_type_name_the_field_before_sql(tasks, statements):
    statements.clear()
    for call in (
        lambda: Task.objects.get(pk="not-a-uuid"),
        lambda: Task.objects.filter(pk__in=["nope"]).count(),
        lambda: Task.objects.filter(Q(priority="high") | Q(title="x")).count(),
        lambda: Task.objects.filter(due_at__gte="yesterday").count(),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.fields[0] in ("pk", "pk__in", "priority", "due_at__gte")
    assert statements == []
    assert Task.objects.filter(priority__lt=100).count() == 4  # types are checked, not constraints
