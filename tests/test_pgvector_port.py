"""pgvector-python's own tests of the ``vector`` type, ported to this package's API.

Source: pgvector/pgvector-python at 33293bf (2 July 2026), ``tests/test_sqlmodel.py``
(``TestSqlmodel``) and ``tests/test_sqlalchemy.py`` (``TestSqlalchemy``,
``TestSqlalchemyAsync``), with their data
(rows ``[1, 1, 1]``, ``[2, 2, 2]``, ``[1, 1, 2]`` as ids 1, 2, 3; query ``[1, 1, 1]``),
their queries and their expected ids and values. Each test keeps its peer's name; the
peer's queries become manager calls (``order_by(L2Distance(...))`` for
``order_by(Item.embedding.l2_distance(...))``), and plain SQLAlchemy on the test's
session where the peer tests SQLAlchemy itself (DDL, reflection, literal binds, insert).

Differences that follow from the package, not from the port:

- A vector reads back as a numpy array of ``float32`` (the peer's current tests compare
  lists); values are compared with ``tolist()``.
- A bad vector is a ``ValidationError`` naming the field, raised when the instance is made
  and before any SQL (the peer's is a ``StatementError`` at commit).
- Every test runs in a rolled-back transaction, so ids made by the database are whatever
  the sequence gives (the peer's ``test_orm`` asserts ``id % 3`` for the same reason).
- The peer's ``*_orm`` twins in ``test_sqlalchemy.py`` run the query of their namesake
  through ``session.scalars(select(...))`` instead of ``session.query(...)``; the managers
  have one API, so each pair is one test here (``test_filter`` covers ``test_filter_orm``).
- ``test_vector_avg``/``test_vector_sum`` (sqlmodel) and ``test_avg``/``test_sum``
  (sqlalchemy) are the same test; they use :class:`VectorAvg` and :class:`VectorSum`.
- Older versions of ``test_sqlmodel.py`` (e.g. at 0802736) name the distance tests
  ``test_l2_distance``, ``test_max_inner_product``, ``test_cosine_distance`` and
  ``test_l1_distance``: they are ``test_vector_l2_distance`` and its three siblings here.

Peer tests also ported in ``tests/test_vector_search.py`` through ``nearest()``:
``test_vector_l2_distance`` -> ``test_nearest_by_l2_distance``,
``test_vector_max_inner_product`` -> ``test_nearest_by_max_inner_product``,
``test_vector_cosine_distance`` -> ``test_nearest_by_cosine_distance_with_similarity``,
``test_vector_l1_distance`` -> ``test_nearest_by_l1_distance``,
``test_filter`` -> ``test_nearest_within_a_distance``. Here they are ported as the peer
writes them, with ``order_by()`` and ``filter()``.

Peer tests left out:

- ``test_halfvec*`` (``test_halfvec_avg``, ``test_halfvec_sum`` too): the ``halfvec`` type, not offered.
- ``test_bit``, ``test_bit_hamming_distance*``, ``test_bit_jaccard_distance*``: the ``bit`` type.
- ``test_sparsevec*``: the ``sparsevec`` type.
- ``test_half_precision``: orders by ``embedding::halfvec(3)``, a ``halfvec`` expression.
- ``test_binary_quantize``, ``test_binary_quantize_reranking``: ``binary_quantize()``, a ``bit`` value.
- ``TestSqlalchemyArray`` and ``TestSqlalchemyAsyncArray`` (``test_vector_array``,
  ``test_halfvec_array``): a ``vector[]`` column read through driver-registered types
  (``register_vector(arrays=True)``); the package has no array-of-vectors field.
- ``TestSqlalchemyAsync.test_halfvec``, ``test_bit``, ``test_sparsevec``: the types above.
- The peer's engine parametrization (psycopg, psycopg2, pg8000; async psycopg and asyncpg):
  the package runs on psycopg2 and asyncpg, both covered here.
"""

import numpy as np
import pytest
import sqlalchemy as sa
from lab_models import Item
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.ext.automap import automap_base

from assistant_models.core.expressions import Subquery
from assistant_models.exceptions import ValidationError
from assistant_models.vector import (
    CosineDistance,
    L1Distance,
    L2Distance,
    MaxInnerProduct,
    Vector,
    VectorAvg,
    VectorIndex,
    VectorSum,
)

pytestmark = pytest.mark.integration

QUERY = [1, 1, 1]


@pytest.fixture
def peer_index(vector_lab):
    """Create the peer's index on the items, in the test's transaction.

    Written as DDL: an ``sa.Index`` on ``Item.__table__``'s column would join the lab
    table's own indexes for every later test.
    """
    vector_lab.execute(
        sa.text(
            "CREATE INDEX lab_items_peer_index ON lab_items "
            "USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)"
        )
    )
    return vector_lab


