"""Seed the scratch database with COPY."""

from __future__ import annotations

import io
import itertools
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extras
from bench_harness import (
    RARE_TERM,
    Bench,
    Plan,
    sql,
    vacuum,
)

from assistant_models.models import User

# --------------------------------------------------------------------------- seeding

WORDS_TEXT = """
answer invoice customer refund ticket report weekly summary draft email meeting agenda
review budget forecast contract renewal onboarding account password reset billing error
deploy release notes migration database backup restore server latency alert incident
postmortem roadmap feature request design mockup feedback survey translate document
schedule call follow reminder payment overdue shipping order tracking return warehouse
inventory supplier quote estimate proposal legal privacy policy audit security patch
update install configure cluster network outage dashboard metric analytics export
import sync calendar holiday travel booking hotel flight expense receipt approval
manager team hiring interview candidate offer training course quiz grade student lesson
homework
"""
WORDS = WORDS_TEXT.split()


def _words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def make_user(username: str) -> uuid.UUID:
    """Create a user through the managers (its schema may grow) and return its key."""
    user = User.objects.create_user(f"{username}@bench.example.com", username, "bench-password")
    return user.id


TASK_COPY_COLUMNS = (
    "id, title, description, status, priority, assignee_id, retry_count, max_retries, "
    "version, created_at, updated_at, deleted_at"
)


def _task_line(n: int, assignee: uuid.UUID, created: datetime, deleted: bool, plan: Plan) -> str:
    """Return one COPY text line; the words are plain ASCII, so nothing needs escaping."""
    rng = random.Random(n)
    title = _words(rng, 3)
    if n % plan.rare_every == 7:
        title.insert(1, RARE_TERM)
    description = _words(rng, rng.randint(8, 15)) if n % 2 else []
    if n % plan.rare_every == plan.rare_every // 2:
        description.insert(rng.randint(0, len(description)), RARE_TERM)
    stamp = created.isoformat()
    gone = (created + timedelta(hours=1)).isoformat() if deleted else r"\N"
    fields = (
        str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        f"{' '.join(title)} {n}",
        " ".join(description) or r"\N",
        "pending",
        str(n % 11),
        str(assignee),
        "0",
        "3",
        "1",
        stamp,
        stamp,
        gone,
    )
    return "\t".join(fields) + "\n"


def _task_lines(plan: Plan, owner: uuid.UUID, others: list[uuid.UUID]) -> Iterator[str]:
    """Yield the owner's tasks one second apart (every 21st soft-deleted), then the others'."""
    start = datetime.now(UTC) - timedelta(days=2)
    owned = plan.owner_live + plan.owner_deleted
    every = owned // plan.owner_deleted if plan.owner_deleted else 0
    for i in range(owned):
        deleted = bool(every) and i % every == every - 1
        yield _task_line(i, owner, start - timedelta(seconds=i), deleted, plan)
    n = owned
    for j in range(plan.other_tasks):
        for other in others:
            yield _task_line(n, other, start - timedelta(seconds=j, milliseconds=500), False, plan)
            n += 1


def _secondary_indexes(raw: Any, table: str) -> list[tuple[str, str]]:
    """Return the name and definition of the indexes of ``table`` that back no constraint."""
    return sql(
        raw,
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    )


def _copy(raw: Any, table: str, columns: str, lines: Iterable[str], chunk: int = 20_000) -> None:
    """COPY ``lines`` into ``table`` in chunks; triggers (foreign key checks) off when allowed."""
    with raw.cursor() as cur:
        try:
            cur.execute("SET LOCAL session_replication_role = replica")
        except psycopg2.errors.InsufficientPrivilege:
            raw.rollback()
        iterator = iter(lines)
        while batch := list(itertools.islice(iterator, chunk)):
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(batch)))
    raw.commit()


def seed(b: Bench, others: list[uuid.UUID]) -> float:
    """Fill ``tasks`` with COPY, its secondary indexes rebuilt afterwards; return the seconds."""
    started = time.perf_counter()
    indexes = _secondary_indexes(b.raw, "tasks")
    for name, _definition in indexes:
        sql(b.raw, f'DROP INDEX "{name}"')
    _copy(b.raw, "tasks", TASK_COPY_COLUMNS, _task_lines(b.plan, b.owner, others))
    sql(b.raw, "SET maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        sql(b.raw, definition)
    vacuum(b.raw, "tasks", "users")
    b.sample = [
        r[0] for r in sql(b.raw, "SELECT id FROM tasks WHERE deleted_at IS NULL ORDER BY random() LIMIT 1000")
    ]
    return time.perf_counter() - started
