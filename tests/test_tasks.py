"""Tasks: the queue, the lifecycle, retries, statistics, optimistic locking and concurrent claims."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from assistant_models.core.types import utcnow
from assistant_models.database import Database
from assistant_models.exceptions import ConflictError, InvalidTransition, ValidationError
from assistant_models.models import Task, TaskManager, TaskStatus, User

pytestmark = pytest.mark.integration


@pytest.fixture
def tag() -> str:
    """Return a title prefix of this test's own, so committed rows of others never interfere."""
    return f"tasktest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def committed(database: Database, tag: str) -> Iterator[str]:
    """Yield the tag of committed tasks; hard-delete them afterwards."""
    try:
        yield tag
    finally:
        with database.session():
            Task.all_objects.filter(title__startswith=tag).delete(hard=True)


def _queue(tag: str) -> TaskManager:
    return Task.objects.filter(title__startswith=tag)


def _running(tag: str, **fields: object) -> Task:
    return Task.objects.start(Task.objects.enqueue(tag, **fields), worker="w1")


# ------------------------------------------------------------------ enqueue and validation


def test_enqueued_task_starts_pending_with_defaults(db_session: Session, tag: str) -> None:
    task = Task.objects.enqueue(tag, description="do it")
    assert task.status is TaskStatus.PENDING
    assert (task.priority, task.retry_count, task.max_retries, task.version) == (5, 0, 3, 1)
    assert task.started_at is None and task.claimed_by is None
    assert _queue(tag).get().id == task.id


