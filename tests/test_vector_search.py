"""Nearest-neighbour and hybrid search: answers, the index serving them, settings, filters, fusion."""

import math

import numpy as np
import pytest
import sqlalchemy as sa
from lab_models import DOC_DIMENSIONS, Doc, Item
from sqlalchemy import event

from assistant_models.exceptions import FieldError, ValidationError

pytestmark = pytest.mark.integration

# pgvector-python's test data (tests/test_sqlalchemy.py): three rows, queried from [1, 1, 1]
ROWS = [[1, 1, 1], [2, 2, 2], [1, 1, 2]]


@pytest.fixture
def items(vector_lab):
    return [Item.objects.create(id=i, embedding=v) for i, v in enumerate(ROWS, start=1)]


def ids(rows) -> list[int]:
    return [row.id for row in rows]


# ------------------------------------------------------------------ the answers pgvector-python expects


def test_nearest_by_l2_distance(items):
    rows = Item.objects.nearest("embedding", [1, 1, 1], k=5, metric="l2")
    assert ids(rows) == [1, 3, 2]
    assert [row.distance for row in rows] == pytest.approx([0, 1, math.sqrt(3)])


def test_nearest_by_max_inner_product(items):
    rows = Item.objects.nearest("embedding", [1, 1, 1], k=5, metric="inner_product")
    assert ids(rows) == [2, 3, 1]
    assert [row.distance for row in rows] == pytest.approx([-6, -4, -3])
    assert [row.similarity for row in rows] == pytest.approx([6, 4, 3])


def test_nearest_by_cosine_distance_with_similarity(items):
    rows = Item.objects.nearest("embedding", [1, 1, 1], k=5)
    assert ids(rows) == [1, 2, 3]
    cosine = 4 / (math.sqrt(3) * math.sqrt(6))
    assert [row.distance for row in rows] == pytest.approx([0, 0, 1 - cosine], abs=1e-6)
    assert [row.similarity for row in rows] == pytest.approx([1, 1, cosine], abs=1e-6)


def test_nearest_by_l1_distance(items):
    rows = Item.objects.nearest("embedding", [1, 1, 1], k=5, metric="l1")
    assert ids(rows) == [1, 3, 2]
    assert [row.distance for row in rows] == pytest.approx([0, 1, 3])


def test_nearest_within_a_distance(items):
    # pgvector-python: Item.embedding.l2_distance([1, 1, 1]) < 1 keeps the first row only
    assert ids(Item.objects.nearest("embedding", [1, 1, 1], metric="l2", max_distance=0.5)) == [1]
    assert ids(Item.objects.nearest("embedding", [1, 1, 1], metric="l2", max_distance=1)) == [1, 3]


def test_nearest_keeps_the_querysets_filters_and_k(items):
    assert ids(Item.objects.exclude(id=1).nearest("embedding", [1, 1, 1], k=1, metric="l2")) == [3]
    assert ids(Item.objects.nearest("embedding", np.array([2.0, 2.0, 2.0]), k=2, metric="l2")) == [2, 3]


def test_nearest_skips_rows_without_a_vector(vector_lab, items):
    Item.objects.create(id=4, embedding=None)
    assert ids(Item.objects.nearest("embedding", [1, 1, 1], k=10, metric="l2")) == [1, 3, 2]


def test_nearest_rows_are_the_identity_maps_instances(items):
    (first,) = Item.objects.nearest("embedding", [1, 1, 1], k=1, metric="l2")
    assert first is items[0]
    assert list(first.embedding) == [1, 1, 1]


