"""The embedded server stops with its last live process, even after workers were killed."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant_models import _embedded

pytestmark = pytest.mark.integration

START = textwrap.dedent(
    """
    import os, signal, sys
    from assistant_models import Database
    db = Database(data_dir=sys.argv[1])
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    db.dispose()
    print(os.getpid(), flush=True)
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)  # a worker killed: atexit never runs
    """
)


def start(pgdata: Path, how: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POSTGRES_URL")}
    return subprocess.run(
        [sys.executable, "-c", START, str(pgdata), how], env=env, capture_output=True, text=True, timeout=120
    )


def running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def test_a_killed_workers_handle_is_forgotten_and_the_last_process_stops_the_server(tmp_path):
    pgdata = tmp_path / "pgdata"
    killed = start(pgdata, "killed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dead_pid = int(killed.stdout.split()[0])
    assert json.loads((pgdata / _embedded.HANDLES_FILE).read_text()) == [dead_pid]
    assert running(pgdata)  # the killed worker left it running, and listed

    last = start(pgdata, "exits")
    assert last.returncode == 0, last.stderr

    for _ in range(50):  # pg_ctl stop waits; give the postmaster a moment to remove its pid file
        if not running(pgdata):
            break
        time.sleep(0.1)
    assert not running(pgdata)
    assert json.loads((pgdata / _embedded.HANDLES_FILE).read_text()) == []
