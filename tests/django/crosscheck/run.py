"""Run the Django ports against Django itself, to check their expected results.

The ports claim Django's results for Django's queries. This runs the same test files
with the real Django ORM on PostgreSQL: ``shim/`` stands in for ``assistant_models``,
``port_base`` and the ``models_*`` modules, ``apps/`` holds Django models equivalent to
the ports' (with Django's own ``Meta.ordering``). The xfail markers are stripped and the
many-to-many set-up of the fixtures is rewritten to Django's ``.add()``/``.set()``.

Usage (Django and psycopg2 live in a virtualenv of their own, never in the project's)::

    python -m venv /tmp/djv && /tmp/djv/bin/pip install django psycopg2-binary pytest sqlalchemy
    /tmp/djv/bin/python tests/django/crosscheck/run.py --host /path/to/socket/dir [--user postgres]

Expected differences (not wrong expectations): ``delete()`` counts keyed
``app.Model`` instead of ``Model``; tests that use the package's ``db_session``
fixture or iterate a relation as a list error out; Django raises
``FieldDoesNotExist``/``TypeError`` where the package raises ``FieldError``/``ValidationError``.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
PORTS = HERE.parent
sys.path.insert(0, str(PORTS))
from tally import MODULES  # noqa: E402 - one list of the ported modules, kept by tally.py

#: Port fixture lines (list-style relationship writes) -> Django's related managers.
M2M_REWRITES: dict[str, list[tuple[str, str]]] = {
    "queries": [
        ("    i1.tags.extend([t1, t2])\n", ""),
        ("    i2.tags.extend([t1, t3])\n", ""),
        ("    i4.tags.append(t4)\n", ""),
        (
            "    save(i1, i2, i3, i4)\n",
            "    save(i1, i2, i3, i4)\n"
            "    i1.tags.set([t1, t2])\n    i2.tags.set([t1, t3])\n    i4.tags.set([t4])\n",
        ),
    ],
    "lookup": [
        ("    t1.articles.extend([a1, a2, a3])\n", ""),
        ("    t2.articles.extend([a3, a4, a5])\n", ""),
        ("    t3.articles.extend([a5, a6, a7])\n", ""),
        (
            "    save(t1, t2, t3)\n",
            "    save(t1, t2, t3)\n    t1.articles.set([a1, a2, a3])\n"
            "    t2.articles.set([a3, a4, a5])\n    t3.articles.set([a5, a6, a7])\n",
        ),
        ("    p1.games.extend([g[0], g[1], g[4]])\n", ""),
        ("    p2.games.extend([g[2], g[3], g[5]])\n", ""),
        (
            "    save(p1, p2)\n",
            "    save(p1, p2)\n    p1.games.set([g[0], g[1], g[4]])\n    p2.games.set([g[2], g[3], g[5]])\n",
        ),
    ],
    "aggregation": [
        (".friends.extend(", ".friends.add(*"),
        (".friends.append(", ".friends.add("),
        ("    save(a1)\n", ""),
        ("    b1.authors.extend([a1, a2])\n", ""),
        ("    b2.authors.append(a3)\n", ""),
        ("    b3.authors.append(a4)\n", ""),
        ("    b4.authors.extend([a5, a6, a7])\n", ""),
        ("    b5.authors.extend([a8, a9])\n", ""),
        ("    b6.authors.append(a8)\n", ""),
        (
            "    save(b1, b2, b3, b4, b5, b6)\n",
            "    save(b1, b2, b3, b4, b5, b6)\n    b1.authors.add(a1, a2)\n    b2.authors.add(a3)\n"
            "    b3.authors.add(a4)\n    b4.authors.add(a5, a6, a7)\n    b5.authors.add(a8, a9)\n"
            "    b6.authors.add(a8)\n",
        ),
        ("    s1.books.extend([b1, b2, b3, b4, b5, b6])\n", ""),
        ("    s2.books.extend([b1, b3, b5, b6])\n", ""),
        ("    s3.books.extend([b3, b4, b6])\n", ""),
        (
            "    save(s1, s2, s3)\n",
            "    save(s1, s2, s3)\n    s1.books.add(b1, b2, b3, b4, b5, b6)\n"
            "    s2.books.add(b1, b3, b5, b6)\n    s3.books.add(b3, b4, b6)\n",
        ),
        ("    d.b1.authors.append(d.a8)\n    save(d.b1)\n", "    d.b1.authors.add(d.a8)\n"),
    ],
}

SETTINGS = """\
SECRET_KEY = "crosscheck"
INSTALLED_APPS = ["qq", "lk", "ag", "ex", "od", "sm"]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": {db!r}, "USER": {user!r},
             "HOST": {host!r}}}}}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

CONFTEST = '''\
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "shim"))
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
import django  # noqa: E402

django.setup()
import pytest  # noqa: E402
from django.apps import apps  # noqa: E402
from django.db import connection, transaction  # noqa: E402


@pytest.fixture
def save():
    """Create every table and write rows inside one transaction, rolled back afterwards."""
    with transaction.atomic():
        with connection.schema_editor() as editor:
            for model in apps.get_models():
                editor.create_model(model)

        def write(*objs):
            for obj in objs:
                obj.save()
            return objs[0] if len(objs) == 1 else objs

        yield write
        transaction.set_rollback(True)


class _Database:
    def session(self):
        return transaction.atomic()


@pytest.fixture
def database():
    return _Database()
'''


def port_source(module: str) -> str:
    """Return a port's test file made runnable on Django."""
    source = (PORTS / f"test_{module}.py").read_text()
    source = re.sub(r"@pytest\.mark\.xfail\(.*\)\n", "", source)
    source = re.sub(r"from models_\w+ import \w+ as AppBase\n", "", source)
    source = re.sub(r"#: The app whose.*\nport_app = AppBase\n", "", source)
    for old, new in M2M_REWRITES.get(module, []):
        if old not in source:
            raise SystemExit(f"test_{module}.py changed: rewrite rule not found: {old!r}")
        source = source.replace(old, new)
    return source


def create_database(python: str, host: str, user: str, db: str) -> None:
    """Create the scratch database if it does not exist."""
    script = (
        "import psycopg2\n"
        f"c = psycopg2.connect(host={host!r}, user={user!r}, dbname='postgres')\n"
        "c.autocommit = True\n"
        "cur = c.cursor()\n"
        f"cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', ({db!r},))\n"
        f"cur.fetchone() or cur.execute('CREATE DATABASE \"{db}\"')\n"
    )
    subprocess.run([python, "-c", script], check=True)


def main() -> int:
    """Build the Django project in a temporary folder and run the ports there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="PostgreSQL host or socket directory")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--db", default="django_ports_crosscheck")
    parser.add_argument("--python", default=sys.executable, help="the Python that has Django")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (-k, -x, ...)")
    args = parser.parse_args()
    create_database(args.python, args.host, args.user, args.db)
    with tempfile.TemporaryDirectory(prefix="django-ports-") as tmp:
        root = Path(tmp)
        shutil.copytree(HERE / "apps", root, dirs_exist_ok=True)
        shutil.copytree(HERE / "shim", root / "shim")
        (root / "settings.py").write_text(SETTINGS.format(db=args.db, user=args.user, host=args.host))
        (root / "conftest.py").write_text(CONFTEST)
        for module in MODULES:
            (root / f"test_{module}.py").write_text(port_source(module))
        command = [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *args.pytest_args]
        return subprocess.run(command, cwd=root).returncode


if __name__ == "__main__":
    raise SystemExit(main())