def test_enqueue_refuses_a_status(db_session: Session, tag: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.enqueue(tag, status=TaskStatus.RUNNING)
    assert caught.value.fields == ["status"]


@pytest.mark.parametrize("priority", [0, 10])
def test_priority_bounds_are_accepted(db_session: Session, tag: str, priority: int) -> None:
    assert Task.objects.enqueue(tag, priority=priority).priority == priority


@pytest.mark.parametrize("priority", [-1, 11, 100])
def test_priority_outside_zero_to_ten_is_refused(db_session: Session, tag: str, priority: int) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.enqueue(tag, priority=priority)
    assert caught.value.fields == ["priority"]
    assert not _queue(tag).exists()


def test_priority_outside_the_range_is_refused_on_update_and_on_flush(db_session: Session, tag: str) -> None:
    task = Task.objects.enqueue(tag)
    with pytest.raises(ValidationError) as caught:
        _queue(tag).update(priority=11)
    assert caught.value.fields == ["priority"]
    task.priority = 11
    with pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert caught.value.fields == ["priority"]
    db_session.expire(task)
    assert task.priority == 5


def test_blank_title_and_bad_priority_are_reported_together(db_session: Session) -> None:
    with pytest.raises(ValidationError) as caught:
        Task.objects.enqueue("", priority=11)
    assert set(caught.value.fields) == {"title", "priority"}


# ------------------------------------------------------------------ claim_next


def test_claim_next_takes_highest_priority_first_then_the_oldest(db_session: Session, tag: str) -> None:
    now = utcnow()
    old_low = Task.objects.enqueue(f"{tag} old low", priority=3, created_at=now - timedelta(hours=3))
    new_high = Task.objects.enqueue(f"{tag} new high", priority=9, created_at=now - timedelta(hours=1))
    new_mid = Task.objects.enqueue(f"{tag} new mid", priority=5, created_at=now - timedelta(hours=1))
    old_mid = Task.objects.enqueue(f"{tag} old mid", priority=5, created_at=now - timedelta(hours=2))
    claimed = [_queue(tag).claim_next("w1") for _ in range(4)]
    assert [t.id for t in claimed if t is not None] == [new_high.id, old_mid.id, new_mid.id, old_low.id]
    assert _queue(tag).claim_next("w1") is None


def test_claimed_task_is_running_and_names_its_worker(db_session: Session, tag: str) -> None:
    task = Task.objects.enqueue(tag)
    claimed = _queue(tag).claim_next("worker-7")
    assert claimed is task
    assert task.status is TaskStatus.RUNNING
    assert task.claimed_by == "worker-7"
    assert task.started_at is not None
    assert task.version == 2


def test_claim_next_skips_tasks_whose_run_after_is_in_the_future(db_session: Session, tag: str) -> None:
    later = Task.objects.enqueue(f"{tag} later", priority=10, run_after=utcnow() + timedelta(hours=1))
    due = Task.objects.enqueue(f"{tag} due", priority=1, run_after=utcnow() - timedelta(minutes=1))
    claimed = _queue(tag).claim_next("w1")
    assert claimed is not None and claimed.id == due.id
    assert _queue(tag).claim_next("w1") is None
    assert later.status is TaskStatus.PENDING


def test_claim_next_returns_none_for_an_empty_queue(db_session: Session, tag: str) -> None:
    assert _queue(tag).claim_next("w1") is None


def test_claim_next_skips_finished_and_deleted_tasks(db_session: Session, tag: str) -> None:
    Task.objects.cancel(Task.objects.enqueue(tag))
    Task.objects.complete(_running(tag))
    Task.objects.enqueue(tag).delete()
    assert _queue(tag).claim_next("w1") is None


def test_claim_next_respects_filters_chained_before_it(db_session: Session, tag: str) -> None:
    bot = User.objects.create_user(f"{tag}@example.com", tag, "correct horse battery")
    Task.objects.enqueue(tag, priority=10)
    mine = Task.objects.enqueue(tag, priority=1, assignee_id=bot.id)
    claimed = _queue(tag).filter(assignee_id=bot.id).claim_next("bot")
    assert claimed is not None and claimed.id == mine.id


@pytest.mark.parametrize("worker", ["", "w" * 101])
def test_claim_next_refuses_a_bad_worker_name(db_session: Session, tag: str, worker: str) -> None:
    Task.objects.enqueue(tag)
    with pytest.raises(ValidationError) as caught:
        _queue(tag).claim_next(worker)
    assert caught.value.fields == ["worker"]


# ------------------------------------------------------------------ lifecycle


def test_complete_keeps_results_and_stamps_the_finish(db_session: Session, tag: str) -> None:
    task = _running(tag)
    Task.objects.complete(task, {"answer": 42})
    db_session.expire(task)
    assert task.status is TaskStatus.COMPLETED
    assert task.results == {"answer": 42}
    assert task.completed_at is not None and task.started_at is not None
    assert task.completed_at >= task.started_at
    assert task.is_finished


def test_fail_with_retries_left_requeues_the_task_later(db_session: Session, tag: str) -> None:
    task = _running(tag, max_retries=2)
    before = utcnow()
    Task.objects.fail(task, "timeout")
    assert task.status is TaskStatus.PENDING
    assert task.retry_count == 1
    assert task.error == "timeout"
    assert task.run_after is not None and task.run_after >= before + timedelta(seconds=30)
    assert task.claimed_by is None and task.started_at is None
    assert _queue(tag).claim_next("w1") is None  # not due yet


def test_fail_backs_off_longer_each_time_then_fails_for_good(db_session: Session, tag: str) -> None:
    task = _running(tag, max_retries=2)
    Task.objects.fail(task, "first")
    first_delay = task.run_after - utcnow()  # type: ignore[operator]
    Task.objects.start(task)
    Task.objects.fail(task, "second")
    assert (task.status, task.retry_count) == (TaskStatus.PENDING, 2)
    assert task.run_after - utcnow() > first_delay  # type: ignore[operator]
    Task.objects.start(task)
    Task.objects.fail(task, "third")
    db_session.expire(task)
    assert (task.status, task.retry_count, task.error) == (TaskStatus.FAILED, 2, "third")
    assert task.completed_at is not None


def test_fail_without_retry_fails_at_once(db_session: Session, tag: str) -> None:
    task = _running(tag)
    Task.objects.fail(task, "fatal", retry=False)
    assert (task.status, task.retry_count, task.error) == (TaskStatus.FAILED, 0, "fatal")


def test_task_without_retries_fails_at_once(db_session: Session, tag: str) -> None:
    task = _running(tag, max_retries=0)
    Task.objects.fail(task, "boom")
    assert task.status is TaskStatus.FAILED


def test_pending_and_running_tasks_can_be_cancelled(db_session: Session, tag: str) -> None:
    pending = Task.objects.cancel(Task.objects.enqueue(tag))
    running = Task.objects.cancel(_running(tag))
    assert pending.status is running.status is TaskStatus.CANCELLED
    assert pending.completed_at is not None


def test_cancelled_task_cannot_be_completed(db_session: Session, tag: str) -> None:
    task = Task.objects.cancel(_running(tag))
    with pytest.raises(InvalidTransition) as caught:
        Task.objects.complete(task, {"late": True})
    assert (caught.value.current, caught.value.target) == ("cancelled", "completed")
    db_session.expire(task)
    assert task.status is TaskStatus.CANCELLED and task.results is None


def test_completed_task_cannot_be_started_again(db_session: Session, tag: str) -> None:
    task = Task.objects.complete(_running(tag))
    version = task.version
    with pytest.raises(InvalidTransition):
        Task.objects.start(task)
    db_session.expire(task)
    assert task.status is TaskStatus.COMPLETED and task.version == version


@pytest.mark.parametrize(
    ("setup", "move"),
    [
        ("pending", "complete"),
        ("pending", "fail"),
        ("running", "start"),
        ("completed", "cancel"),
        ("completed", "fail"),
        ("failed", "complete"),
        ("cancelled", "start"),
    ],
)
def test_illegal_moves_raise_invalid_transition(db_session: Session, tag: str, setup: str, move: str) -> None:
    task = Task.objects.enqueue(tag, max_retries=0)
    if setup != "pending":
        Task.objects.start(task)
    if setup == "completed":
        Task.objects.complete(task)
    elif setup == "failed":
        Task.objects.fail(task, "x")
    elif setup == "cancelled":
        Task.objects.cancel(task)
    moves = {
        "start": lambda: Task.objects.start(task),
        "complete": lambda: Task.objects.complete(task),
        "fail": lambda: Task.objects.fail(task, "again"),
        "cancel": lambda: Task.objects.cancel(task),
    }
    with pytest.raises(InvalidTransition):
        moves[move]()
    assert task.status is TaskStatus(setup)


def test_every_saved_change_bumps_the_version(db_session: Session, tag: str) -> None:
    task = Task.objects.enqueue(tag)
    assert task.version == 1
    Task.objects.start(task)
    Task.objects.complete(task)
    assert task.version == 3


# ------------------------------------------------------------------ overdue and statistics


def test_overdue_lists_unfinished_tasks_past_their_due_time(db_session: Session, tag: str) -> None:
    past, future = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    late_pending = Task.objects.enqueue(tag, due_at=past)
    late_running = _running(tag, due_at=past)
    late_done = Task.objects.complete(_running(tag, due_at=past))
    Task.objects.enqueue(tag, due_at=future)
    Task.objects.enqueue(tag)
    expected = {late_pending.id, late_running.id}
    assert {t.id for t in _queue(tag).overdue()} == expected
    assert expected <= {t.id for t in Task.objects.overdue()}
    assert late_pending.is_overdue(utcnow()) and not late_done.is_overdue(utcnow())


def test_statistics_count_by_status_overdue_retries_and_mean_run_time(db_session: Session, tag: str) -> None:
    past = utcnow() - timedelta(hours=1)
    Task.objects.enqueue(tag, due_at=past)
    Task.objects.fail(_running(tag), "retry me")
    _running(tag, due_at=past)
    for seconds in (10, 20):
        done = Task.objects.complete(_running(tag, due_at=past))
        _queue(tag).filter(pk=done.id).update(started_at=past, completed_at=past + timedelta(seconds=seconds))
    Task.objects.fail(_running(tag), "fatal", retry=False)
    Task.objects.cancel(Task.objects.enqueue(tag))
    Task.objects.enqueue(tag).delete()
    stats = _queue(tag).statistics()
    assert stats == {
        "total": 7,
        "overdue": 2,
        "retries": 1,
        "by_status": {"pending": 2, "running": 1, "completed": 2, "failed": 1, "cancelled": 1},
        "mean_run_seconds": 15.0,
    }


def test_statistics_of_an_empty_queue_are_zero(db_session: Session, tag: str) -> None:
    stats = _queue(tag).statistics()
    assert stats["total"] == stats["overdue"] == stats["retries"] == 0
    assert set(stats["by_status"].values()) == {0}
    assert stats["mean_run_seconds"] is None


# ------------------------------------------------------------------ optimistic locking (committed data)


def test_stale_task_write_in_another_session_raises_conflict(database: Database, committed: str) -> None:
    with database.session():
        task_id = Task.objects.enqueue(committed).id
    stale_session = database.sessionmaker()
    try:
        stale = Task.objects.using(stale_session).get(pk=task_id)
        with database.session():
            Task.objects.start(Task.objects.get(pk=task_id), worker="fresh")
        with pytest.raises(ConflictError) as caught:
            Task.objects.using(stale_session).cancel(stale)
        assert caught.value.field == "version"
    finally:
        stale_session.rollback()
        stale_session.close()
    with database.session():
        task = Task.objects.get(pk=task_id)
        assert (task.status, task.claimed_by, task.version) == (TaskStatus.RUNNING, "fresh", 2)


def test_stale_task_raises_conflict_when_its_unit_of_work_commits(database: Database, committed: str) -> None:
    with database.session():
        task_id = Task.objects.enqueue(committed).id
    with database.session():
        stale = Task.objects.get(pk=task_id)
    with database.session():
        Task.objects.get(pk=task_id).title = f"{committed} fresh"
    with pytest.raises(ConflictError), database.session() as session:
        session.add(stale)
        stale.title = f"{committed} stale"
    with database.session():
        assert Task.objects.get(pk=task_id).title == f"{committed} fresh"


def test_hard_delete_of_a_stale_task_raises_conflict_and_keeps_the_row(
    database: Database, committed: str
) -> None:
    with database.session():
        task_id = Task.objects.enqueue(committed).id
    with database.session():
        stale = Task.objects.get(pk=task_id)
    with database.session():
        Task.objects.cancel(Task.objects.get(pk=task_id))
    with pytest.raises(ConflictError), database.session() as session:
        session.add(stale)
        stale.delete(hard=True)
    with database.session():
        assert Task.objects.get(pk=task_id).status is TaskStatus.CANCELLED


def test_concurrent_workers_claim_every_task_exactly_once(database: Database, committed: str) -> None:
    count, workers = 40, 4
    with database.session():
        ids = {Task.objects.enqueue(f"{committed} {i}", priority=i % 11).id for i in range(count)}
    claims: dict[str, list[uuid.UUID]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def work(name: str) -> None:
        mine: list[uuid.UUID] = []
        claims[name] = mine
        try:
            barrier.wait(timeout=30)
            while True:
                with database.session():
                    task = _queue(committed).claim_next(name)
                    if task is None:
                        return
                    mine.append(task.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    claimed = [task_id for mine in claims.values() for task_id in mine]
    assert len(claimed) == count
    assert set(claimed) == ids
    owner = {task_id: name for name, mine in claims.items() for task_id in mine}
    with database.session():
        rows = list(_queue(committed).values("id", "status", "claimed_by"))
    assert {(r["id"], r["status"], r["claimed_by"]) for r in rows} == {
        (task_id, TaskStatus.RUNNING, owner[task_id]) for task_id in ids
    }


def test_a_failure_is_recorded_whatever_its_error_text_holds(db_session: Session) -> None:
    from assistant_models.models.work import ERROR_MAX

    for text in ("x" * (ERROR_MAX + 5000), "bad byte \x00 and \ud800 lone surrogate"):
        task = Task.objects.enqueue("fragile")
        Task.objects.filter(pk=task.id).claim_next("w")
        failed = Task.objects.fail(task, text)
        assert failed.status is TaskStatus.PENDING  # never left running
        stored = Task.objects.values_list("error", flat=True).get(pk=task.id)
        assert len(stored) <= ERROR_MAX and "\x00" not in stored
    assert stored.startswith("bad byte")
