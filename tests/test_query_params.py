"""Query parameters: every value keeps a name of its own, so a statement built once serves any values."""

import pytest
import sqlalchemy as sa

from assistant_models import Case, F, Q, SearchMatch, SearchQuery, SearchRank, Value, When
from assistant_models.models import Task


def _task(title: str, priority: int, **fields) -> Task:
    return Task.objects.enqueue(title, priority=priority, **fields)


def test_a_null_lookup_before_a_value_does_not_lend_its_name_to_the_next_filter(db_session):
    _task("kept", 3)
    _task("other", 9)
    qs = Task.objects.filter(due_at=None, priority=3).filter(title="kept")
    assert [t.title for t in qs] == ["kept"]
    assert sorted(qs.query.params.values(), key=str) == [3, "kept"]


def test_an_isnull_lookup_does_not_lend_its_name_either(db_session):
    _task("kept", 3)
    qs = Task.objects.filter(due_at__isnull=True, priority=3).filter(title="kept")
    assert qs.count() == 1


def test_combined_queries_keep_every_value_after_null_lookups(db_session):
    _task("left", 3)
    _task("right", 5)
    _task("neither", 7)
    left = Task.objects.filter(due_at=None, priority=3)
    right = Task.objects.filter(due_at__isnull=True, title="right")
    combined = (left | right).filter(priority__lt=7)
    assert sorted(t.title for t in combined) == ["left", "right"]


# -- search text as a parameter -------------------------------------------------------------


@pytest.fixture
def docs(db_session):
    return [
        _task("Deploy the API gateway", 5, description="rolling deploy to production"),
        _task("Write release notes", 3, description="mention the gateway deploy"),
        _task("Fix login bug", 7, description="users cannot sign in"),
    ]


def test_searches_for_different_texts_share_one_statement_and_find_their_own_rows(docs):
    deploy, login = Task.objects.search("deploy")[:20], Task.objects.search("login")[:20]
    assert deploy.query.shape is not None and deploy.query.shape == login.query.shape
    assert deploy.statement() is login.statement()
    assert [t.title for t in deploy] == ["Deploy the API gateway", "Write release notes"]
    assert [t.title for t in login] == ["Fix login bug"]


def test_a_match_filter_and_a_rank_annotation_bind_their_text_too(docs):
    query = SearchQuery("release notes")
    qs = Task.objects.filter(SearchMatch(query)).annotate(rank=SearchRank(query)).order_by(F("rank").desc())
    other = (
        Task.objects.filter(SearchMatch("login"))
        .annotate(rank=SearchRank("login"))
        .order_by(F("rank").desc())
    )
    assert qs.query.shape is not None and qs.query.shape == other.query.shape
    assert [t.title for t in qs] == ["Write release notes"]
    assert [t.title for t in other] == ["Fix login bug"] and other[0].rank > 0


def test_a_search_inside_a_subquery_keeps_its_text_apart_from_the_outer_values(docs):
    inner = Task.objects.search("deploy").values("pk")
    outer = Task.objects.filter(priority__gte=4, pk__in=inner)
    assert [t.title for t in outer] == ["Deploy the API gateway"]


def test_combined_searches_keep_both_texts(docs):
    either = Task.objects.filter(SearchMatch("login")) | Task.objects.filter(SearchMatch("release"))
    assert sorted(t.title for t in either) == ["Fix login bug", "Write release notes"]


def test_matches_inside_a_conditional_expression_carry_their_own_texts(docs):
    flagged = Task.objects.filter(priority__gte=3).annotate(
        hit=Case(
            When(Q(SearchMatch("login")), then=Value(1)),
            When(Q(SearchMatch("release")), then=Value(2)),
            default=Value(0),
        )
    )
    assert sorted((t.title, t.hit) for t in flagged) == [
        ("Deploy the API gateway", 0),
        ("Fix login bug", 1),
        ("Write release notes", 2),
    ]


def test_an_annotation_of_a_known_shape_is_typed_without_compiling_it_again(db_session, monkeypatch):
    from assistant_models.core import queryset

    Task.objects.alias(rank=SearchRank("first"))
    compiled = []
    real = queryset.Compiler.annotation_sql

    def counting(self, name):
        compiled.append(name)
        return real(self, name)

    monkeypatch.setattr(queryset.Compiler, "annotation_sql", counting)
    qs = Task.objects.alias(rank=SearchRank("second"))
    assert compiled == []
    assert isinstance(qs.query.annotation("rank").type_, sa.Float)
