"""The README's tour runs as written, on a database of its own."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_opens_with_the_two_commands():
    first_block = README.read_text().split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("python examples/quickstart.py")
    assert commands[1].endswith("pytest")


def test_readme_tour_runs_every_line_and_runs_again(scratch_url):
    tour = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    env = dict(os.environ, DATABASE_URL=scratch_url)
    env["PYTHONPATH"] = os.pathsep.join([str(README.parent), env.get("PYTHONPATH", "")])
    outputs = []
    for _ in range(2):  # the tour is re-runnable: a second run on the same database works too
        result = subprocess.run(
            [sys.executable, "-c", tour], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0].startswith("ada: 1 tasks, by status [{'status': <TaskStatus.COMPLETED")
    assert outputs[1].startswith("ada: 2 tasks, by status [{'status': <TaskStatus.COMPLETED")


def test_ci_runs_exactly_the_readmes_test_command():
    first_block = README.read_text().split("```bash", 1)[1].split("```", 1)[0]
    test_command = [line for line in first_block.splitlines() if line and not line.startswith("#")][1]
    ci_lines = (README.parent / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines
