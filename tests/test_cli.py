"""The assistant-models command: schema, health, stats and purge, on a scratch database."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from assistant_models import Database, _migrations
from assistant_models.cli import main
from assistant_models.models import AuthSession, ChatSession, Confirmation, User

pytestmark = pytest.mark.integration


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def as_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out = run(capsys, *argv, "--json")
    return code, json.loads(out)


@pytest.fixture
def url(scratch_url):
    return scratch_url


def test_migrate_current_check_and_downgrade(capsys, url):
    assert as_json(capsys, "current", "--database-url", url) == (0, {"revision": None})
    code, report = as_json(capsys, "check", "--database-url", url)
    assert code == 1 and "0001" in report["pending"] and report["drift"] == []

    code, reached = as_json(capsys, "--database-url", url, "migrate")  # options before the command too
    assert code == 0
    assert as_json(capsys, "current", "--database-url", url) == (0, reached)
    assert as_json(capsys, "check", "--database-url", url) == (0, {"ok": True, "pending": [], "drift": []})
    assert run(capsys, "check", "--database-url", url) == (0, "up to date\n")

    db = Database(url)
    try:
        with db.engine.begin() as conn:  # the schema drifts from the models
            conn.exec_driver_sql("ALTER TABLE tasks ADD COLUMN stray integer")
        code, report = as_json(capsys, "check", "--database-url", url)
        assert code == 1 and any("stray" in line for line in report["drift"])
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE tasks DROP COLUMN stray")
    finally:
        db.dispose()

    assert as_json(capsys, "downgrade", "base", "--database-url", url) == (0, {"revision": None})
    code, text = run(capsys, "downgrade", "base", "--database-url", url)
    assert (code, text) == (0, "at base (no tables)\n")


def test_health_exits_0_when_healthy_and_1_when_not(capsys, url):
    code, report = as_json(capsys, "health", "--database-url", url)
    assert code == 0 and report["ok"] is True and report["server_version"]
    code, report = as_json(capsys, "health", "--database-url", "postgresql://nobody:hunter2@127.0.0.1:1/none")
    assert code == 1 and report["ok"] is False
    assert "hunter2" not in json.dumps(report)


def test_stats_lists_each_table_with_rows_and_sizes(capsys, url, database):
    main(["migrate", "--database-url", url])
    capsys.readouterr()
    db = Database(url)
    try:
        with db.session():
            User.objects.create_user("stats@example.com", "stats_user", "a long enough password")
    finally:
        db.dispose()
    code, report = as_json(capsys, "stats", "--exact", "--database-url", url)
    assert code == 0
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["users"]["rows"] == 1 and tables["users"]["exact"] is True
    assert tables["tasks"]["rows"] == 0
    assert all(t["total_bytes"] >= t["table_bytes"] >= 0 for t in tables.values())
    assert tables["users"]["table_bytes"] > 0 and tables["users"]["index_bytes"] > 0
    code, text = run(capsys, "stats", "--database-url", url)
    assert code == 0 and text.splitlines()[0].split() == ["table", "rows", "data", "indexes", "total"]


def test_purge_runs_each_retention_sweep(capsys, url):
    main(["migrate", "--database-url", url])
    capsys.readouterr()
    db = Database(url)
    try:
        with db.session() as session:
            user = User.objects.create_user("purge@example.com", "purge_user", "a long enough password")
            AuthSession.objects.start(user, ttl=timedelta(seconds=1))
            AuthSession.objects.start(user)  # still live: kept
            chat = ChatSession.objects.start(user, title="old")
            kept = ChatSession.objects.start(user, title="recent")
            Confirmation.objects.request(chat, user, "book", {}, ttl=timedelta(seconds=1))
            session.execute(
                sa.text(
                    "UPDATE auth_sessions SET expires_at = now() - interval '1 day' "
                    "WHERE expires_at < now() + interval '1 minute'"
                )
            )
            session.execute(sa.text("UPDATE confirmations SET expires_at = now() - interval '1 hour'"))
            ChatSession.objects.archive(chat)
            ChatSession.objects.archive(kept)
            session.execute(sa.text("ALTER TABLE chat_sessions DISABLE TRIGGER USER"))
            session.execute(
                sa.text("UPDATE chat_sessions SET updated_at = now() - interval '200 days' WHERE id = :id"),
                {"id": chat.id},
            )
            session.execute(sa.text("ALTER TABLE chat_sessions ENABLE TRIGGER USER"))
        code, report = as_json(capsys, "purge", "--database-url", url)
        assert code == 0
        purged = report["purged"]
        assert purged["expired-logins"] == 1
        assert purged["stale-confirmations"] == 1
        assert purged["archived-chats"] == 1
        with db.engine.connect() as conn:
            has_vector = "vector" in _migrations.installed_extensions(conn)
            live_chats = conn.execute(
                sa.text("SELECT title FROM chat_sessions WHERE deleted_at IS NULL")
            ).scalars()
            assert list(live_chats) == ["recent"]
            assert conn.execute(sa.text("SELECT count(*) FROM auth_sessions")).scalar_one() == 1
        assert purged["faded-memories"] == (0 if has_vector else None)
        assert (
            as_json(capsys, "purge", "--database-url", url)[1]["purged"]["expired-logins"] == 0
        )  # again: nothing
    finally:
        db.dispose()


def test_bad_usage_and_database_errors_exit_2(capsys, url):
    with pytest.raises(SystemExit) as exc:
        main(["downgrade"])  # the revision is required: no accidental "base"
    assert exc.value.code == 2
    code = main(["migrate", "no-such-revision", "--database-url", url])
    err = capsys.readouterr().err
    assert code == 2 and "DatabaseError" in err and "no-such-revision" in err


def test_the_console_script_and_python_m_run_the_command(url):
    env = {**os.environ, "DATABASE_URL": url}
    script = os.path.join(os.path.dirname(sys.executable), "assistant-models")
    for argv in ([script, "current"], [sys.executable, "-m", "assistant_models", "current", "--json"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() in ("none", '{"revision": null}')


class _Terminal:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_shows_on_a_terminal_only():
    from assistant_models.cli.output import Output

    terminal, pipe, out = _Terminal(True), _Terminal(False), _Terminal(False)
    Output(as_json=False, out=out, err=terminal).progress("sweeping")
    Output(as_json=False, out=out, err=pipe).progress("sweeping")
    Output(as_json=True, out=out, err=terminal).progress("sweeping")
    assert terminal.text == "... sweeping\n"
    assert pipe.text == "" and out.text == ""