BAD_CALLS = [
    pytest.param({"vector": [1, 1]}, "vector", "must have 3 dimensions, not 2", id="dimensions"),
    pytest.param({"vector": [1, float("nan"), 1]}, "vector", "NaN", id="nan"),
    pytest.param({"vector": []}, "vector", "empty", id="empty"),
    pytest.param({"k": 0}, "k", "from 1 to 1000", id="k-zero"),
    pytest.param({"k": 1001}, "k", "from 1 to 1000", id="k-too-large"),
    pytest.param({"k": True}, "k", "whole number", id="k-bool"),
    pytest.param({"k": 2.5}, "k", "whole number", id="k-float"),
    pytest.param({"metric": "manhattan"}, "metric", "cosine", id="metric"),
    pytest.param({"max_distance": float("nan")}, "max_distance", "finite", id="max-distance-nan"),
    pytest.param({"max_distance": "1"}, "max_distance", "finite", id="max-distance-text"),
    pytest.param({"ef_search": 0}, "ef_search", "from 1 to 1000", id="ef-search"),
    pytest.param({"probes": 0}, "probes", "from 1 to 32768", id="probes"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_CALLS)
def test_nearest_refuses_bad_arguments_before_sql(items, statements, change, field, message):
    arguments = {"vector": [1, 1, 1], "k": 3} | change
    vector = arguments.pop("vector")
    statements.clear()
    with pytest.raises(ValidationError) as exc:
        Item.objects.nearest("embedding", vector, **arguments)
    assert message in {e["field"]: e["message"] for e in exc.value.errors}[field]
    assert statements == []


def test_nearest_refuses_a_field_that_is_not_a_vector(items, statements):
    statements.clear()
    with pytest.raises(FieldError, match="'label' is not a vector field of Item"):
        Item.objects.nearest("label", [1, 1, 1])
    with pytest.raises(FieldError, match="'nope' is not a vector field"):
        Item.objects.nearest("nope", [1, 1, 1])
    assert statements == []


def test_nearest_refuses_a_sliced_queryset(items):
    with pytest.raises(ValidationError, match="sliced"):
        Item.objects.all()[:2].nearest("embedding", [1, 1, 1])


def test_nearest_shares_one_built_statement_across_query_vectors(items, statements):
    Item.objects.nearest("embedding", [1, 1, 1], k=2, metric="l2")
    Item.objects.nearest("embedding", [2, 2, 2], k=2, metric="l2")
    selects = [s for s in statements if "lab_items" in s]
    assert len(selects) == 2 and selects[0] == selects[1]  # the vector is a parameter


# ------------------------------------------------------------------ the index, settings and filters


def unit_vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, DOC_DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


N_DOCS = 5000


@pytest.fixture
def docs(vector_lab):
    """5,000 documents in 100 categories (50 each), the HNSW index built over them, analyzed."""
    vectors = unit_vectors(N_DOCS, seed=7)
    conn = vector_lab.connection()
    # the index is built after the load, as in production
    conn.exec_driver_sql("DROP INDEX ix_lab_docs__embedding_hnsw_cosine")
    Doc.objects.bulk_insert(
        {"id": i, "category": i % 100, "body": f"doc {i}", "embedding": vectors[i]} for i in range(N_DOCS)
    )
    conn.exec_driver_sql(
        "CREATE INDEX ix_lab_docs__embedding_hnsw_cosine ON lab_docs "
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32)"
    )
    conn.exec_driver_sql("ANALYZE lab_docs")
    return vectors


def exact_nearest(vectors: np.ndarray, query: np.ndarray, k: int, keep=None) -> list[int]:
    distances = 1 - vectors @ (query / np.linalg.norm(query))
    order = [int(i) for i in np.argsort(distances, kind="stable") if keep is None or keep(int(i))]
    return order[:k]


@pytest.fixture
def sent(vector_lab):
    """Collect (SQL, parameters) of each statement, to replay it under EXPLAIN."""
    calls: list[tuple[str, object]] = []
    conn = vector_lab.connection()

    def collect(_conn, _cursor, statement, parameters, *_rest) -> None:
        calls.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", collect)
    yield calls
    event.remove(conn, "before_cursor_execute", collect)


def explain(vector_lab, call) -> str:
    statement, parameters = call
    cursor = vector_lab.connection().connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in cursor.fetchall())


def test_the_hnsw_index_serves_nearest(docs, vector_lab, sent):
    rows = Doc.objects.nearest("embedding", docs[11] + 0.01, k=10)
    assert len(rows) == 10
    (search,) = [call for call in sent if "lab_docs" in call[0]]
    plan = explain(vector_lab, search)
    assert "Index Scan using ix_lab_docs__embedding_hnsw_cosine" in plan, plan
    assert "Sort" not in plan.split("Index Scan")[0], plan


