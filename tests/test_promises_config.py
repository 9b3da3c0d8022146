"""The defaults the README's "Configuration" table documents are the ones the code uses.

The values are read from the README itself, so the table and the code cannot drift apart
unnoticed: change either and a test here goes red.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant_models import Database
from assistant_models._settings import EngineSettings, migration_lock_timeout
from assistant_models.models.identity import passwords
from assistant_models.testing import plugin

README = Path(__file__).resolve().parent.parent / "README.md"

SETTINGS = {
    "DB_POOL_SIZE": "pool_size",
    "DB_MAX_OVERFLOW": "max_overflow",
    "DB_POOL_TIMEOUT": "pool_timeout",
    "DB_CONNECT_TIMEOUT": "connect_timeout",
    "DB_STATEMENT_TIMEOUT": "statement_timeout",
    "DB_POOL_PING_AFTER": "ping_after",
}
BCRYPT = "ASSISTANT_MODELS_BCRYPT_ROUNDS"


def documented_defaults() -> dict[str, str]:
    """Return each variable of the README's configuration table with its default, as written."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    defaults: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        values = [v.strip() for v in cells[2].split(",")] if len(names) > 1 else [cells[2]]
        if len(values) != len(names):  # one default shared by every name of the row
            values = [cells[2]] * len(names)
        defaults.update(zip(names, values, strict=True))
    return defaults


def _documented_int(name: str) -> int:
    match = re.match(r"\d+", documented_defaults()[name])
    assert match is not None, f"README documents no number for {name}"
    return int(match.group())


@pytest.fixture
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SETTINGS, "DB_MIGRATION_LOCK_TIMEOUT", BCRYPT):
        monkeypatch.delenv(name, raising=False)


def test_the_readme_documents_every_setting_with_a_default() -> None:
    assert set(SETTINGS) | {"DB_MIGRATION_LOCK_TIMEOUT", BCRYPT} <= set(documented_defaults())


@pytest.mark.parametrize("variable", sorted(SETTINGS))
def test_each_engine_setting_defaults_to_its_documented_value(unset, variable: str) -> None:
    assert getattr(EngineSettings.resolve(), SETTINGS[variable]) == _documented_int(variable)


def test_a_database_with_nothing_configured_builds_its_pool_from_the_documented_defaults(unset) -> None:
    pool = Database("postgresql://u@h/db").engine.pool
    assert pool.size() == _documented_int("DB_POOL_SIZE")  # type: ignore[attr-defined]
    assert pool._max_overflow == _documented_int("DB_MAX_OVERFLOW")  # type: ignore[attr-defined]
    assert pool.timeout() == _documented_int("DB_POOL_TIMEOUT")  # type: ignore[attr-defined]


def test_the_server_applies_the_documented_statement_timeout(unset, database: Database) -> None:
    fresh = Database(database.engine.url.render_as_string(hide_password=False))
    with fresh, fresh.engine.connect() as conn:
        shown = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar_one()
    assert shown == f"{_documented_int('DB_STATEMENT_TIMEOUT') // 1000}s"


def test_migrations_wait_the_documented_time_for_a_lock(unset) -> None:
    assert migration_lock_timeout() == _documented_int("DB_MIGRATION_LOCK_TIMEOUT")


def test_bcrypt_cost_defaults_to_the_documented_rounds(unset) -> None:
    assert documented_defaults()[BCRYPT].startswith("12 ")
    assert passwords._rounds() == 12


def test_hashing_uses_the_configured_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BCRYPT, "5")
    assert passwords.hash_password("correct horse battery").startswith("bcrypt-sha256$$2b$05$")


def test_the_pytest_plugin_lowers_the_cost_to_the_documented_rounds(unset) -> None:
    under_plugin = re.search(r"\((\d+) under the pytest plugin\)", documented_defaults()[BCRYPT])
    assert under_plugin is not None
    plugin.pytest_configure(None)  # type: ignore[arg-type]  # it reads nothing from the config
    assert passwords._rounds() == int(under_plugin.group(1)) == 4


def test_the_pytest_plugin_keeps_a_cost_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BCRYPT, "6")
    plugin.pytest_configure(None)  # type: ignore[arg-type]
    assert passwords._rounds() == 6
