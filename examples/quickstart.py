"""A guided tour of assistant_models: identity, tasks, soft delete, pagination and audit.

Run it with no set-up at all: without DATABASE_URL it starts the embedded
PostgreSQL (data kept in ~/.local/share/assistant_models/pgdata) and migrates it.

    python examples/quickstart.py

Each run uses fresh names, so it can be run again and again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from assistant_models import ConflictError, Database, InvalidTransition, ValidationError, audit_actor
from assistant_models.models import ApiKey, AuditLog, AuthSession, Task, TaskStatus, User


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    run = secrets.token_hex(3)
    db = Database()
    step("Connect and migrate")
    health = db.health()
    print(f"server {health['server_version']} at {health['url']} answered in {health['latency_ms']} ms")
    db.migrate()
    print(f"schema at revision {db.current_revision()}")

    step("Create a user and sign in")
    with db.session():
        ada = User.objects.create_user(f"ada.{run}@example.com", f"ada_{run}", "correct horse battery staple")
        print(f"created {ada.username} ({ada.email}), role {ada.role.value}")
        print(f"'password_hash' in repr(user): {'password_hash' in repr(ada)}")
        assert User.objects.authenticate(ada.email.upper(), "correct horse battery staple") is not None
        print("authenticate(email in capitals, right password) -> user")
        print(f"authenticate(username, wrong password) -> {User.objects.authenticate(ada.username, 'nope')}")
    try:  # a failed write spoils its unit of work, so catch around the (nested) db.session()
        with db.session():
            User.objects.create_user(f"ADA.{run}@EXAMPLE.COM", f"other_{run}", "another password")
    except ConflictError as exc:
        print(f"same email in other letters -> ConflictError on {exc.field!r}: {exc}")
    try:
        with db.session():
            User.objects.create_user("not-an-email", "x", "short")
    except ValidationError as exc:
        print(f"bad sign-up -> ValidationError on {exc.fields}")

    step("Login sessions and API keys: the secret is shown once, only a hash is stored")
    with db.session():
        ada = User.objects.get(username=f"ada_{run}")
        session, token = AuthSession.objects.start(ada, ttl=timedelta(hours=8), ip="203.0.113.7")
        print(f"session {session.id} expires {session.expires_at:%Y-%m-%d %H:%M} UTC")
        print(f"find_by_token(token) finds it: {AuthSession.objects.find_by_token(token) is not None}")
        key, raw = ApiKey.objects.issue(ada, "ci", scopes=["tasks:read"], expires_in=timedelta(days=30))
        print(f"API key {key.key_prefix}... verifies: {ApiKey.objects.verify(raw) is not None}")
        ApiKey.objects.revoke(key)
        print(f"after revoke, verify -> {ApiKey.objects.verify(raw)}")

    step("A task queue: enqueue, claim, fail and retry, complete")
    with db.session(), audit_actor(ada.id):
        batch = [
            Task.objects.enqueue(f"index docs [{run}]", priority=3, assignee_id=ada.id),
            Task.objects.enqueue(f"answer ticket [{run}]", priority=9, assignee_id=ada.id, max_retries=1),
            Task.objects.enqueue(f"send digest [{run}]", priority=5, assignee_id=ada.id),
        ]
        print("enqueued:", ", ".join(f"{t.title} (priority {t.priority})" for t in batch))
        mine = Task.objects.filter(assignee_id=ada.id)
        first = mine.claim_next("worker-1")
        assert first is not None  # three tasks are pending
        print(f"worker-1 claimed the most urgent: {first.title} -> {first.status.value}")
        Task.objects.fail(first, "model timed out")
        print(f"failed once -> {first.status.value}, retry {first.retry_count}, runs again after back-off")
        Task.objects.filter(pk=first.id).update(run_after=None)  # skip the back-off for the tour
        again = mine.claim_next("worker-2")
        assert again is not None
        Task.objects.complete(again, {"answer": "42"})
        print(f"worker-2 claimed it again and completed it: {again.status.value}, results {again.results}")
        try:
            Task.objects.start(again)
        except InvalidTransition as exc:
            print(f"starting a completed task -> InvalidTransition: {exc}")
        print("statistics:", mine.statistics()["by_status"])

    step("Soft delete and restore")
    with db.session():
        digest = Task.objects.get(title=f"send digest [{run}]")
        digest.delete()
        live = Task.objects.filter(assignee_id=ada.id).count()
        total = Task.all_objects.filter(assignee_id=ada.id).count()
        print(f"deleted '{digest.title}': objects sees {live}, all_objects sees {total}")
        digest.restore()
        print(f"restored: objects sees {Task.objects.filter(assignee_id=ada.id).count()}")

    step("Page through results")
    with db.session():
        Task.objects.bulk_create(
            [Task(title=f"bulk item {i} [{run}]", priority=i % 11, assignee_id=ada.id) for i in range(45)]
        )
        ordered = Task.objects.filter(assignee_id=ada.id).order_by("-priority", "title")
        page = ordered.paginate(page=2, per_page=20)
        shown = f"{len(page.items)} of {page.total} tasks"
        print(f"page {page.page} of {page.pages}: {shown}, has_next={page.has_next}")
        cursor, pages = None, 0
        while True:
            chunk = ordered.cursor_paginate(first=20, after=cursor)
            pages += 1
            if not chunk.has_next:
                break
            cursor = chunk.next_cursor
        print(f"cursor pagination walked {pages} pages; cursors are signed, a forged one is refused")
        print("search 'ticket':", [t.title for t in Task.objects.filter(assignee_id=ada.id).search("ticket")])

    step("Read the audit trail")
    with db.session():
        task = Task.objects.get(title=f"answer ticket [{run}]")
        for entry in AuditLog.objects.for_object(task):
            status = entry.changes.get("fields", {}).get("status")
            moved = f"status {status['before']} -> {status['after']}" if status else ""
            fields = sorted(entry.changes.get("fields", entry.changes.get("after", {})))
            print(f"{entry.created_at:%H:%M:%S.%f} {entry.action.value:<7} {moved:<30} fields {fields[:4]}")
        trail = AuditLog.objects.for_object(ada).values_list("action", flat=True)
        print(f"user trail: {[a.value for a in trail]} (password hash shown as [redacted] in diffs)")
    db.dispose()
    print("\nDone. Task statuses:", ", ".join(s.value for s in TaskStatus))


if __name__ == "__main__":
    main()
