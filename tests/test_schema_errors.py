"""A schema behind the models is named in the error; a missing unit of work says how to open one."""

import pytest
import sqlalchemy as sa

import assistant_models
from assistant_models.exceptions import SchemaError, SessionRequiredError
from assistant_models.models import Task

pytestmark = pytest.mark.integration


def test_a_missing_table_is_named(db_session):
    db_session.execute(sa.text("ALTER TABLE tasks RENAME TO tasks_elsewhere"))  # rolled back with the test
    with pytest.raises(SchemaError) as exc:
        Task.objects.count()
    assert exc.value.name == "tasks"
    assert "table 'tasks' does not exist" in str(exc.value)
    assert "migrate()" in str(exc.value)


def test_a_missing_column_is_named_with_its_table(db_session):
    db_session.execute(sa.text("ALTER TABLE tasks RENAME COLUMN priority TO urgency"))
    with pytest.raises(SchemaError) as exc:
        list(Task.objects.values_list("priority"))
    assert exc.value.name == "tasks.priority"
    assert "column 'tasks.priority' does not exist" in str(exc.value)


def test_the_errors_an_application_catches_are_importable_from_the_package():
    for name in ("DatabaseError", "SessionRequiredError", "RetryableError", "SchemaError", "NotFoundError"):
        assert issubclass(getattr(assistant_models, name), assistant_models.AssistantModelsError)
    assert issubclass(SchemaError, assistant_models.DatabaseError)


def test_without_a_unit_of_work_the_error_names_the_test_fixture_too():
    with pytest.raises(SessionRequiredError) as exc:
        Task.objects.count()
    assert "db.session()" in str(exc.value)
    assert "`db_session` fixture" in str(exc.value)