def test_nearest_finds_nearly_all_true_neighbours(docs):
    queries = unit_vectors(20, seed=99)
    found = 0
    for query in queries:
        got = ids(Doc.objects.nearest("embedding", query, k=10, ef_search=100))
        found += len(set(got) & set(exact_nearest(docs, query, 10)))
    assert found / (10 * len(queries)) >= 0.95


def test_a_filter_keeping_one_percent_still_returns_k_rows_from_the_index(docs, vector_lab, sent):
    # at this size the planner would rather read the 1 % and sort it (exact, and right):
    # take that choice away, so the index's iterative scan has to fill k rows on its own
    vector_lab.execute(sa.text("SET LOCAL enable_seqscan = off"))
    queries = unit_vectors(10, seed=5)
    found = 0
    for query in queries:
        sent.clear()
        rows = Doc.objects.filter(category=7).nearest("embedding", query, k=10)
        assert len(rows) == 10
        assert {row.category for row in rows} == {7}
        found += len(set(ids(rows)) & set(exact_nearest(docs, query, 10, keep=lambda i: i % 100 == 7)))
        searches = [call for call in sent if "lab_docs" in call[0]]
        assert len(searches) == 1  # the iterative index scan filled k: no exact repeat
        assert "Index Scan using ix_lab_docs__embedding_hnsw_cosine" in explain(vector_lab, searches[0])
    assert found / (10 * len(queries)) >= 0.9


def test_when_the_index_gives_up_the_search_is_repeated_exactly(docs, vector_lab):
    vector_lab.execute(sa.text("SET LOCAL enable_seqscan = off"))
    vector_lab.execute(sa.text("SET LOCAL hnsw.max_scan_tuples = 50"))  # the iterative scan stops early
    query = unit_vectors(1, seed=3)[0]
    rows = Doc.objects.filter(category=42).nearest("embedding", query, k=10)
    assert ids(rows) == exact_nearest(docs, query, 10, keep=lambda i: i % 100 == 42)


def test_fewer_than_k_rows_only_when_fewer_match(docs):
    rows = Doc.objects.filter(category=3, id__lt=300).nearest("embedding", docs[3], k=10)
    assert sorted(ids(rows)) == [3, 103, 203]
    assert rows[0].id == 3 and rows[0].distance == pytest.approx(0, abs=1e-6)


def setting(session, name: str) -> str:
    return session.execute(sa.text("SELECT current_setting(:n)"), {"n": name}).scalar_one()


def test_ef_search_holds_for_that_statement_only(docs, vector_lab, sent):
    vector_lab.execute(sa.text("SET LOCAL hnsw.ef_search = 77"))
    Doc.objects.filter(category=1).nearest("embedding", docs[1], k=5, ef_search=123)
    applied = [params for statement, params in sent if "set_config" in statement]
    assert any("123" in dict(params).values() for params in applied)
    assert setting(vector_lab, "hnsw.ef_search") == "77"
    assert setting(vector_lab, "hnsw.iterative_scan") == "off"


def test_an_unfiltered_search_within_the_candidate_list_changes_no_setting(hybrid_docs, statements):
    statements.clear()
    Doc.objects.nearest("embedding", hybrid_docs, k=3)
    assert len(statements) == 1


def test_inner_product_and_l2_searches_use_no_cosine_index_yet_answer_exactly(docs):
    query = docs[5]
    rows = Doc.objects.nearest("embedding", query, k=3, metric="l2")
    expected = np.argsort(np.linalg.norm(docs - query, axis=1), kind="stable")[:3]
    assert ids(rows) == [int(i) for i in expected]


def test_anearest_runs_in_an_async_unit_of_work(pgvector, arun, adb_session):
    async def scenario():
        conn = await adb_session.connection()
        from lab_models import create_vector_lab_tables

        await conn.run_sync(create_vector_lab_tables)
        for i, v in enumerate(ROWS, start=1):
            await Item.objects.acreate(id=i, embedding=v)
        return await Item.objects.anearest("embedding", [1, 1, 1], k=2, metric="l2")

    assert ids(arun(scenario())) == [1, 3]


