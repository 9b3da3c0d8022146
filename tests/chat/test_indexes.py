"""The conversation queries are served by their indexes at 100,000 messages, not by sequential scans.

One test seeds 100,000 messages, tool runs and confirmations in 2,000 chats with COPY inside its rolled-back
transaction, runs ANALYZE, then reads the plans PostgreSQL chooses for the managers'
own statements.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest

from assistant_models.models import ChatSession, Confirmation, Message, ToolExecution, User

CHATS, PER_CHAT, OWNED = 2_000, 50, 200
RARE = "quokka"
SINCE = datetime(2029, 6, 1, tzinfo=UTC)


@pytest.fixture
def busy(db_session):
    owner = User.objects.create_user(
        f"{uuid.uuid4().hex[:8]}@example.com", f"idx_{uuid.uuid4().hex[:8]}", "a long password"
    )
    other = User.objects.create_user(
        f"{uuid.uuid4().hex[:8]}@example.com", f"idx_{uuid.uuid4().hex[:8]}", "a long password"
    )
    db_session.flush()
    chats = [uuid.uuid4() for _ in range(CHATS)]
    owners = [owner.id if i < OWNED else other.id for i in range(CHATS)]
    cursor = db_session.connection().connection.driver_connection.cursor()
    cursor.execute("SET LOCAL statement_timeout = 0")  # a bulk load on a busy machine may take a while
    chat_rows = "".join(
        f"{c}\t{u}\tchat {i}\tactive\t{{}}\t{{}}\t{{}}\t2026-01-01T00:{i % 60:02d}:00+00\n"
        for i, (c, u) in enumerate(zip(chats, owners, strict=True))
    )
    cursor.copy_expert(
        "COPY chat_sessions (id, user_id, title, status, provider_config, context, settings, "
        "last_message_at) FROM STDIN",
        io.StringIO(chat_rows),
    )
    lines = []
    for n in range(CHATS * PER_CHAT):
        word = RARE if n % 25_000 == 7 else f"word{n % 997}"
        at = f"2026-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+00"
        lines.append(f"{uuid.uuid4()}\t{chats[n % CHATS]}\tuser\tsome text {word} here\ttext\t{{}}\t{at}\n")
    cursor.copy_expert(
        "COPY messages (id, session_id, role, content, content_type, meta, created_at) FROM STDIN",
        io.StringIO("".join(lines)),
    )
    # tool runs and confirmations: 100,000 each, mostly finished or resolved, as over time
    tools = "".join(
        f"{uuid.uuid4()}\t{chats[n % CHATS]}\ttool{n % 40}\t{{}}\t{'completed' if n % 50 else 'running'}\n"
        for n in range(CHATS * PER_CHAT)
    )
    cursor.copy_expert(
        "COPY tool_executions (id, session_id, tool_name, input, status) FROM STDIN", io.StringIO(tools)
    )
    asks = "".join(
        f"{uuid.uuid4()}\t{chats[n % CHATS]}\t{owners[n % CHATS]}\tconfirm\t{{}}\t"
        f"{'approved' if n % 100 else 'pending'}\t2030-01-01T00:00:00+00\n"
        for n in range(CHATS * PER_CHAT)
    )
    cursor.copy_expert(
        "COPY confirmations (id, session_id, user_id, kind, data, status, expires_at) FROM STDIN",
        io.StringIO(asks),
    )
    cursor.execute("ANALYZE chat_sessions, messages, tool_executions, confirmations")
    return {"owner": owner, "chat": chats[123]}


def test_the_conversation_queries_use_their_indexes_at_100k_messages(busy):
    chat, owner = busy["chat"], busy["owner"]
    plans = {
        "latest messages": Message.objects.filter(session_id=chat).order_by("-created_at", "-id")[:50],
        "history": Message.objects.filter(session_id=chat)
        .exclude(role="system")
        .order_by("-created_at", "-id")[:50],
        "search": Message.objects.search(RARE)[:20],
        "chat list": ChatSession.objects.for_user(owner)[:20],
        "tool runs of a chat": ToolExecution.objects.filter(session_id=chat).order_by("created_at"),
        "pending confirmations": Confirmation.objects.pending_for(ChatSession.objects.get(pk=chat)),
        "replies": Message.objects.filter(parent_id=uuid.uuid4()),
        "idempotent post": Message.objects.filter(session_id=chat, idempotency_key="client-7"),
        "runs of one tool": ToolExecution.objects.filter(tool_name="tool3", created_at__gte=SINCE),
        "stale confirmations": Confirmation.objects.filter(status="pending", expires_at__lt=SINCE),
    }
    expected = {
        "latest messages": "ix_messages__session_recent",
        "history": "ix_messages__session_recent",
        "search": "ix_messages__search",
        "chat list": "ix_chat_sessions__user_list",
        "tool runs of a chat": "ix_tool_executions__session",
        "pending confirmations": "ix_confirmations__pending",
        "replies": "ix_messages__parent_id",
        "idempotent post": "uq_messages__idempotency_key",
        "runs of one tool": "ix_tool_executions__tool_recent",
        "stale confirmations": "ix_confirmations__stale",
    }
    for name, qs in plans.items():
        plan = qs.explain()
        assert expected[name] in plan, f"{name}:\n{plan}"
        for table in ("messages", "tool_executions", "confirmations"):
            assert f"Seq Scan on {table}" not in plan, f"{name}:\n{plan}"
    # the chats themselves (2,000 rows here) may be hashed for a message query's live-chat
    # check; the user's list reads them by its index
    assert "Seq Scan on chat_sessions" not in plans["chat list"].explain()
    assert "Sort" not in plans["chat list"].explain(), "the list's order is the index's"
    assert len(Message.objects.history(chat, limit=50)) == PER_CHAT
    assert len(list(Message.objects.search(RARE)[:20])) == 4
    assert len(ChatSession.objects.summaries(owner, limit=20)) == 20
