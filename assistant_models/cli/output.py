"""What the command prints: text for people, JSON for programs, progress on a terminal."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

__all__ = ["Output"]


class Output:
    """Prints results to stdout and errors and progress to stderr.

    Progress lines appear only when stderr is a terminal and the output is not JSON, so
    pipes and logs get results alone.
    """

    def __init__(self, *, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def result(self, data: Any, text: str) -> None:
        """Print ``data`` as JSON, or ``text`` for people."""
        print(json.dumps(data, default=str, sort_keys=True) if self.as_json else text, file=self.out)

    def progress(self, text: str) -> None:
        """Show what is being done now, on a terminal only."""
        if not self.as_json and self.err.isatty():
            print(f"... {text}", file=self.err, flush=True)

    def fail(self, exc: BaseException) -> int:
        """Report ``exc`` and return the exit code of a failed command (2)."""
        message = f"{type(exc).__name__}: {exc}"
        if self.as_json:
            print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), file=self.out)
        print(f"assistant-models: {message}", file=self.err)
        return 2