# ------------------------------------------------------------------ hybrid search

HYBRID = [
    (1, "postgres vector search with hnsw", [1.0, 0.0]),
    (2, "postgres full text search", [0.0, 1.0]),
    (3, "cooking pasta at home", [0.9, 0.1]),
    (4, "vector databases compared", [0.7, 0.3]),
    (5, "gardening in spring", [-0.2, -1.0]),
]


@pytest.fixture
def hybrid_docs(vector_lab):
    for key, body, head in HYBRID:
        Doc.objects.create(id=key, category=key % 2, body=body, embedding=head + [0.0] * (DOC_DIMENSIONS - 2))
    return [1.0, 0.0] + [0.0] * (DOC_DIMENSIONS - 2)


def rrf(rankings: list[list[int]], rrf_k: int = 60) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1 / (rrf_k + rank)
    return scores


def test_hybrid_search_fuses_word_and_meaning_ranks(hybrid_docs):
    by_words = ids(Doc.objects.search("postgres search"))
    by_meaning = ids(Doc.objects.nearest("embedding", hybrid_docs, k=5))
    expected = rrf([by_words, by_meaning])

    rows = Doc.objects.hybrid_search("postgres search", "embedding", hybrid_docs, k=5)

    ordered = sorted(expected, key=lambda key: (-expected[key], key))
    assert ids(rows) == ordered
    assert [row.score for row in rows] == pytest.approx([expected[key] for key in ordered])
    for row in rows:
        assert row.text_rank == (by_words.index(row.id) + 1 if row.id in by_words else None)
        assert row.vector_rank == by_meaning.index(row.id) + 1


def test_hybrid_search_with_its_own_constant_candidates_and_filters(hybrid_docs):
    by_words = ids(Doc.objects.filter(category=1).search("postgres search"))
    by_meaning = ids(Doc.objects.filter(category=1).nearest("embedding", hybrid_docs, k=2))
    expected = rrf([by_words[:2], by_meaning], rrf_k=1)

    rows = Doc.objects.filter(category=1).hybrid_search(
        "postgres search", "embedding", hybrid_docs, k=2, rrf_k=1, candidates=2
    )

    assert {row.category for row in rows} == {1}
    assert ids(rows) == sorted(expected, key=lambda key: (-expected[key], key))[:2]


def test_hybrid_search_is_one_statement(hybrid_docs, statements):
    statements.clear()
    Doc.objects.hybrid_search("pasta", "embedding", hybrid_docs, k=3)
    assert len([s for s in statements if "lab_docs" in s]) == 1


def test_hybrid_search_refuses_bad_arguments_before_sql(hybrid_docs, statements):
    statements.clear()
    with pytest.raises(ValidationError, match="rrf_k"):
        Doc.objects.hybrid_search("x", "embedding", hybrid_docs, rrf_k=-1)
    with pytest.raises(ValidationError, match="candidates"):
        Doc.objects.hybrid_search("x", "embedding", hybrid_docs, candidates=0)
    with pytest.raises(ValidationError, match="must have 16 dimensions"):
        Doc.objects.hybrid_search("x", "embedding", [1.0, 2.0])
    with pytest.raises(FieldError, match="searchable"):
        Item.objects.hybrid_search("x", "embedding", [1, 1, 1])
    assert statements == []


def test_nearest_reads_through_the_cached_direct_path(hybrid_docs, monkeypatch):
    from assistant_models.core import direct

    taken: list[str] = []
    original = direct.DirectStatement.rows

    def counting(self, connection, params):
        taken.append(self.sql)
        return original(self, connection, params)

    monkeypatch.setattr(direct.DirectStatement, "rows", counting)
    Doc.objects.nearest("embedding", hybrid_docs, k=2)
    Doc.objects.nearest("embedding", [0.5] * DOC_DIMENSIONS, k=2)
    assert len(taken) == 2 and taken[0] == taken[1] and "<=>" in taken[0]
