"""The example application under ``uvicorn --workers 2``: cursors made by one worker work in the other."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from assistant_models import Database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_twenty_second_pages_all_succeed_across_two_worker_processes(scratch_url):
    db = Database(scratch_url)
    db.migrate()
    db.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": scratch_url, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "examples.fastapi_app:create_app",
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/stats", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not start")
        tag = uuid.uuid4().hex[:8]
        form = {"email": f"w-{tag}@example.com", "username": f"w_{tag}", "password": "correct horse"}
        assert httpx.post(f"{base}/signup", json=form).status_code == 201
        token = httpx.post(
            f"{base}/login", json={"login": form["email"], "password": form["password"]}
        ).json()
        me = {"Authorization": f"Bearer {token['token']}"}
        for n in range(4):
            assert httpx.post(f"{base}/tasks", json={"title": f"t{n}"}, headers=me).status_code == 201
        statuses = []
        for _ in range(20):  # a new connection each time: the two workers take turns
            first = httpx.get(f"{base}/tasks", params={"first": 2}, headers=me).json()
            second = httpx.get(
                f"{base}/tasks", params={"first": 2, "after": first["next_cursor"]}, headers=me
            )
            statuses.append(second.status_code)
        assert statuses == [200] * 20
    finally:
        server.terminate()
        server.wait(timeout=30)
