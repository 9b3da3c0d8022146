"""An application's own models and migration chain, next to the package's, end to end."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

MODELS = """
import uuid
from typing import ClassVar

from sqlmodel import Field

from assistant_models import AssistantModel, Manager, SoftDeleteMixin


class Bookmark(SoftDeleteMixin, AssistantModel, table=True):
    __tablename__ = "myapp_bookmarks"
    __searchable__ = {"title": "A"}

    id: int | None = Field(default=None, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    url: str = Field(max_length=500, unique=True)

    objects: ClassVar[Manager["Bookmark"]] = Manager()
"""

ENV = """
from assistant_models.app_migrations import run_env

run_env("myapp", models=["myapp.models"])
"""

SCENARIO = """
import json, sys
import sqlalchemy as sa
from alembic import command
from assistant_models import ConflictError, Database
from assistant_models.app_migrations import _config, app_chains, make_revision, register_migrations

db = Database(sys.argv[1])
report = {}
db.migrate()  # the package alone: the application's chain is not registered yet
path = make_revision("myapp", "migrations", "bookmarks", database=db)
report["script"] = path.read_text()
register_migrations("myapp", "migrations")
db.migrate()
with db.engine.connect() as conn:
    report["tables"] = sorted(sa.inspect(conn).get_table_names())
    report["app_version"] = conn.execute(sa.text("SELECT version_num FROM alembic_version_myapp")).scalar()
    command.check(_config(app_chains()[0], conn))  # the application's models match its schema
from assistant_models.models import User
from myapp.models import Bookmark
with db.session():
    user = User.objects.create_user("app@example.com", "app_user", "a long enough password")
    first = Bookmark.objects.create(user_id=user.id, title="PostgreSQL vector search", url="https://x.test/1")
    Bookmark.objects.create(user_id=user.id, title="Gardening", url="https://x.test/2")
    report["found"] = [b.title for b in Bookmark.objects.search("vector")]
    first.delete()
    Bookmark.objects.create(user_id=user.id, title="again", url="https://x.test/1")  # unique among live rows
    try:
        with db.session():
            Bookmark.objects.create(user_id=user.id, title="twice", url="https://x.test/2")
    except ConflictError as exc:
        report["conflict"] = exc.field
db.downgrade("base")
with db.engine.connect() as conn:
    report["after_downgrade"] = sorted(sa.inspect(conn).get_table_names())
db.dispose()
print(json.dumps(report))
"""


def test_an_application_migrates_its_models_after_the_packages(tmp_path, scratch_url):
    app = tmp_path / "app"
    (app / "myapp").mkdir(parents=True)
    (app / "myapp" / "__init__.py").write_text("")
    (app / "myapp" / "models.py").write_text(textwrap.dedent(MODELS))
    (app / "migrations").mkdir()
    (app / "migrations" / "env.py").write_text(textwrap.dedent(ENV))
    env = {**os.environ, "PYTHONPATH": str(app)}
    env.pop("ASSISTANT_MODELS_MIGRATIONS", None)

    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, scratch_url],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    script = report["script"]
    assert "op.create_table('myapp_bookmarks'" in script
    assert "'users'" not in script.split("op.create_table('myapp_bookmarks'", 1)[0]  # only its own tables
    assert "sqlmodel" not in script  # strings are written as sa.String
    assert "postgresql_where=sa.text('deleted_at IS NULL')" in script  # unique among live rows
    assert {"myapp_bookmarks", "users", "alembic_version", "alembic_version_myapp"} <= set(report["tables"])
    assert report["app_version"]
    assert report["found"] == ["PostgreSQL vector search"]
    assert report["conflict"] == "url"
    assert not {"myapp_bookmarks", "users"} & set(report["after_downgrade"])
