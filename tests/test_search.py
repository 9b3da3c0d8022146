"""Full-text search: ranked, and safe for any input string."""

import pytest
from sqlalchemy import text

from assistant_models import FieldError, ValidationError
from assistant_models.models import AuthSession, Task

HOSTILE = [
    "' OR 1=1 --",
    "a & | ! ( ) :* <-> b",
    '"unclosed',
    "%_\\",
    "\x00",
    "",
    "   ",
    "the and of",
    "🙂 ünïcödé",
    "x" * 5000,
]


@pytest.fixture
def docs(db_session):
    return [
        Task.objects.enqueue("Deploy the API gateway", description="rolling deploy to production"),
        Task.objects.enqueue("Write release notes", description="mention the gateway deploy"),
        Task.objects.enqueue("Fix login bug", description="users cannot sign in"),
    ]


def test_search_finds_matching_rows_best_first(docs):
    found = [t.title for t in Task.objects.search("deploy gateway")]
    assert found == ["Deploy the API gateway", "Write release notes"]


def test_search_uses_stemming_and_web_syntax(docs):
    assert [t.title for t in Task.objects.search("deploying")] == [
        "Deploy the API gateway",
        "Write release notes",
    ]
    assert [t.title for t in Task.objects.search("gateway -notes")] == ["Deploy the API gateway"]
    assert [t.title for t in Task.objects.search('"release notes"')] == ["Write release notes"]
    assert [t.title for t in Task.objects.search("login or sign")] == ["Fix login bug"]


@pytest.mark.parametrize("text", HOSTILE)
def test_any_input_string_is_safe(docs, text):
    assert isinstance(list(Task.objects.search(text)), list)


def test_search_composes_with_filters_and_pagination(docs):
    qs = Task.objects.filter(title__startswith="Write").search("deploy")
    assert [t.title for t in qs] == ["Write release notes"]
    assert Task.objects.search("deploy").paginate(page=1, per_page=1).total == 2


def test_search_skips_soft_deleted_rows(docs):
    docs[0].delete()
    assert [t.title for t in Task.objects.search("gateway")] == ["Write release notes"]


def test_models_without_searchable_fields_refuse_search(db_session):
    with pytest.raises(FieldError):
        AuthSession.objects.search("anything")


def test_search_needs_a_string(docs):
    with pytest.raises(ValidationError):
        Task.objects.search(42)


def test_search_is_served_by_the_gin_index_of_the_stored_vector(docs, db_session):
    db_session.execute(
        text(
            "INSERT INTO tasks (id, title, status, priority, retry_count, max_retries) "
            "SELECT gen_random_uuid(), 'routine chore ' || n, 'pending', 5, 0, 3 "
            "FROM generate_series(1, 20000) AS n"
        )
    )
    db_session.execute(text("ANALYZE tasks"))
    db_session.execute(text("SET LOCAL enable_seqscan = off"))  # the planner's guess for a rare term varies
    # all_objects: live-row searches may also be answered through the queue's partial index
    # (deleted_at IS NULL) on a made-up table like this one; the vector's own index must serve
    plan = Task.all_objects.search("deploy").explain()
    assert "Bitmap Index Scan on ix_tasks__search" in plan
    assert "to_tsvector" not in plan  # match and rank read the stored vector: no parsing per row


def test_search_is_an_expression_among_others(docs):
    from assistant_models import F, SearchMatch, SearchQuery, SearchRank

    query = SearchQuery("release notes")
    ranked = (
        Task.objects.filter(SearchMatch(query)).annotate(rank=SearchRank(query)).order_by(F("rank").desc())
    )
    rows = list(ranked.values_list("title", "rank"))
    assert rows[0][0] == "Write release notes" and rows[0][1] > 0
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    page = ranked.paginate(page=1, per_page=1)
    assert page.total == len(rows) and page.items[0].rank == rows[0][1]
