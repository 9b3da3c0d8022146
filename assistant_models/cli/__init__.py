"""The ``assistant-models`` command (also ``python -m assistant_models``).

Commands: ``migrate``, ``downgrade``, ``current``, ``check``, ``health``, ``stats`` and
``purge``. Every command takes ``--database-url`` (else ``DATABASE_URL``, else the
embedded server, as ``Database()`` does) and ``--json`` for machine-readable output.
Exit codes: 0 done (or healthy, or in step), 1 not (unhealthy, pending migrations,
drift), 2 a usage or database error, with the message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta

from assistant_models.cli import operations, schema
from assistant_models.cli.output import Output
from assistant_models.database import Database
from assistant_models.exceptions import AssistantModelsError

__all__ = ["main"]

Command = Callable[[Database, argparse.Namespace, Output], int]


def _parser() -> argparse.ArgumentParser:
    def options(default_url: object, default_json: object) -> argparse.ArgumentParser:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--database-url",
            default=default_url,
            help="the database (default: DATABASE_URL, else the embedded server)",
        )
        common.add_argument(
            "--json", action="store_true", default=default_json, help="print JSON instead of text"
        )
        return common

    # the options work before and after the command; a command's own copy keeps the earlier value
    common = options(argparse.SUPPRESS, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="assistant-models",
        description="Operate an assistant_models database.",
        parents=[options(None, False)],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_, parents=[common])
        sub.set_defaults(run=run)
        return sub

    migrate = add("migrate", schema.migrate, "upgrade the schema (every branch the server can take)")
    migrate.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    downgrade = add("downgrade", schema.downgrade, "downgrade the schema to a revision")
    downgrade.add_argument("revision", help="target revision ('base' removes every table)")
    add("current", schema.current, "print the revision the database is at")
    add("check", schema.check, "exit 1 if migrations are pending or the schema differs from the models")
    add("health", operations.health, "check the server; exit 1 if it is not healthy (for probes)")
    stats = add("stats", operations.stats, "row counts and sizes of the package's tables")
    stats.add_argument(
        "--exact", action="store_true", help="count rows exactly (slower) instead of estimating"
    )
    purge = add("purge", operations.purge, "run the retention sweeps, each in its own transaction")
    purge.add_argument("--chats-older-than", type=_days, default=timedelta(days=90), metavar="DAYS")
    purge.add_argument("--memory-below", type=float, default=0.05, metavar="IMPORTANCE")
    purge.add_argument("--memory-unused-for", type=_days, default=timedelta(days=30), metavar="DAYS")
    return parser


def _days(text: str) -> timedelta:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if days < 0 or days != days:
        raise argparse.ArgumentTypeError("days must be zero or more")
    return timedelta(days=days)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = _parser().parse_args(argv)
    out = Output(as_json=args.json)
    try:
        db = Database(args.database_url)
    except AssistantModelsError as exc:
        return out.fail(exc)
    try:
        code: int = args.run(db, args, out)
        return code
    except AssistantModelsError as exc:
        return out.fail(exc)
    finally:
        db.dispose()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
