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


PLAIN_MODELS = """
from typing import ClassVar

from sqlmodel import Field

from assistant_models import AssistantModel, Manager


class Bookmark(AssistantModel, table=True):
    __tablename__ = "myapp_bookmarks"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)

    objects: ClassVar[Manager["Bookmark"]] = Manager()
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "myapp_bookmarks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("myapp_bookmarks")
"""

CONFTEST = """
from assistant_models.app_migrations import register_migrations

pytest_plugins = ["assistant_models.testing.plugin"]
register_migrations("myapp", "migrations")
"""

APP_TEST = """
from myapp.models import Bookmark


def test_the_applications_table_is_migrated_too(db_session):
    Bookmark.objects.create(title="kept only in this test")
    assert Bookmark.objects.count() == 1
"""


def test_the_test_plugin_migrates_the_applications_chain_too(tmp_path, scratch_url):
    app = tmp_path / "app"
    (app / "myapp").mkdir(parents=True)
    (app / "myapp" / "__init__.py").write_text("")
    (app / "myapp" / "models.py").write_text(textwrap.dedent(PLAIN_MODELS))
    (app / "migrations" / "versions").mkdir(parents=True)
    (app / "migrations" / "env.py").write_text(textwrap.dedent(ENV))
    (app / "migrations" / "versions" / "a0001_bookmarks.py").write_text(textwrap.dedent(REVISION))
    (app / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (app / "test_app.py").write_text(textwrap.dedent(APP_TEST))
    env = {**os.environ, "PYTHONPATH": str(app), "TEST_DATABASE_URL": scratch_url}
    env.pop("ASSISTANT_MODELS_MIGRATIONS", None)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
