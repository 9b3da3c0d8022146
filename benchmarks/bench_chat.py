"""Measure the conversation managers against raw psycopg2 sending the same statements.

Issue 6's table, in one interleaved run on a scratch database:

* ``post``: ``Message.objects.post(chat, "user", text)`` with its counters, + commit;
* ``history``: ``Message.objects.history(chat, limit=50)``: the last 50 turns as dicts;
* ``import``: ``Message.objects.import_history(chat, rows)`` of 10,000 messages (x raw COPY);
* ``search_rare`` / ``search_medium`` / ``search_common``: ranked message search, top 20,
  over 200,000 messages, for a term in about 0.01 %, 1 % and 30 % of them;
* ``summaries``: ``ChatSession.objects.summaries(user, limit=20)`` for a user with 500 chats.

psycopg2 runs the statements the managers send (the database's counter triggers fire for
both), each read in its own transaction as the managers' units of work do. Figures are
printed, never asserted::

    python benchmarks/bench_chat.py            # full run
    python benchmarks/bench_chat.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench_harness import (
    BASE,
    FULL,
    QUICK,
    Plan,
    Timing,
    measure,
    open_database,
    raw_connection,
    scratch_database,
    sql,
    vacuum,
)
from bench_seed import WORDS, make_user

from assistant_models import Database
from assistant_models.models import ChatSession, Message

RARE, MEDIUM, COMMON = "quokka", "lantern", "river"
#: How often each term appears: one message in this many holds it.
EVERY = {RARE: 10_000, MEDIUM: 100, COMMON: 3}
HISTORY = 50


@dataclasses.dataclass(frozen=True)
class ChatPlan:
    """The data of the run; ``--quick`` shrinks it."""

    chats: int  # chats of the other users, holding the bulk of the messages
    per_chat: int  # messages per chat
    owner_chats: int  # chats of the user whose summaries are read
    import_rows: int

    @property
    def messages(self) -> int:
        return self.chats * self.per_chat


CHAT_FULL = ChatPlan(chats=2_000, per_chat=100, owner_chats=500, import_rows=10_000)
CHAT_QUICK = ChatPlan(chats=200, per_chat=100, owner_chats=50, import_rows=1_000)


@dataclasses.dataclass
class ChatBench:
    db: Database
    raw: Any
    plan: Plan
    chat_plan: ChatPlan
    owner: uuid.UUID
    chats: list[uuid.UUID]
    scratch_chat: uuid.UUID


# ------------------------------------------------------------------------------ seed


def _text(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(12)]
    for term, every in EVERY.items():
        if n % every == every // 2:
            words[rng.randrange(len(words))] = term
    return " ".join(words)


def _copy(raw: Any, table: str, columns: str, lines: Iterator[str]) -> None:
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines)))
    raw.commit()


def seed(db: Database, raw: Any, chat_plan: ChatPlan) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    """Create the users, chats and messages with COPY; return the owner, the chats, the scratch chat."""
    with db.session():
        owner, other = make_user("chat_owner"), make_user("chat_other")
    rng = random.Random(6)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    chats = [uuid.uuid4() for _ in range(chat_plan.chats)]
    owned = [uuid.uuid4() for _ in range(chat_plan.owner_chats)]
    scratch = uuid.uuid4()
    chat_lines = (
        f"{c}\t{user}\tchat {i}\tactive\t{{}}\t{{}}\t{{}}\t{(start + timedelta(minutes=i)).isoformat()}\n"
        for i, (c, user) in enumerate(
            [(c, other) for c in chats] + [(c, owner) for c in owned] + [(scratch, other)]
        )
    )
    columns = "id, user_id, title, status, provider_config, context, settings, created_at"
    _copy(raw, "chat_sessions", columns, chat_lines)

    def messages() -> Iterator[str]:
        n = 0
        for c in [*chats, *owned]:
            per = chat_plan.per_chat if c in chat_set else 5
            for k in range(per):
                role = "user" if k % 2 == 0 else "assistant"
                at = (start + timedelta(seconds=n)).isoformat()
                yield f"{uuid.uuid4()}\t{c}\t{role}\t{_text(rng, n)}\ttext\t{{}}\t7\t11\t{at}\n"
                n += 1

    chat_set = set(chats)
    columns = "id, session_id, role, content, content_type, meta, input_tokens, output_tokens, created_at"
    _copy(raw, "messages", columns, messages())
    # the rows came in with their triggers; the chats' counters are set once from them
    sql(
        raw,
        "UPDATE chat_sessions s SET message_count = m.n, total_tokens = m.tokens, last_message_at = m.last "
        "FROM (SELECT session_id, count(*) AS n, sum(input_tokens + output_tokens) AS tokens, "
        "max(created_at) AS last FROM messages WHERE deleted_at IS NULL GROUP BY session_id) m "
        "WHERE s.id = m.session_id",
    )
    vacuum(raw, "chat_sessions", "messages")
    return owner, chats, scratch


# ------------------------------------------------------------------------ operations


def op_post(b: ChatBench) -> dict[str, Callable[[int], object]]:
    chat, cur = b.scratch_chat, b.raw.cursor()
    insert = (
        "INSERT INTO messages (id, session_id, role, content, content_type, meta, input_tokens, "
        "output_tokens) VALUES (%s, %s, 'user', %s, 'text', '{}', 3, 0) RETURNING created_at"
    )

    def managers(i: int) -> object:
        with b.db.session():
            return Message.objects.post(chat, "user", f"posted message {i}", input_tokens=3)

    def raw_pg(i: int) -> object:
        cur.execute(insert, (uuid.uuid4(), chat, f"posted message {i}"))
        row = cur.fetchone()
        b.raw.commit()
        return row

    return {"managers": managers, BASE: raw_pg}


#: The two statements ``history(chat, limit=n)`` sends: the latest n turns, then the system messages.
LIVE_MESSAGE = (
    "m.session_id = %s AND m.deleted_at IS NULL AND EXISTS (SELECT 1 FROM chat_sessions s "
    "WHERE s.id = m.session_id AND s.deleted_at IS NULL)"
)
HISTORY_FIELDS = "m.created_at, m.id, m.role, m.content, m.tool_calls, m.tool_call_id, m.name"
LATEST_SQL = (
    f"SELECT {HISTORY_FIELDS} FROM messages m WHERE {LIVE_MESSAGE} AND m.role <> 'system' "
    "ORDER BY m.created_at DESC, m.id DESC LIMIT %s"
)
SYSTEM_SQL = f"SELECT {HISTORY_FIELDS} FROM messages m WHERE {LIVE_MESSAGE} AND m.role = 'system'"


def op_history(b: ChatBench) -> dict[str, Callable[[int], object]]:
    chats, cur = b.chats, b.raw.cursor()

    def managers(i: int) -> object:
        with b.db.session():
            return Message.objects.history(chats[i % len(chats)], limit=HISTORY)

    def raw_pg(i: int) -> object:
        chat = chats[i % len(chats)]
        cur.execute(LATEST_SQL, (chat, HISTORY))
        rows = cur.fetchall()
        cur.execute(SYSTEM_SQL, (chat,))
        rows += cur.fetchall()
        b.raw.commit()
        out = []
        for _at, _key, role, content, tool_calls, tool_call_id, name in sorted(
            rows, key=lambda r: (r[0], r[1])
        ):
            item: dict[str, Any] = {"role": role, "content": content}
            if tool_calls:
                item["tool_calls"] = tool_calls
            if tool_call_id:
                item["tool_call_id"] = tool_call_id
            if name:
                item["name"] = name
            out.append(item)
        return out

    return {"managers": managers, BASE: raw_pg}


SEARCH_SQL = (
    "SELECT m.id, m.session_id, m.role, m.content, m.created_at, "
    "ts_rank_cd(m.search_vector, q) AS rank FROM messages m, websearch_to_tsquery('english', %s) q "
    "WHERE m.search_vector @@ q AND m.deleted_at IS NULL AND EXISTS (SELECT 1 FROM chat_sessions s "
    "WHERE s.id = m.session_id AND s.deleted_at IS NULL) ORDER BY rank DESC, m.id LIMIT 20"
)


def op_search(term: str) -> Callable[[ChatBench], dict[str, Callable[[int], object]]]:
    def setup(b: ChatBench) -> dict[str, Callable[[int], object]]:
        cur = b.raw.cursor()

        def managers(i: int) -> object:
            with b.db.session():
                return list(Message.objects.search(term)[:20])

        def raw_pg(i: int) -> object:
            cur.execute(SEARCH_SQL, (term,))
            rows = cur.fetchall()
            b.raw.commit()
            return rows

        return {"managers": managers, BASE: raw_pg}

    return setup


SUMMARIES_SQL = (
    "SELECT s.id, s.title, s.is_pinned, s.last_message_at, l.content, l.role, l.created_at "
    "FROM chat_sessions s LEFT JOIN LATERAL (SELECT left(m.content, 200) AS content, m.role, m.created_at "
    "FROM messages m WHERE m.session_id = s.id AND m.deleted_at IS NULL "
    "ORDER BY m.created_at DESC, m.id DESC LIMIT 1) l ON true "
    "WHERE s.user_id = %s AND s.deleted_at IS NULL "
    "ORDER BY s.is_pinned DESC, s.last_message_at DESC NULLS LAST, s.id DESC LIMIT 20"
)


def op_summaries(b: ChatBench) -> dict[str, Callable[[int], object]]:
    owner, cur = b.owner, b.raw.cursor()

    def managers(i: int) -> object:
        with b.db.session():
            return ChatSession.objects.summaries(owner, limit=20)

    def raw_pg(i: int) -> object:
        cur.execute(SUMMARIES_SQL, (owner,))
        rows = cur.fetchall()
        b.raw.commit()
        return rows

    return {"managers": managers, BASE: raw_pg}


def run_import(b: ChatBench, notes: list[str]) -> list[Timing]:
    """Time ``import_history`` against raw COPY of the same rows, in turns, rows deleted between."""
    rows = [
        {"role": "user" if k % 2 == 0 else "assistant", "content": f"imported message {k}", "input_tokens": 2}
        for k in range(b.chat_plan.import_rows)
    ]
    chat = b.scratch_chat
    timings = {name: Timing(name, [], []) for name in ("managers", BASE)}

    def managers() -> None:
        with b.db.session():
            Message.objects.import_history(chat, rows)

    def raw_pg() -> None:
        lines = "".join(
            f"{uuid.uuid4()}\t{chat}\t{r['role']}\t{r['content']}\ttext\t{{}}\t{r['input_tokens']}\n"
            for r in rows
        )
        with b.raw.cursor() as cur:
            cur.copy_expert(
                "COPY messages (id, session_id, role, content, content_type, meta, input_tokens) FROM STDIN",
                io.StringIO(lines),
            )
        b.raw.commit()

    reps = max(1, b.plan.bulk_reps)
    for rep in range(reps + 1):  # the first round warms up
        for name, fn in (("managers", managers), (BASE, raw_pg))[:: 1 if rep % 2 else -1]:
            wall, cpu = time.perf_counter_ns(), time.process_time_ns()
            fn()
            wall, cpu = time.perf_counter_ns() - wall, time.process_time_ns() - cpu
            if rep:
                timings[name].samples.append(wall)
                timings[name].cpu.append(cpu)
            sql(b.raw, "DELETE FROM messages WHERE session_id = %s", (chat,))
    notes.append(
        f"{b.chat_plan.import_rows:,} messages per call, {reps} repetitions; rows deleted between calls"
    )
    return list(timings.values())


OPERATIONS: list[tuple[str, str, float, Callable[[ChatBench], dict[str, Callable[[int], object]]] | None]] = [
    ("post", "post() with its counters + commit", 1.5, op_post),
    ("history", f"history() of the last {HISTORY}", 2.0, op_history),
    ("import", "import_history() of {import_rows} (x raw COPY)", 2.0, None),
    ("search_rare", f"message search top 20, rare term ({RARE!r})", 1.5, op_search(RARE)),
    ("search_medium", f"message search top 20, medium term ({MEDIUM!r})", 1.5, op_search(MEDIUM)),
    ("search_common", f"message search top 20, common term ({COMMON!r})", 1.5, op_search(COMMON)),
    ("summaries", "summaries() of a user with {owner_chats} chats", 2.0, op_summaries),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure issue 6's conversation table side by side.")
    parser.add_argument("--quick", action="store_true", help="small data, few repetitions: a smoke run")
    args = parser.parse_args(argv)
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")
    plan, chat_plan = (QUICK, CHAT_QUICK) if args.quick else (FULL, CHAT_FULL)
    started = time.perf_counter()
    summary = []
    with scratch_database(False) as url:
        db = open_database(url, False)
        raw = raw_connection(db)
        try:
            seeded = time.perf_counter()
            owner, chats, scratch = seed(db, raw, chat_plan)
            print(
                f"data: {chat_plan.messages:,} messages in {chat_plan.chats:,} chats, a user with "
                f"{chat_plan.owner_chats} chats; seeded in {time.perf_counter() - seeded:.1f} s"
            )
            b = ChatBench(db, raw, plan, chat_plan, owner, chats, scratch)
            for key, title, goal, setup in OPERATIONS:
                title = title.format(
                    import_rows=f"{chat_plan.import_rows:,}", owner_chats=chat_plan.owner_chats
                )
                notes: list[str] = []
                try:
                    timings = run_import(b, notes) if setup is None else measure(setup(b), plan, notes)
                except Exception as exc:  # an API the benchmark needs is missing: say so, go on
                    raw.rollback()
                    print(f"\n== {key}: {title} == skipped: {type(exc).__name__}: {str(exc)[:200]}")
                    summary.append((title, None, goal))
                    continue
                raw.rollback()
                base = next(t for t in timings if t.label == BASE)
                unit, scale = ("ms", 1e6) if setup is None else ("µs", 1e3)
                print(f"\n== {key}: {title} [{unit} per call; goal managers <= {goal}] ==")
                print(f"{'contender':<12}{'median':>11}{'p90':>11}{'ratio':>9}{'client CPU':>13}")
                for t in timings:
                    print(
                        f"{t.label:<12}{t.median / scale:>11.1f}{t.p90 / scale:>11.1f}"
                        f"{t.median / base.median:>9.2f}{t.cpu_median / scale:>13.1f}"
                    )
                for note in notes:
                    print(f"  note: {note}")
                mine = next((t for t in timings if t.label == "managers"), None)
                summary.append((title, None if mine is None else mine.median / base.median, goal))
        finally:
            raw.close()
            db.dispose()
    print("\n== summary: ratio = median time / psycopg2's for the same statements (lower is better) ==")
    print("| operation | managers | goal | met |\n|---|---|---|---|")
    for title, ratio, goal in summary:
        shown = "-" if ratio is None else f"{ratio:.2f}"
        met = "-" if ratio is None else ("yes" if ratio <= goal else "no")
        print(f"| {title} | {shown} | <= {goal} | {met} |")
    print(f"total time {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
