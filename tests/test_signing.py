"""The cursor signing key: one per database, shared by every engine and process, or the variable's."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models import Database
from assistant_models.core.signing import SECRET_KEY_ENV, cursor_key, signing_keys
from assistant_models.exceptions import DatabaseError

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)


def _key_of(url: str) -> bytes:
    with Database(url) as db, Session(db.engine) as session:
        return cursor_key(session)


def test_migrations_store_a_strong_random_cursor_key(db_session):
    secret = db_session.execute(text("SELECT secret FROM signing_keys WHERE purpose = 'cursor'")).scalar_one()
    assert len(secret) == 64 and int(secret, 16)
    assert cursor_key(db_session) == secret.encode()


def test_two_engines_of_one_database_sign_with_the_same_key(database, db_session):
    url = database.engine.url.render_as_string(hide_password=False)
    assert _key_of(url) == _key_of(url) == cursor_key(db_session)


def _key_in_child(url: str) -> bytes:
    return _key_of(url)


def test_separate_processes_sign_with_the_same_key(database, db_session):
    url = database.engine.url.render_as_string(hide_password=False)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        keys = pool.map_async(_key_in_child, [url, url]).get(timeout=60)
    assert keys == [cursor_key(db_session)] * 2


def test_the_environment_variable_wins_over_the_stored_key(db_session, monkeypatch):
    stored = cursor_key(db_session)
    monkeypatch.setenv(SECRET_KEY_ENV, "configured-secret")
    assert cursor_key(db_session) == b"configured-secret"
    monkeypatch.delenv(SECRET_KEY_ENV)
    assert cursor_key(db_session) == stored


@pytest.fixture
def unseeded(scratch_url: str) -> Iterator[str]:
    """A scratch database with an empty signing_keys table (as if its row had been deleted)."""
    with Database(scratch_url) as db, db.engine.begin() as conn:
        signing_keys.create(conn)
    yield scratch_url


def test_a_missing_key_is_created_once_and_then_shared(unseeded):
    first = _key_of(unseeded)
    assert len(first) == 64
    assert _key_of(unseeded) == first


def test_an_unmigrated_database_raises_a_clear_error(scratch_url):
    with pytest.raises(DatabaseError, match="migrate"):
        _key_of(scratch_url)
