"""Vector indexes declared on a model: their DDL, their checks, and the one the migration creates."""

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from assistant_models.vector import METRICS, Metric, Vector, VectorIndex, register_metric
from assistant_models.vector.distances import CosineDistance


def ddl(*indexes: sa.Index, dim: int = 3) -> list[str]:
    table = sa.Table(
        "docs",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("e", Vector(dim)),
        *indexes,
    )
    return [str(CreateIndex(index).compile(dialect=postgresql.dialect())) for index in table.indexes]


def test_hnsw_with_build_parameters():
    (sql,) = ddl(VectorIndex("e", m=24, ef_construction=100))
    assert sql == (
        "CREATE INDEX ix_docs__e_hnsw_cosine ON docs USING hnsw (e vector_cosine_ops) "
        "WITH (m = 24, ef_construction = 100)"
    )


@pytest.mark.parametrize(
    ("metric", "opclass"),
    [
        ("cosine", "vector_cosine_ops"),
        ("l2", "vector_l2_ops"),
        ("inner_product", "vector_ip_ops"),
        ("l1", "vector_l1_ops"),
    ],
)
def test_each_metric_has_its_operator_class(metric, opclass):
    (sql,) = ddl(VectorIndex("e", metric=metric))
    assert f"USING hnsw (e {opclass})" in sql
    assert f"ix_docs__e_hnsw_{metric}" in sql


def test_ivfflat_with_lists_and_one_index_per_metric_on_one_field():
    statements = ddl(
        VectorIndex("e", method="ivfflat", metric="l2", lists=100), VectorIndex("e", metric="cosine")
    )
    assert sorted(statements) == [
        "CREATE INDEX ix_docs__e_hnsw_cosine ON docs USING hnsw (e vector_cosine_ops)",
        "CREATE INDEX ix_docs__e_ivfflat_l2 ON docs USING ivfflat (e vector_l2_ops) WITH (lists = 100)",
    ]


def test_a_given_name_is_kept():
    (sql,) = ddl(VectorIndex("e", name="docs_by_meaning"))
    assert sql.startswith("CREATE INDEX docs_by_meaning ON docs")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "btree"}, "method must be one of hnsw, ivfflat, not 'btree'"),
        ({"metric": "hamming"}, "metric must be one of cosine, inner_product, l1, l2, not 'hamming'"),
        ({"method": "ivfflat", "metric": "l1"}, "metric 'l1' has no ivfflat index"),
        ({"lists": 10}, "hnsw takes m, ef_construction, not 'lists'"),
        ({"method": "ivfflat", "m": 16}, "ivfflat takes lists, not 'm'"),
        ({"m": 1}, "m must be a whole number from 2 to 100, not 1"),
        ({"m": True}, "m must be a whole number"),
        ({"ef_construction": 5000}, "ef_construction must be a whole number from 4 to 1000"),
        ({"m": 32, "ef_construction": 40}, "ef_construction must be at least twice m"),
        ({"method": "ivfflat", "lists": 0}, "lists must be a whole number from 1 to 32768"),
    ],
)
def test_bad_declarations_are_refused_at_class_definition(kwargs, message):
    with pytest.raises(TypeError, match=message):
        VectorIndex("e", **kwargs)


def test_an_index_on_more_than_2000_dimensions_is_refused():
    with pytest.raises(TypeError, match="at most 2000 dimensions"):
        ddl(VectorIndex("e"), dim=3000)


def test_metrics_are_an_open_registry():
    class Cosine2(CosineDistance):
        pass

    try:
        register_metric(Metric("cosine2", Cosine2, "vector_cosine_ops", frozenset({"hnsw"})))
        (sql,) = ddl(VectorIndex("e", metric="cosine2"))
        assert "ix_docs__e_hnsw_cosine2" in sql
    finally:
        METRICS.pop("cosine2", None)


@pytest.mark.integration
def test_the_migration_creates_the_memory_index_the_model_declares(db_session, pgvector):
    name = "ix_conversation_memory__embedding_hnsw_cosine"
    definition = db_session.execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": name}
    ).scalar_one()
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')" in definition
