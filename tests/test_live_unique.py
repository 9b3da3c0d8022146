"""A unique field of a soft-deletable model is unique among live rows: declared, nothing more."""

import pytest
import sqlalchemy as sa
from lab_models import Handle
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from assistant_models.exceptions import ConflictError
from assistant_models.models import PromptModule

pytestmark = pytest.mark.integration


def test_the_declaration_becomes_a_partial_unique_index():
    table = Handle.__table__
    assert not [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    ddl = sorted(str(CreateIndex(i).compile(dialect=postgresql.dialect())) for i in table.indexes)
    assert ddl == [
        "CREATE UNIQUE INDEX uq_lab_handles__code ON lab_handles (code) WHERE deleted_at IS NULL",
        "CREATE UNIQUE INDEX uq_lab_handles__name ON lab_handles (name) WHERE deleted_at IS NULL",
    ]


def test_a_model_without_soft_delete_keeps_its_unique_constraint():
    uniques = [c for c in PromptModule.__table__.constraints if isinstance(c, sa.UniqueConstraint)]
    assert [[col.name for col in c.columns] for c in uniques] == [["name"]]


def test_a_deleted_rows_value_can_be_used_again_and_a_clashing_restore_is_refused(lab):
    first = Handle.objects.create(name="ada")
    with pytest.raises(ConflictError) as exc, lab.begin_nested():
        Handle.objects.create(name="ada")
    assert exc.value.field == "name"

    first.delete()
    second = Handle.objects.create(name="ada")  # the deleted row no longer blocks it
    assert Handle.objects.get(name="ada") == second

    with pytest.raises(ConflictError) as exc, lab.begin_nested():
        first.restore()
    assert exc.value.field == "name"
