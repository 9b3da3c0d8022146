"""``Task.objects.claim_next`` skips tasks other workers hold (``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from assistant_models import Database
from assistant_models.core.context import current_session
from assistant_models.models import Task, TaskStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def tag(database: Database) -> Iterator[str]:
    """Yield a title prefix for committed tasks; hard-delete them afterwards."""
    prefix = f"skiplocked-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        with database.session():
            Task.all_objects.filter(title__startswith=prefix).delete(hard=True)


def test_a_second_worker_gets_another_task_while_the_first_holds_its_claim(
    database: Database, tag: str
) -> None:
    with database.session():
        urgent = Task.objects.enqueue(f"{tag} urgent", priority=9).id
        later = Task.objects.enqueue(f"{tag} later", priority=1).id
    queue = Task.objects.filter(title__startswith=tag)
    # two handles: each unit of work has its own connection and transaction
    second = Database(database.engine.url.render_as_string(hide_password=False))
    with second, database.session():
        first_claim = queue.claim_next("w1")
        assert first_claim is not None and first_claim.id == urgent
        with second.session():
            # a worker that waited on w1's row would stop here with a lock timeout error
            current_session().execute(text("SET LOCAL lock_timeout = '5s'"))
            second_claim = queue.claim_next("w2")
            assert second_claim is not None and second_claim.id == later
            assert queue.claim_next("w2") is None  # nothing left that is not held
    with database.session():
        rows = {r["id"]: (r["status"], r["claimed_by"]) for r in queue.values("id", "status", "claimed_by")}
    assert rows == {urgent: (TaskStatus.RUNNING, "w1"), later: (TaskStatus.RUNNING, "w2")}
