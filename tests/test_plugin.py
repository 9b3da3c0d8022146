"""The pytest plugin: an application enables it and gets a migrated database and rolled-back tests."""

from __future__ import annotations

import os
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

import assistant_models
from assistant_models import _embedded
from assistant_models.core.context import get_current_session
from assistant_models.models import User

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.integration

#: The directory that holds the ``assistant_models`` package, for the child's PYTHONPATH.
PACKAGE_ROOT = Path(assistant_models.__file__).resolve().parent.parent

APP_CONFTEST = 'pytest_plugins = ["assistant_models.testing.plugin"]\n'

APP_TESTS = """
import os

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from assistant_models._migrations import script_location
from assistant_models.models import User

TAG = "__TAG__"


def _email(name):
    return f"{TAG}-{name}@example.com"


def _create_user(name):
    return User.objects.create_user(email=_email(name), username=f"{TAG}-{name}", password="long-password")


def _visible_elsewhere(database, name):
    with database.engine.connect() as other:
        query = text("SELECT count(*) FROM users WHERE email = :e")
        return other.execute(query, {"e": _email(name)}).scalar_one()


def test_a_user_created_here_is_visible_here(db_session):
    _create_user("first")
    assert User.objects.filter(email=_email("first")).exists()


def test_a_commit_inside_the_test_only_releases_a_savepoint(database, db_session):
    with database.session():
        _create_user("committed")
    db_session.commit()
    assert User.objects.filter(email=_email("committed")).exists()
    assert _visible_elsewhere(database, "committed") == 0


def test_users_from_earlier_tests_are_rolled_back(database, db_session):
    assert not User.all_objects.filter(email__in=[_email("first"), _email("committed")]).exists()
    assert _visible_elsewhere(database, "first") == 0
    assert _visible_elsewhere(database, "committed") == 0


def test_failed_nested_session_rolls_back_only_its_savepoint(database, db_session):
    outer = _create_user("outer")
    with pytest.raises(RuntimeError):
        with database.session() as nested:
            assert nested is db_session
            _create_user("inner")
            raise RuntimeError("undo the inner block")
    assert User.objects.filter(pk=outer.id).exists()
    assert not User.objects.filter(email=_email("inner")).exists()


def test_database_is_migrated_to_head(database):
    script = ScriptDirectory(str(script_location()))
    core_head = script.get_revision("core@head").revision
    current = database.current_revision().split(",")
    reached = {r.revision for head in current for r in script.iterate_revisions(head, "base")}
    assert core_head in reached
    assert set(current) <= set(script.get_heads())


def test_plugin_lowers_the_bcrypt_cost(db_session):
    assert os.environ["ASSISTANT_MODELS_BCRYPT_ROUNDS"] == "4"
    assert "$2b$04$" in _create_user("cost").password_hash
"""


@pytest.fixture(scope="module")
def embedded_data_dir() -> Path:
    """Return the embedded server's data directory, resolved before pytester moves ``HOME``."""
    return _embedded.data_dir()


