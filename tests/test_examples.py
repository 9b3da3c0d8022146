"""Every example in examples/ runs, start to finish, against the test server."""

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True, timeout=120
    )


def test_every_example_has_a_test():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "async_tour.py",
        "chat.py",
        "fastapi_app.py",
        "memory.py",
        "quickstart.py",
    ]


def test_async_tour_awaits_the_same_managers(scratch_url):
    done = run_example("async_tour.py", scratch_url)
    assert done.returncode == 0, done.stderr
    for expected in (
        "claimed 'triage' (priority 9)",
        "by status: {'completed': 1, 'pending': 2}",
        "RelationNotLoadedError: names select_related",
        "Done.",
    ):
        assert expected in done.stdout, f"missing {expected!r} in:\n{done.stdout}"


def test_quickstart_tours_the_slice_and_can_run_again(scratch_url):
    first, second = run_example("quickstart.py", scratch_url), run_example("quickstart.py", scratch_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    out = second.stdout
    for expected in (
        "schema at revision",
        "'password_hash' in repr(user): False",
        "authenticate(username, wrong password) -> None",
        "ConflictError on 'email'",
        "ValidationError on ['password', 'email', 'username']",
        "find_by_token(token) finds it: True",
        "after revoke, verify -> None",
        "failed once -> pending, retry 1",
        "InvalidTransition",
        "objects sees 2, all_objects sees 3",
        "page 2 of 3",
        "status pending -> running",
        "Done.",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert "hunter" not in out and "$2b$" not in out


def test_chat_tours_the_conversation_models_and_can_run_again(scratch_url):
    first, second = run_example("chat.py", scratch_url), run_example("chat.py", scratch_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    out = second.stdout
    for expected in (
        "modules triggered by 'Will it rain in Lisbon?': ['weather-",
        "returns the first message: True",
        "6 messages, 84 tokens",
        "pending for the chat: ['book_hotel']",
        "InvalidTransition",
        "state of the summary module: {'mood': 'relaxed'}",
        "6 messages in all; within 100 tokens: 2 ['system', 'user']",
        '"tool_call_id": "call_weather_1"',
        "messages about 'umbrella': ['Sunny, around 24 °C: no umbrella needed.']",
        "Lisbon weekend: last user said 'Great, thanks!'",
        "active chats after archiving: []",
        "success_rate=1.0",
        "Done.",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"


def test_fastapi_app_signs_up_logs_in_and_pages_tasks_and_can_run_again(scratch_url):
    first, second = run_example("fastapi_app.py", scratch_url), run_example("fastapi_app.py", scratch_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    out = second.stdout
    for expected in (
        "signup: 201 ['avatar_url', 'created_at', 'deleted_at', 'email'",
        "same email again: 409",
        "bad email: 422 [['email']]",
        "wrong password: 401",
        "pages of 2: [['task 4', 'task 3'], ['task 2', 'task 1'], ['task 0']]",
        "a task that is not there: 404",
        "without a token: 401",
        "stats (async endpoint): ['tasks', 'users']",
        "Done.",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert "password_hash" not in out


def test_memory_tours_remember_recall_search_and_forgetting_and_can_run_again(scratch_url, pgvector):
    first, second = run_example("memory.py", scratch_url), run_example("memory.py", scratch_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    out = second.stdout
    for expected in (
        "6 memories in two chats",
        "0.778  The user drinks green tea every morning.  (recalled 1 time)",
        "by relevance alone, 'rain' -> 'The user cycles to work, even in the rain.'",
        "hybrid 'peanuts' / 'food allergy' -> 'The user is allergic to peanuts.'",
        "re-embedded 6 memories; a second run finds 0 left to do",
        "decayed 2 memories of the old chat",
        "all now below 0.001: True",
        "forgot 2 faded memories (soft-deleted)",
        "4 memories left",
        "Done.",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
