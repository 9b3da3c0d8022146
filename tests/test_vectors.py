"""Vectors: the Vector column type, its validation before SQL and the distance expressions."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from lab_models import Item

from assistant_models.exceptions import ValidationError
from assistant_models.vector import CosineDistance, L2Distance, MaxInnerProduct, Vector

pytestmark = pytest.mark.integration

BAD = [
    pytest.param([1.0, 2.0], "must have 3 dimensions, not 2", id="too-few"),
    pytest.param([1.0, 2.0, 3.0, 4.0], "must have 3 dimensions, not 4", id="too-many"),
    pytest.param([], "cannot be empty", id="empty"),
    pytest.param([1.0, float("nan"), 3.0], "NaN", id="nan"),
    pytest.param([1.0, float("inf"), 3.0], "infinity", id="inf"),
    pytest.param(np.array([1.0, -np.inf, 3.0]), "infinity", id="numpy-inf"),
    pytest.param(np.array([1.0, np.nan, 3.0]), "NaN", id="numpy-nan"),
    pytest.param([1.0, "two", 3.0], "numbers", id="text"),
    pytest.param([1.0, None, 3.0], "numbers", id="none"),
    pytest.param([True, False, True], "numbers", id="booleans"),
    pytest.param([1.5, True, 2.5], "numbers", id="boolean-among-floats"),
    pytest.param([1.0, "5", 3.0], "numbers", id="numeric-text"),
    pytest.param([[1.0], [2.0], [3.0]], "numbers", id="nested"),
    pytest.param("[1,2,3]", "list, a tuple or a numpy array", id="string"),
    pytest.param(np.ones((3, 1)), "one-dimensional", id="matrix"),
    pytest.param(np.array(["a", "b", "c"]), "numbers", id="numpy-text"),
]


def count(session) -> int:
    return session.execute(sa.text("SELECT count(*) FROM lab_items")).scalar_one()


def field_errors(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.value.errors}


@pytest.mark.parametrize(("value", "message"), BAD)
def test_create_refuses_a_bad_vector_naming_the_field(vector_lab, statements, value, message):
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        Item.objects.create(embedding=value)
    assert message in field_errors(exc)["embedding"]
    assert statements == []  # refused before any SQL
    assert count(vector_lab) == 0


@pytest.mark.parametrize(("value", "message"), BAD)
def test_bulk_create_refuses_a_bad_vector(vector_lab, value, message):
    with pytest.raises(ValidationError) as exc:
        Item.objects.bulk_create([Item(embedding=[1, 2, 3]), Item(embedding=value)])
    assert message in field_errors(exc)["embedding"]
    assert count(vector_lab) == 0


@pytest.mark.parametrize(("value", "message"), BAD)
def test_update_refuses_a_bad_vector(vector_lab, statements, value, message):
    item = Item.objects.create(embedding=[1, 2, 3])
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        Item.objects.filter(pk=item.pk).update(embedding=value)
    assert message in field_errors(exc)["embedding"]
    assert statements == []
    item.refresh_from_db()
    assert item.embedding.tolist() == [1, 2, 3]


@pytest.mark.parametrize(("value", "message"), BAD)
def test_assignment_is_refused_at_flush(vector_lab, value, message):
    item = Item.objects.create(embedding=[1, 2, 3])
    item.embedding = value
    with pytest.raises(ValidationError) as exc:
        vector_lab.flush()
    assert message in field_errors(exc)["embedding"]
    with vector_lab.no_autoflush:
        stored = vector_lab.execute(sa.text("SELECT embedding::text FROM lab_items")).scalar_one()
    assert stored == "[1,2,3]"


@pytest.mark.parametrize(
    "value",
    [[1, 2.5, -3], (1, 2.5, -3), np.array([1, 2.5, -3]), np.array([1, 2.5, -3], dtype=np.float32)],
    ids=["list", "tuple", "numpy", "numpy-float32"],
)
def test_round_trip_reads_back_a_numpy_array(vector_lab, value):
    item = Item.objects.create(embedding=value)
    vector_lab.expunge_all()  # read the row, not the instance in the identity map
    loaded = Item.objects.get(pk=item.pk)
    assert isinstance(loaded.embedding, np.ndarray)
    assert loaded.embedding.dtype == np.float32
    assert loaded.embedding.tolist() == [1.0, 2.5, -3.0]


@pytest.mark.parametrize("keys", ["client", "server"], ids=["copy", "insert"])
def test_bulk_create_writes_vectors(vector_lab, statements, keys):
    values = [[0.1, 0.2, 0.3], (1e-8, -2.5e10, 7), np.array([1, 2, 3], dtype=np.int64), None]
    objs = [
        Item(label=str(i), embedding=v, **({"id": 100 + i} if keys == "client" else {}))
        for i, v in enumerate(values)
    ]
    Item.objects.bulk_create(objs)
    inserted = any(s.startswith("INSERT INTO lab_items") for s in statements)
    assert inserted is (keys == "server")  # client-made keys go by COPY, server-made ones by INSERT
    vector_lab.expunge_all()
    stored = {i.label: i.embedding for i in Item.objects.all()}
    assert stored["3"] is None
    for i, value in enumerate(values[:3]):
        assert stored[str(i)].tolist() == np.asarray(value, dtype=np.float32).tolist()


def test_assignment_and_update_write_vectors(vector_lab):
    item = Item.objects.create(embedding=[1, 2, 3])
    item.embedding = np.array([4, 5, 6])
    item.save()
    assert Item.objects.get(pk=item.pk).embedding.tolist() == [4, 5, 6]
    Item.objects.filter(pk=item.pk).update(embedding=(7, 8, 9))
    assert Item.objects.get(pk=item.pk).embedding.tolist() == [7, 8, 9]


def test_an_unchanged_array_is_not_written_again(vector_lab, statements):
    item = Item.objects.create(embedding=[1, 2, 3])
    item.refresh_from_db()
    item.embedding = np.array([1.0, 2.0, 3.0])
    statements.clear()
    vector_lab.flush()
    assert not any(s.startswith("UPDATE") for s in statements)


def test_a_vector_dumps_to_json_as_numbers(vector_lab):
    item = Item.objects.create(embedding=[1, 2, 3])
    item.refresh_from_db()
    assert '"embedding":[1.0,2.0,3.0]' in item.model_dump_json()


# pgvector-python's own tests (test_sqlalchemy.py) use these rows and this query vector.
PORTED = {1: [1, 1, 1], 2: [2, 2, 2], 3: [1, 1, 2]}


def make_items(vectors: dict[int, list[float]]) -> None:
    Item.objects.bulk_create([Item(id=k, embedding=v) for k, v in vectors.items()])


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return 1 - float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def l2(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def negative_inner_product(a, b) -> float:
    return -float(np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64))


DISTANCES = [
    pytest.param(CosineDistance, cosine, id="cosine"),
    pytest.param(L2Distance, l2, id="l2"),
    pytest.param(MaxInnerProduct, negative_inner_product, id="inner-product"),
]


@pytest.mark.parametrize(
    ("distance", "expected"),
    [(L2Distance, [1, 3, 2]), (MaxInnerProduct, [2, 3, 1]), (CosineDistance, [1, 2, 3])],
    ids=["l2", "inner-product", "cosine"],
)
def test_ported_orderings(vector_lab, distance, expected):
    make_items(PORTED)
    qs = Item.objects.order_by(distance("embedding", [1, 1, 1]), "id")
    assert [i.id for i in qs] == expected


def test_ported_filter(vector_lab):
    make_items(PORTED)
    qs = Item.objects.annotate(d=L2Distance("embedding", [1, 1, 1])).filter(d__lt=1)
    assert [i.id for i in qs] == [1]


def test_ported_select_distances(vector_lab):
    make_items(PORTED)
    qs = Item.objects.annotate(d=L2Distance("embedding", [1, 1, 1])).order_by("d")
    assert [round(d, 6) for d in qs.values_list("d", flat=True)] == [0, 1, round(math.sqrt(3), 6)]
    qs = Item.objects.annotate(d=MaxInnerProduct("embedding", [1, 1, 1])).order_by("id")
    assert list(qs.values_list("d", flat=True)) == [-3, -6, -4]  # the negative inner product


# A handful of rows in assorted directions and lengths, and a query that is none of them.
ROWS = {
    1: [0.9, 0.1, 0.0],
    2: [-1.0, 2.0, 0.5],
    3: [3.0, 3.0, 3.0],
    4: [0.0, -0.5, 4.0],
    5: [0.2, 0.25, 0.3],
    6: [-2.0, -2.0, 1.0],
}
QUERY = np.array([0.5, 0.4, 0.3])


@pytest.mark.parametrize(("distance", "python"), DISTANCES)
def test_annotated_distances_match_python(vector_lab, distance, python):
    make_items(ROWS)
    got = dict(Item.objects.annotate(d=distance("embedding", QUERY)).values_list("id", "d"))
    assert got == pytest.approx({k: python(v, QUERY) for k, v in ROWS.items()}, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(("distance", "python"), DISTANCES)
@pytest.mark.parametrize("descending", [False, True], ids=["nearest-first", "farthest-first"])
def test_order_by_distance_matches_python(vector_lab, distance, python, descending):
    make_items(ROWS)
    expected = sorted(ROWS, key=lambda k: python(ROWS[k], QUERY), reverse=descending)
    by_expression = distance("embedding", QUERY)
    ordered = by_expression.desc() if descending else by_expression
    assert [i.id for i in Item.objects.order_by(ordered)] == expected
    annotated = Item.objects.annotate(d=distance("embedding", QUERY)).order_by("-d" if descending else "d")
    assert [i.id for i in annotated] == expected


@pytest.mark.parametrize(("distance", "python"), DISTANCES)
def test_filter_on_a_distance_matches_python(vector_lab, distance, python):
    make_items(ROWS)
    values = sorted(python(v, QUERY) for v in ROWS.values())
    cut = (values[2] + values[3]) / 2  # keeps the three nearest
    expected = sorted(k for k, v in ROWS.items() if python(v, QUERY) < cut)
    qs = Item.objects.annotate(d=distance("embedding", QUERY)).filter(d__lt=cut).order_by("id")
    assert [i.id for i in qs] == expected
    assert len(expected) == 3


def test_a_distance_takes_a_sql_vector_and_is_null_for_a_null_vector(vector_lab):
    make_items({1: [1, 0, 0], 2: [0, 1, 0]})
    Item.objects.create(id=3, embedding=None)
    origin = sa.literal_column("'[1,0,0]'::vector")
    qs = Item.objects.annotate(d=L2Distance("embedding", origin)).order_by("id")
    assert list(qs.values_list("d", flat=True)) == [0, pytest.approx(math.sqrt(2)), None]


@pytest.mark.parametrize(
    ("vector", "message"),
    [([1.0, float("nan"), 0.0], "NaN"), ([], "empty"), ([1, "x", 2], "numbers"), ("abc", "list")],
    ids=["nan", "empty", "text", "string"],
)
def test_a_bad_query_vector_is_refused_before_sql(vector, message):
    with pytest.raises(ValidationError) as exc:
        CosineDistance("embedding", vector)
    assert message in field_errors(exc)["vector"]


def test_a_query_vector_of_other_dimensions_is_refused_before_sql(vector_lab, statements):
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        list(Item.objects.order_by(L2Distance("embedding", [1, 2])))
    assert "must have 3 dimensions, not 2" in field_errors(exc)["vector"]
    assert statements == []


def test_vector_type_declares_pgvector_column():
    assert str(sa.Column("e", Vector(1536)).type.compile(dialect=sa.dialects.postgresql.dialect())) == (
        "VECTOR(1536)"
    )
    with pytest.raises(TypeError):
        Vector(0)
    with pytest.raises(TypeError):
        Vector(16_001)


def test_a_migration_renders_the_vector_type_and_imports_it():
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops
    from alembic.runtime.migration import MigrationContext

    from assistant_models._migrations import render_item

    context = MigrationContext.configure(dialect_name="postgresql")
    upgrade = ops.UpgradeOps([ops.CreateTableOp.from_table(Item.__table__)])
    code = render_python_code(upgrade, migration_context=context, render_item=render_item)
    assert "sa.Column('embedding', Vector(3), nullable=True)" in code
    autogen = SimpleNamespace(imports=set())  # what the hook sees of Alembic's AutogenContext
    assert render_item("type", Vector(3), autogen) == "Vector(3)"
    assert render_item("type", sa.Integer(), autogen) is False
    imports = autogen.imports
    assert imports == {"from assistant_models.vector import Vector"}
    namespace: dict = {}
    exec("\n".join(sorted(imports)), namespace)  # the import a migration gets is enough for its text
    assert repr(eval("Vector(3)", namespace)) == "Vector(3)"


def test_autogenerate_sees_no_difference_on_a_vector_column(vector_lab):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from lab_models import vector_lab_metadata

    context = MigrationContext.configure(
        vector_lab.connection(), opts={"compare_type": True, "target_metadata": vector_lab_metadata}
    )
    diffs = compare_metadata(context, vector_lab_metadata)
    assert [d for d in diffs if "lab_items" in repr(d)] == []


@pytest.fixture
def vector_alab(adb_session, arun):
    """The vector lab tables on the async session (asyncpg), skipped without pgvector."""

    def create(session) -> bool:
        from lab_models import create_lab_tables, create_vector_lab_tables

        conn = session.connection()
        if (
            conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first()
            is None
        ):
            return False
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
        create_lab_tables(conn)
        create_vector_lab_tables(conn)
        return True

    if not arun(adb_session.run_sync(create)):
        pytest.skip("the test server has no pgvector extension (vector tests need it)")
    return adb_session


def test_vectors_round_trip_and_order_through_asyncpg(vector_alab, arun):
    async def scenario():
        await Item.objects.abulk_create([Item(embedding=v) for v in ROWS.values()])
        with pytest.raises(ValidationError):
            await Item.objects.acreate(embedding=[1.0, float("nan"), 0.0])
        vector_alab.expunge_all()
        rows = [row async for row in Item.objects.order_by(L2Distance("embedding", QUERY))]
        return rows

    rows = arun(scenario())
    assert all(isinstance(r.embedding, np.ndarray) for r in rows)
    expected = sorted(ROWS.values(), key=lambda v: l2(v, QUERY))
    assert [r.embedding.tolist() for r in rows] == [np.float32(v).tolist() for v in expected]


def test_bulk_insert_of_mappings_writes_and_refuses_vectors(vector_lab):
    rows = [{"id": 1, "embedding": [1, 2, 3]}, {"id": 2, "embedding": np.array([4, 5, 6])}]
    assert Item.objects.bulk_insert(rows) == 2
    vector_lab.expunge_all()
    assert [i.embedding.tolist() for i in Item.objects.order_by("id")] == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValidationError) as exc:
        Item.objects.bulk_insert([{"id": 3, "embedding": [1, 2]}])
    assert field_errors(exc) == {"rows[0].embedding": "vector must have 3 dimensions, not 2"}
    assert count(vector_lab) == 2