def create_items() -> None:
    """Write the peer's three rows (its ``create_items()``)."""
    Item.objects.bulk_create(
        [Item(id=1, embedding=[1, 1, 1]), Item(id=2, embedding=[2, 2, 2]), Item(id=3, embedding=[1, 1, 2])]
    )


def ids(rows) -> list[int]:
    return [row.id for row in rows]


def field_errors(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.value.errors}


# ------------------------------------------------------------------ TestSqlmodel and TestSqlalchemy


def test_core(vector_lab):
    # the peer's Core table, with its IVFFlat (lists 1) and HNSW (m 16, ef_construction 64) indexes
    metadata = sa.MetaData()
    sa.Table(
        "sqlalchemy_core_item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("embedding", Vector(3)),
        VectorIndex(
            "embedding", method="ivfflat", metric="l2", name="sqlalchemy_core_ivfflat_index", lists=1
        ),
        VectorIndex("embedding", metric="l2", m=16, ef_construction=64, name="sqlalchemy_core_hnsw_index"),
    )
    conn = vector_lab.connection()
    metadata.create_all(conn)
    found = conn.execute(
        sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sqlalchemy_core_item'")
    )
    definitions = {name: definition.split(" USING ")[1] for name, definition in found}
    assert definitions == {
        "sqlalchemy_core_item_pkey": "btree (id)",
        # vector_l2_ops is IVFFlat's default operator class, which PostgreSQL leaves unnamed
        "sqlalchemy_core_ivfflat_index": "ivfflat (embedding) WITH (lists='1')",
        "sqlalchemy_core_hnsw_index": "hnsw (embedding vector_l2_ops) WITH (m='16', ef_construction='64')",
    }
    column = conn.execute(
        sa.text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'sqlalchemy_core_item'::regclass AND attname = 'embedding'"
        )
    ).scalar_one()
    assert column == "vector(3)"


def test_orm(vector_lab):
    item = Item.objects.create(embedding=np.array([1.5, 2, 3]))
    item2 = Item.objects.create(embedding=[4, 5, 6])
    item3 = Item.objects.create()
    vector_lab.expunge_all()  # read the rows, not the instances in the identity map

    items = list(Item.objects.order_by("id"))
    assert ids(items) == [item.id, item2.id, item3.id]
    assert items[0].embedding.tolist() == [1.5, 2, 3]
    assert items[0].embedding.dtype == np.float32
    assert items[1].embedding.tolist() == [4, 5, 6]
    assert items[1].embedding.dtype == np.float32
    assert items[2].embedding is None


def test_vector(vector_lab):
    Item.objects.create(id=1, embedding=[1, 2, 3])
    vector_lab.expunge_all()
    item = Item.objects.get(pk=1)
    assert item.embedding.tolist() == [1, 2, 3]


def test_vector_l2_distance(peer_index):
    create_items()
    assert ids(Item.objects.order_by(L2Distance("embedding", QUERY))) == [1, 3, 2]


def test_vector_max_inner_product(peer_index):
    create_items()
    assert ids(Item.objects.order_by(MaxInnerProduct("embedding", QUERY))) == [2, 3, 1]


def test_vector_cosine_distance(peer_index):
    create_items()
    # [1, 1, 1] and [2, 2, 2] are both exactly 0 from the query: the peer's order of that
    # tie is the table's; "id" makes it the query's own, with the same expected answer
    assert ids(Item.objects.order_by(CosineDistance("embedding", QUERY), "id")) == [1, 2, 3]
    tied = Item.objects.annotate(d=CosineDistance("embedding", QUERY)).filter(id__in=[1, 2])
    assert list(tied.values_list("d", flat=True)) == [0, 0]


def test_vector_l1_distance(peer_index):
    create_items()
    assert ids(Item.objects.order_by(L1Distance("embedding", QUERY))) == [1, 3, 2]


def test_subquery(peer_index):
    create_items()
    nearest_to_first = Subquery(Item.objects.filter(id=1).values("embedding"))
    assert ids(Item.objects.order_by(L2Distance("embedding", nearest_to_first))) == [1, 3, 2]


def test_filter(peer_index):
    create_items()
    qs = Item.objects.alias(d=L2Distance("embedding", QUERY)).filter(d__lt=1)
    assert ids(qs) == [1]


def test_select(vector_lab):
    Item.objects.create(embedding=[2, 3, 3])
    qs = Item.objects.annotate(d=L2Distance("embedding", QUERY)).values_list("d", flat=True)
    assert list(qs) == [3]


