"""Tool runs: record, the lifecycle on the server's clock, tokens into the chat's total, statistics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conversation_rows import new_chat, new_message, tag
from sqlalchemy import text

from assistant_models.core.expressions import Now
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models import AuditLog, ChatSession, ToolExecution, ToolStatus
from assistant_models.models.chat import ToolStats
from assistant_models.models.work import ERROR_MAX

pytestmark = pytest.mark.integration

S = ToolStatus


def _run(chat=None, tool="search", **fields) -> ToolExecution:
    return ToolExecution.objects.record(chat or new_chat(), tool, {"q": "weather"}, **fields)


def _moved(run: ToolExecution, *moves: str, **kwargs) -> ToolExecution:
    for move in moves:
        if move == "complete":
            ToolExecution.objects.complete(run, {"ok": True}, **kwargs)
        elif move == "fail":
            ToolExecution.objects.fail(run, "boom")
        else:
            getattr(ToolExecution.objects, move)(run)
    return run


# ------------------------------------------------------------------ record


def test_a_recorded_run_is_pending_with_its_tool_input_and_message(db_session) -> None:
    chat = new_chat()
    call = new_message(chat, "", role="assistant")
    run = ToolExecution.objects.record(chat, "search", {"q": "weather"}, message=call, tool_type="function")
    stored = ToolExecution.objects.get(pk=run.id)
    assert (stored.session_id, stored.message_id, stored.tool_name, stored.tool_type) == (
        chat.id,
        call.id,
        "search",
        "function",
    )
    assert (stored.input, stored.output, stored.status) == ({"q": "weather"}, None, S.PENDING)
    assert stored.started_at is stored.completed_at is stored.duration_ms is None
    assert ToolExecution.objects.record(chat.id, "calc", {}, message=call.id).message_id == call.id


@pytest.mark.parametrize(
    ("args", "fields", "field"),
    [
        (("search", {}), {"message": "nope"}, "message"),
        (("", {}), {}, "tool_name"),
        (("t" * 256, {}), {}, "tool_name"),
        (("search", ["not", "an", "object"]), {}, "input"),
        (("search", {}), {"tool_type": "x" * 51}, "tool_type"),
        (("search", {}), {"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_record_input_is_a_validation_error_naming_the_field(db_session, args, fields, field) -> None:
    chat = new_chat()
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.record(chat, *args, **fields)
    assert field in caught.value.fields
    assert ToolExecution.all_objects.filter(session_id=chat.id).count() == 0


def test_a_run_cannot_name_a_message_of_another_chat(db_session) -> None:
    other = new_message(new_chat())
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.record(new_chat(), "search", {}, message=other)
    assert caught.value.fields == ["message"]


def test_a_run_cannot_name_a_deleted_message(db_session) -> None:
    chat = new_chat()
    gone = new_message(chat)
    gone.delete()
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.record(chat, "search", {}, message=gone.id)
    assert caught.value.fields == ["message_id"]


def test_a_run_cannot_be_recorded_in_a_deleted_chat(db_session) -> None:
    chat = new_chat()
    chat.delete()
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.record(chat, "search", {})
    assert caught.value.fields == ["session_id"]


def test_the_same_idempotency_key_in_a_chat_returns_the_first_run(db_session) -> None:
    chat = new_chat()
    first = _run(chat, idempotency_key="call_1")
    again = ToolExecution.objects.record(chat, "other", {"x": 1}, idempotency_key="call_1")
    assert again.id == first.id and again.tool_name == "search"
    assert _run(chat, idempotency_key="call_2").id != first.id
    assert _run(new_chat(), idempotency_key="call_1").id != first.id
    assert ToolExecution.objects.filter(session_id=chat.id).count() == 2


# ------------------------------------------------------------------ lifecycle


def test_a_run_starts_and_completes_with_its_output_and_duration_on_the_server_clock(db_session) -> None:
    run = _moved(_run(), "start")
    assert (run.status, run.completed_at) == (S.RUNNING, None)
    db_session.execute(text("SELECT pg_sleep(0.05)"))
    ToolExecution.objects.complete(run, {"answer": 42})
    stored = ToolExecution.objects.get(pk=run.id)
    assert (stored.status, stored.output, stored.error) == (S.COMPLETED, {"answer": 42}, None)
    assert stored.started_at < stored.completed_at
    assert stored.duration_ms == (stored.completed_at - stored.started_at) // timedelta(milliseconds=1)
    assert stored.duration_ms >= 50


def test_a_running_or_pending_run_fails_with_a_storable_error(db_session) -> None:
    running = _moved(_run(), "start")
    ToolExecution.objects.fail(running, "bad\x00 " + "x" * (ERROR_MAX + 10))
    stored = ToolExecution.objects.get(pk=running.id)
    assert stored.status == S.FAILED and stored.duration_ms is not None
    assert "\x00" not in stored.error and len(stored.error) == ERROR_MAX
    pending = _run()
    ToolExecution.objects.fail(pending, ValueError("unknown tool"))
    stored = ToolExecution.objects.get(pk=pending.id)
    assert (stored.status, stored.error, stored.duration_ms) == (S.FAILED, "unknown tool", None)


def test_a_pending_or_running_run_can_be_cancelled(db_session) -> None:
    assert _moved(_run(), "cancel").status == S.CANCELLED
    running = _moved(_run(), "start", "cancel")
    assert running.status == S.CANCELLED and running.duration_ms is not None


@pytest.mark.parametrize(
    ("history", "move"),
    [
        ((), "complete"),
        (("start",), "start"),
        (("start", "complete"), "start"),
        (("start", "complete"), "complete"),
        (("start", "complete"), "fail"),
        (("start", "complete"), "cancel"),
        (("start", "fail"), "complete"),
        (("cancel",), "start"),
        (("cancel",), "fail"),
    ],
)
def test_an_illegal_move_is_an_invalid_transition_and_changes_nothing(db_session, history, move) -> None:
    run = _moved(_run(), *history)
    status = ToolExecution.objects.get(pk=run.id).status
    with pytest.raises(InvalidTransition):
        _moved(run, move)
    assert run.status == status == ToolExecution.objects.get(pk=run.id).status


# ------------------------------------------------------------------ tokens


def test_completing_adds_its_tokens_to_the_chats_total_without_a_version_or_audit_row(
    db_session, record_sql
) -> None:
    chat = new_chat()
    ChatSession.objects.filter(pk=chat.id).update(total_tokens=100)
    version = ChatSession.objects.get(pk=chat.id).version
    run = _moved(_run(chat), "start")
    with record_sql() as sent:
        ToolExecution.objects.complete(run, {"ok": True}, tokens_used=25)
    assert ToolExecution.objects.get(pk=run.id).tokens_used == 25
    assert chat.total_tokens == 125  # the instance held reloads the total
    assert ChatSession.objects.get(pk=chat.id).version == version
    assert [log.action.value for log in AuditLog.objects.for_object(chat)] == ["create"]
    assert len([s for s in sent if s.lstrip().upper().startswith("UPDATE CHAT_SESSIONS")]) == 1


def test_completing_without_tokens_leaves_the_chats_total_alone(db_session, record_sql) -> None:
    chat = new_chat()
    run = _moved(_run(chat), "start")
    with record_sql() as sent:
        ToolExecution.objects.complete(run, {"ok": True})
    assert not [s for s in sent if "chat_sessions" in s.lower() and s.lstrip().upper().startswith("UPDATE")]
    assert ChatSession.objects.get(pk=chat.id).total_tokens == 0


@pytest.mark.parametrize(
    ("output", "tokens", "field"),
    [({}, -1, "tokens_used"), ({}, True, "tokens_used"), ({}, "many", "tokens_used"), ("text", 1, "output")],
)
def test_a_bad_completion_is_a_validation_error_and_the_run_stays_running(
    db_session, output, tokens, field
) -> None:
    chat = new_chat()
    run = _moved(_run(chat), "start")
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.complete(run, output, tokens_used=tokens)
    assert caught.value.fields == [field]
    assert run.status == S.RUNNING == ToolExecution.objects.get(pk=run.id).status
    assert ChatSession.objects.get(pk=chat.id).total_tokens == 0


# ------------------------------------------------------------------ stats


def _finished(chat, tool: str, status: str, duration: int, tokens: int = 0) -> ToolExecution:
    run = _run(chat, tool)
    ToolExecution.objects.filter(pk=run.id).update(status=status, duration_ms=duration, tokens_used=tokens)
    return run


def test_stats_give_each_tools_calls_outcomes_durations_and_tokens_in_one_query(
    db_session, record_sql
) -> None:
    chat = new_chat()
    search, calc = f"search_{tag()}", f"calc_{tag()}"
    for duration in (100, 200, 300, 400):
        _finished(chat, search, "completed", duration, tokens=10)
    _finished(chat, search, "failed", 1000, tokens=5)
    _finished(chat, search, "cancelled", 9999)
    _run(chat, search)  # pending: a call, not finished
    _finished(chat, calc, "failed", 50)
    old = _finished(chat, calc, "completed", 10)
    ToolExecution.objects.filter(pk=old.id).update(created_at=Now() - timedelta(days=8))
    gone = new_chat()
    _finished(gone, calc, "completed", 10)
    gone.delete()
    with record_sql() as sent:
        stats = ToolExecution.objects.filter(session_id__in=[chat.id, gone.id]).stats()
    assert len(sent) == 1
    assert list(stats) == [search, calc]  # the busiest tool first
    assert stats[search] == ToolStats(
        tool_name=search,
        calls=7,
        completed=4,
        failed=1,
        success_rate=0.8,
        mean_duration_ms=400.0,
        p95_duration_ms=pytest.approx(880.0),
        tokens=45,
    )
    assert (stats[calc].calls, stats[calc].success_rate, stats[calc].tokens) == (1, 0.0, 0)


def test_stats_of_a_window_without_finished_runs_have_no_rate_nor_durations(db_session) -> None:
    chat = new_chat()
    _run(chat, "slow")
    (only,) = ToolExecution.objects.filter(session_id=chat.id).stats(since=timedelta(hours=1)).values()
    assert (only.calls, only.success_rate, only.mean_duration_ms, only.p95_duration_ms) == (
        1,
        None,
        None,
        None,
    )
    assert ToolExecution.objects.filter(session_id=new_chat().id).stats() == {}


@pytest.mark.parametrize("since", [timedelta(0), timedelta(days=-1), 7, None])
def test_stats_need_a_positive_window(db_session, since) -> None:
    with pytest.raises(ValidationError) as caught:
        ToolExecution.objects.stats(since=since)
    assert caught.value.fields == ["since"]


# ------------------------------------------------------------------ async


def test_the_async_twins_record_start_and_complete(adb_session, arun) -> None:
    from assistant_models.models import User

    name = tag()

    async def main() -> tuple[ToolExecution, ChatSession]:
        user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", "correct horse battery")
        chat = await ChatSession.objects.astart(user)
        run = await ToolExecution.objects.arecord(chat, "search", {"q": "x"})
        await ToolExecution.objects.astart(run)
        await ToolExecution.objects.acomplete(run, {"ok": True}, tokens_used=7)
        return run, await ChatSession.objects.aget(pk=chat.id)

    run, chat = arun(main())
    assert (run.status, chat.total_tokens) == (S.COMPLETED, 7)