@pytest.fixture
def app(
    pytester: pytest.Pytester, embedded_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """Return a throwaway application project whose conftest enables the plugin.

    The child process sees the same database as this run: ``TEST_DATABASE_URL`` is
    inherited when set, otherwise it reaches the same embedded server.
    """
    paths = [str(PACKAGE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    if not os.environ.get("TEST_DATABASE_URL"):
        monkeypatch.setenv(_embedded.DATA_DIR_ENV, str(embedded_data_dir))
    # The plugin must choose the bcrypt cost itself, as it would in a fresh shell.
    monkeypatch.delenv("ASSISTANT_MODELS_BCRYPT_ROUNDS", raising=False)
    pytester.makeconftest(APP_CONFTEST)
    pytester.makepyfile(test_app=APP_TESTS.replace("__TAG__", f"plugin-{uuid.uuid4().hex[:12]}"))
    return pytester


def test_an_application_gets_rollback_isolation_from_the_plugin(app: pytest.Pytester):
    # The file's order matters (a later test checks an earlier one's rows), so no reordering plugin.
    result = app.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "test_app.py")
    result.assert_outcomes(passed=6)


def test_an_application_sees_the_failure_of_a_test_that_breaks_isolation(app: pytest.Pytester):
    # A check that leans on a previous test's row must fail: the row is gone.
    name = f"leaky-{uuid.uuid4().hex[:12]}"
    app.makepyfile(
        test_leaky=textwrap.dedent(
            f"""
            from assistant_models.models import User

            def test_writer(db_session):
                User.objects.create_user(email="{name}@example.com", username="{name}", password="x" * 12)

            def test_reader_expecting_the_row(db_session):
                assert User.objects.filter(username="{name}").exists()
            """
        )
    )
    result = app.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "test_leaky.py")
    result.assert_outcomes(passed=1, failed=1)


# --------------------------------------------------------- in this very run


def test_db_session_is_the_current_unit_of_work(db_session):
    assert get_current_session() is db_session
    assert User.objects.session is db_session


def test_rows_written_in_a_test_are_invisible_to_other_connections(database, db_session):
    user = User.objects.create_user(
        email=f"{uuid.uuid4().hex[:12]}@example.com", username=uuid.uuid4().hex[:12], password="x" * 12
    )
    with database.engine.connect() as other:
        seen = other.execute(text("SELECT count(*) FROM users WHERE id = :id"), {"id": user.id}).scalar_one()
    assert seen == 0
    assert User.objects.filter(pk=user.id).exists()


def test_database_session_inside_a_test_joins_the_test_session(database, db_session):
    with database.session() as nested:
        assert nested is db_session
        user = User.objects.create_user(
            email=f"{uuid.uuid4().hex[:12]}@example.com", username=uuid.uuid4().hex[:12], password="x" * 12
        )
    assert User.objects.filter(pk=user.id).exists()
    with database.engine.connect() as other:
        seen = other.execute(text("SELECT count(*) FROM users WHERE id = :id"), {"id": user.id}).scalar_one()
    assert seen == 0


_WRITTEN_BY_PREVIOUS_TEST: list[uuid.UUID] = []


def test_rollback_pair_first_writes_a_user(db_session):
    user = User.objects.create_user(
        email=f"{uuid.uuid4().hex[:12]}@example.com", username=uuid.uuid4().hex[:12], password="x" * 12
    )
    _WRITTEN_BY_PREVIOUS_TEST.append(user.id)
    assert User.objects.filter(pk=user.id).exists()


def test_rollback_pair_then_the_user_from_the_previous_test_is_gone(database, db_session):
    if not _WRITTEN_BY_PREVIOUS_TEST:
        pytest.skip("runs after test_rollback_pair_first_writes_a_user")
    written = _WRITTEN_BY_PREVIOUS_TEST[-1]
    assert not User.all_objects.filter(pk=written).exists()
    with database.engine.connect() as other:
        seen = other.execute(text("SELECT count(*) FROM users WHERE id = :id"), {"id": written}).scalar_one()
    assert seen == 0


def test_the_applications_own_database_handle_works_in_the_tests_transaction(db_session, scratch_url):
    # the application's handle points elsewhere (an empty database: no tables at all), yet
    # inside a test its units of work run in the test's database and rolled-back transaction
    from assistant_models import Database
    from assistant_models.models import User

    app_db = Database(scratch_url)
    try:
        with app_db.session() as session:
            assert session is db_session
            User.objects.create_user("own-handle@example.com", "own_handle", "a long enough password")
        app_db.run_in_transaction(lambda: User.objects.get(username="own_handle"))
        assert User.objects.filter(username="own_handle").exists()
        with app_db.engine.connect() as conn:  # nothing reached the application's own database
            assert (
                conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").scalar()
                == 0
            )
    finally:
        app_db.dispose()


def test_the_applications_own_async_handle_works_in_the_async_test_session(adb_session, arun, scratch_url):
    from assistant_models import Database
    from assistant_models.models import User

    app_db = Database(scratch_url)

    async def scenario():
        async with app_db.asession() as session:
            assert session is adb_session
            await User.objects.acreate_user("own-async@example.com", "own_async", "a long enough password")
        return await User.objects.filter(username="own_async").aexists()

    try:
        assert arun(scenario())
    finally:
        arun(app_db.adispose())
        app_db.dispose()
