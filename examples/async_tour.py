"""The async API: the same managers, awaited, on asyncpg.

Run: python examples/async_tour.py   (needs the async extra: pip install -e '.[async]')
Without DATABASE_URL it uses the embedded PostgreSQL, as every example does.
"""

import asyncio
import uuid

from assistant_models import Count, Database, RelationNotLoadedError
from assistant_models.models import Task, User


async def tour(db: Database) -> None:
    tag = uuid.uuid4().hex[:8]
    async with db.asession():  # one unit of work: commit on success, rollback on error
        ada = await User.objects.acreate_user(f"ada-{tag}@example.com", f"ada_{tag}", "correct horse battery")
        for title, priority in (("triage", 9), ("write docs", 3), ("answer ticket", 7)):
            await Task.objects.aenqueue(f"{title} {tag}", priority=priority, assignee_id=ada.id)

    async with db.asession():
        mine = Task.objects.filter(title__endswith=tag)
        task = await mine.aclaim_next("worker-1")  # FOR UPDATE SKIP LOCKED, awaited
        print(f"claimed {task.title.removesuffix(' ' + tag)!r} (priority {task.priority})")
        try:
            task.assignee  # noqa: B018 - not loaded by the query: no hidden I/O under async
        except RelationNotLoadedError as exc:
            print(f"RelationNotLoadedError: names {'select_related' in str(exc) and 'select_related'}")
        await Task.objects.acomplete(task, {"answer": "42"})
        by_status = mine.values("status").annotate(n=Count("id"))
        counts = {row["status"].value: row["n"] async for row in by_status}
        print(f"by status: {dict(sorted(counts.items()))}")
        async for t in mine.select_related("assignee").order_by("-priority"):
            name = t.title.removesuffix(" " + tag)
            owner = t.assignee.username.split("_")[0] if t.assignee is not None else "-"
            print(f"  {name:<14} {t.status:<10} {owner}")
        await mine.adelete()
    await db.adispose()
    print("Done.")


if __name__ == "__main__":
    database = Database()
    database.migrate()
    asyncio.run(tour(database))
