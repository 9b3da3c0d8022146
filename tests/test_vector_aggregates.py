"""Aggregates of vectors: VectorAvg and VectorSum over rows, groups, filters and defaults."""

import numpy as np
import pytest
from lab_models import Item

from assistant_models import Q
from assistant_models.exceptions import FieldError, ValidationError
from assistant_models.vector import VectorAvg, VectorSum

pytestmark = pytest.mark.integration


@pytest.fixture
def items(vector_lab):
    Item.objects.bulk_create(
        [
            Item(id=1, label="a", embedding=[1, 2, 3]),
            Item(id=2, label="a", embedding=[4, 5, 6]),
            Item(id=3, label="b", embedding=[1, 1, 1]),
            Item(id=4, label="b", embedding=[1, 1, 1]),
            Item(id=5, label="b", embedding=None),
        ]
    )
    return vector_lab


def as_lists(result: dict) -> dict:
    return {k: None if v is None else v.tolist() for k, v in result.items()}


def test_avg_and_sum_leave_out_null_vectors(items):
    result = Item.objects.aggregate(mean=VectorAvg("embedding"), total=VectorSum("embedding"))
    assert as_lists(result) == {"mean": [1.75, 2.25, 2.75], "total": [7, 9, 11]}
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in result.values())


def test_a_positional_aggregate_is_named_after_its_field_and_function(items):
    result = Item.objects.aggregate(VectorSum("embedding"), VectorAvg("embedding"))
    assert as_lists(result) == {"embedding__sum": [7, 9, 11], "embedding__avg": [1.75, 2.25, 2.75]}


def test_one_mean_per_group(items):
    rows = Item.objects.values("label").annotate(centroid=VectorAvg("embedding")).order_by("label")
    assert [(r["label"], r["centroid"].tolist()) for r in rows] == [("a", [2.5, 3.5, 4.5]), ("b", [1, 1, 1])]


def test_filter_and_distinct(items):
    result = Item.objects.aggregate(
        a=VectorSum("embedding", filter=Q(label="a")),
        distinct=VectorSum("embedding", distinct=True),
    )
    assert as_lists(result) == {"a": [5, 7, 9], "distinct": [6, 8, 10]}  # [1, 1, 1] counted once


def test_over_a_filtered_and_a_sliced_queryset(items):
    assert Item.objects.filter(label="b").aggregate(m=VectorAvg("embedding"))["m"].tolist() == [1, 1, 1]
    first_two = Item.objects.order_by("id")[:2]
    assert first_two.aggregate(m=VectorAvg("embedding"))["m"].tolist() == [2.5, 3.5, 4.5]


def test_the_default_is_given_over_no_rows(items, statements):
    default = VectorAvg("embedding", default=[0, 0, 0])
    assert Item.objects.filter(label="zz").aggregate(m=default)["m"].tolist() == [0, 0, 0]
    statements.clear()
    empty = Item.objects.none().aggregate(m=default)["m"]  # answered without SQL
    assert statements == []
    assert isinstance(empty, np.ndarray) and empty.tolist() == [0, 0, 0]
    assert Item.objects.aggregate(m=default)["m"].tolist() == [1.75, 2.25, 2.75]


def test_a_default_of_other_dimensions_is_refused_before_sql(items, statements):
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        Item.objects.aggregate(m=VectorAvg("embedding", default=[0, 0]))
    assert exc.value.errors == [{"field": "default", "message": "vector must have 3 dimensions, not 2"}]
    assert statements == []


@pytest.mark.parametrize(
    ("default", "message"),
    [([0, float("nan"), 0], "NaN"), ("zero", "list, a tuple or a numpy array"), ([], "empty")],
    ids=["nan", "text", "empty"],
)
def test_a_bad_default_is_refused_when_the_aggregate_is_made(default, message):
    with pytest.raises(ValidationError) as exc:
        VectorSum("embedding", default=default)
    assert exc.value.fields == ["default"]
    assert message in exc.value.errors[0]["message"]


def test_a_field_that_is_not_a_vector_is_refused_before_sql(items, statements):
    statements.clear()
    with pytest.raises(FieldError, match="VectorAvg\\(\\) takes a vector field, not 'label'"):
        Item.objects.aggregate(m=VectorAvg("label"))
    assert statements == []


def test_aaggregate_reads_a_vector_through_asyncpg(pgvector, adb_session, arun):
    async def scenario():
        from lab_models import create_vector_lab_tables

        conn = await adb_session.connection()
        await conn.run_sync(create_vector_lab_tables)
        await Item.objects.abulk_create([Item(embedding=[1, 2, 3]), Item(embedding=[4, 5, 6])])
        return await Item.objects.aaggregate(total=VectorSum("embedding"))

    total = arun(scenario())["total"]
    assert isinstance(total, np.ndarray) and total.tolist() == [5, 7, 9]