def test_vector_avg(vector_lab):
    assert Item.objects.aggregate(res=VectorAvg("embedding")) == {"res": None}
    Item.objects.create(embedding=[1, 2, 3])
    Item.objects.create(embedding=[4, 5, 6])
    res = Item.objects.aggregate(res=VectorAvg("embedding"))["res"]
    assert res.tolist() == [2.5, 3.5, 4.5]
    assert res.dtype == np.float32


def test_vector_sum(vector_lab):
    assert Item.objects.aggregate(res=VectorSum("embedding")) == {"res": None}
    Item.objects.create(embedding=[1, 2, 3])
    Item.objects.create(embedding=[4, 5, 6])
    res = Item.objects.aggregate(res=VectorSum("embedding"))["res"]
    assert res.tolist() == [5, 7, 9]
    assert res.dtype == np.float32


def test_bad_dimensions(vector_lab, statements):
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        Item(embedding=[1, 2])
    assert field_errors(exc)["embedding"] == "vector must have 3 dimensions, not 2"
    with pytest.raises(ValidationError) as exc:
        Item.objects.create(embedding=[1, 2])
    assert field_errors(exc)["embedding"] == "vector must have 3 dimensions, not 2"
    assert statements == []  # refused before any SQL


def test_bad_ndim(vector_lab):
    with pytest.raises(ValidationError) as exc:
        Item(embedding=np.array([[1, 2, 3]]))
    assert field_errors(exc)["embedding"] == "vector must be one-dimensional, not 2-dimensional"


def test_bad_dtype(vector_lab):
    with pytest.raises(ValidationError) as exc:
        Item(embedding=np.array(["one", "two", "three"]))
    assert field_errors(exc)["embedding"] == "vector must hold numbers, not <U5"


def test_inspect(vector_lab):
    columns = {c["name"]: c for c in sa.inspect(vector_lab.connection()).get_columns("lab_items")}
    assert isinstance(columns["embedding"]["type"], VECTOR)


def test_literal_binds(vector_lab):
    statement = Item.objects.order_by(L2Distance("embedding", [1, 2, 3])).statement()
    sql = statement.compile(vector_lab.get_bind(), compile_kwargs={"literal_binds": True})
    assert "embedding <-> '[1.0,2.0,3.0]'" in str(sql)


def test_insert(vector_lab):
    vector_lab.execute(sa.insert(Item).values(embedding=np.array([1, 2, 3])))
    assert [v.tolist() for v in Item.objects.values_list("embedding", flat=True)] == [[1, 2, 3]]


def test_insert_bulk(vector_lab):
    vector_lab.execute(sa.insert(Item), [{"embedding": np.array([1, 2, 3])}])
    assert [v.tolist() for v in Item.objects.values_list("embedding", flat=True)] == [[1, 2, 3]]


def test_automap(vector_lab):
    metadata = sa.MetaData()
    metadata.reflect(vector_lab.connection(), only=["lab_items"])
    auto_base = automap_base(metadata=metadata)
    auto_base.prepare()
    auto_item = auto_base.classes.lab_items
    vector_lab.execute(sa.insert(auto_item), [{"embedding": np.array([1, 2, 3])}])
    item = vector_lab.query(auto_item).first()
    # reflection finds pgvector-python's own VECTOR type, so the value is as that type reads it
    assert item is not None and list(item.embedding) == [1, 2, 3]


# ------------------------------------------------------------------ TestSqlalchemyAsync (asyncpg)


@pytest.fixture
def vector_alab(pgvector, adb_session, arun):
    """The vector lab tables on the async session; skipped where the server has no pgvector."""

    async def create() -> None:
        from lab_models import create_vector_lab_tables

        conn = await adb_session.connection()
        await conn.run_sync(create_vector_lab_tables)

    arun(create())
    return adb_session


class TestSqlalchemyAsync:
    def test_vector(self, vector_alab, arun):
        async def scenario():
            embedding = [1, 2, 3]
            await Item.objects.acreate(id=1, embedding=embedding)
            vector_alab.expunge_all()
            item = await Item.objects.aget(pk=1)
            return item.embedding

        assert arun(scenario()).tolist() == [1, 2, 3]

    def test_avg(self, vector_alab, arun):
        async def scenario():
            await Item.objects.acreate(embedding=[1, 2, 3])
            await Item.objects.acreate(embedding=[4, 5, 6])
            return await Item.objects.aaggregate(res=VectorAvg("embedding"))

        assert arun(scenario())["res"].tolist() == [2.5, 3.5, 4.5]
