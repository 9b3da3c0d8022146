"""Port of Django's ``tests/ordering/tests.py`` onto the package.

Same data, same queries, same expected results. ``Meta.ordering`` is spelled
``__ordering__``; Django's ``F("headline")``/``OrderBy(...)`` members of the model's
ordering are spelled as names. Datetimes are UTC-aware.

Not ported: ``extra(order_by=...)``, ``RawSQL`` ordering, the deprecation tests,
multi-table-inheritance ordering (``ChildArticle``) and ordering by expressions in
``Meta.ordering`` of proxy/inherited models (``OrderedByFArticle``, ``OrderedByExpression``).
"""

from types import SimpleNamespace

import pytest
from models_small import OrderingArticle as Article
from models_small import OrderingAuthor as Author
from models_small import OrderingBase as AppBase
from port_base import Refused, utc

from assistant_models import F

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def d(save):
    """Django's ``OrderingTests.setUpTestData``."""
    a1 = save(Article(headline="Article 1", pub_date=utc(2005, 7, 26)))
    a2 = save(Article(headline="Article 2", pub_date=utc(2005, 7, 27)))
    a3 = save(Article(headline="Article 3", pub_date=utc(2005, 7, 27)))
    a4 = save(Article(headline="Article 4", pub_date=utc(2005, 7, 28)))
    author_1 = save(Author(name="Name 1"))
    author_2 = save(Author(name="Name 2"))
    save(Author(), Author())
    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "save"})


def headlines(qs):
    return [a.headline for a in qs]


def test_default_ordering(d):
    assert headlines(Article.objects.all()) == ["Article 4", "Article 2", "Article 3", "Article 1"]


def test_default_ordering_override(d):
    assert headlines(Article.objects.order_by("headline")) == [
        "Article 1",
        "Article 2",
        "Article 3",
        "Article 4",
    ]
    assert headlines(Article.objects.order_by("pub_date", "-headline")) == [
        "Article 1",
        "Article 3",
        "Article 2",
        "Article 4",
    ]


def test_order_by_override(d):
    assert headlines(Article.objects.order_by("id")) == ["Article 1", "Article 2", "Article 3", "Article 4"]
    assert headlines(Article.objects.order_by("id").order_by("-headline")) == [
        "Article 4",
        "Article 3",
        "Article 2",
        "Article 1",
    ]


def test_order_by_nulls_first_and_last_are_exclusive(d):
    with pytest.raises(Refused):
        list(Article.objects.order_by(F("author").desc(nulls_last=True, nulls_first=True)))


def _with_authors(d, save):
    d.a3.author = d.author_1
    d.a4.author = d.author_2
    save(d.a3, d.a4)


def test_order_by_nulls_last(d, save):
    _with_authors(d, save)
    assert list(Article.objects.order_by(F("author").desc(nulls_last=True), "headline")) == [
        d.a4,
        d.a3,
        d.a1,
        d.a2,
    ]
    assert list(Article.objects.order_by(F("author").asc(nulls_last=True), "headline")) == [
        d.a3,
        d.a4,
        d.a1,
        d.a2,
    ]


def test_order_by_nulls_last_of_a_function(d, save):
    from assistant_models import Upper

    _with_authors(d, save)
    qs = Article.objects.order_by(Upper("author__name").desc(nulls_last=True), "headline")
    assert list(qs) == [d.a4, d.a3, d.a1, d.a2]
    qs = Article.objects.order_by(Upper("author__name").asc(nulls_last=True), "headline")
    assert list(qs) == [d.a3, d.a4, d.a1, d.a2]


def test_order_by_nulls_first(d, save):
    _with_authors(d, save)
    assert list(Article.objects.order_by(F("author").asc(nulls_first=True), "headline")) == [
        d.a1,
        d.a2,
        d.a3,
        d.a4,
    ]
    assert list(Article.objects.order_by(F("author").desc(nulls_first=True), "headline")) == [
        d.a1,
        d.a2,
        d.a4,
        d.a3,
    ]


def test_order_by_nulls_first_of_a_function(d, save):
    from assistant_models import Upper

    _with_authors(d, save)
    qs = Article.objects.order_by(Upper("author__name").asc(nulls_first=True), "headline")
    assert list(qs) == [d.a1, d.a2, d.a3, d.a4]
    qs = Article.objects.order_by(Upper("author__name").desc(nulls_first=True), "headline")
    assert list(qs) == [d.a1, d.a2, d.a4, d.a3]


def test_order_by_f_of_the_foreign_key_column(d, save):
    _with_authors(d, save)
    qs = Article.objects.order_by(F("author_id").desc(nulls_last=True), "headline")
    assert list(qs) == [d.a4, d.a3, d.a1, d.a2]


def test_stop_slicing(d):
    assert headlines(Article.objects.all()[:2]) == ["Article 4", "Article 2"]


def test_stop_start_slicing(d):
    assert headlines(Article.objects.all()[1:3]) == ["Article 2", "Article 3"]


def test_random_ordering(d):
    assert len(list(Article.objects.order_by("?"))) == 4


def test_reversed_ordering(d):
    assert headlines(Article.objects.all().reverse()) == ["Article 1", "Article 3", "Article 2", "Article 4"]


def test_reverse_ordering_pure(d):
    qs1 = Article.objects.order_by(F("headline").asc())
    qs2 = qs1.reverse()
    assert headlines(qs2) == ["Article 4", "Article 3", "Article 2", "Article 1"]
    assert headlines(qs1) == ["Article 1", "Article 2", "Article 3", "Article 4"]


def test_reverse_meta_ordering_pure(d, save):
    save(
        Article(headline="Article 5", pub_date=utc(2005, 7, 30), author=d.author_1, second_author=d.author_2)
    )
    save(
        Article(headline="Article 5", pub_date=utc(2005, 7, 30), author=d.author_2, second_author=d.author_1)
    )
    assert [a.author.name for a in Article.objects.filter(headline="Article 5").reverse()] == [
        "Name 2",
        "Name 1",
    ]
    assert [a.author.name for a in Article.objects.filter(headline="Article 5")] == ["Name 1", "Name 2"]


def test_no_reordering_after_slicing(d):
    qs = Article.objects.all()[0:2]
    with pytest.raises(Refused):
        qs.reverse()
    with pytest.raises(Refused):
        qs.last()


def test_order_by_pk(d):
    assert [a.pk for a in Author.objects.order_by("-pk")] == sorted(
        (a.id for a in Author.objects.all()), reverse=True
    )


def test_meta_ordering_by_pk_descending(d):
    assert [a.id for a in Author.objects.all()] == sorted(
        (a.id for a in Author.objects.order_by("id")), reverse=True
    )


def test_order_by_fk_attname(d, save):
    _with_authors(d, save)
    assert list(Article.objects.filter(author_id__isnull=False).order_by("author_id")) == [d.a3, d.a4]


def test_order_by_relation_name_follows_its_key(d, save):
    _with_authors(d, save)
    assert list(Article.objects.filter(author__isnull=False).order_by("author")) == [d.a4, d.a3]


def test_order_by_f_expression(d):
    assert headlines(Article.objects.order_by(F("headline"))) == [
        "Article 1",
        "Article 2",
        "Article 3",
        "Article 4",
    ]
    assert headlines(Article.objects.order_by(F("headline").asc())) == [
        "Article 1",
        "Article 2",
        "Article 3",
        "Article 4",
    ]
    assert headlines(Article.objects.order_by(F("headline").desc())) == [
        "Article 4",
        "Article 3",
        "Article 2",
        "Article 1",
    ]


def test_order_by_f_expression_duplicates(d):
    qs = Article.objects.order_by(F("headline").asc(), F("headline").desc())
    assert headlines(qs) == ["Article 1", "Article 2", "Article 3", "Article 4"]


def test_order_by_constant_value(d):
    import sqlalchemy as sa

    from assistant_models import Value

    qs = Article.objects.annotate(constant=Value("1", sa.String())).order_by("constant", "-headline")
    assert list(qs) == [d.a4, d.a3, d.a2, d.a1]


def test_order_by_annotation_name(d):
    from assistant_models import Lower

    qs = Article.objects.annotate(lower=Lower("headline")).order_by("-lower")
    assert headlines(qs) == ["Article 4", "Article 3", "Article 2", "Article 1"]


def test_related_ordering_across_the_default_ordering(d, save):
    _with_authors(d, save)
    assert headlines(Article.objects.order_by("author__name", "headline")) == [
        "Article 3",
        "Article 4",
        "Article 1",
        "Article 2",
    ]


def test_latest_and_earliest_of_a_field(d):
    assert Article.objects.latest("pub_date") == d.a4
    assert Article.objects.earliest("pub_date") == d.a1
    assert Article.objects.earliest("pub_date", "-headline") == d.a1
    assert Article.objects.filter(pub_date=utc(2005, 7, 27)).latest("headline") == d.a3


def test_latest_of_an_empty_queryset_raises_does_not_exist(save):
    with pytest.raises(Article.DoesNotExist):
        Article.objects.latest("pub_date")


def test_first_and_last_follow_the_default_ordering(d):
    assert Article.objects.first() == d.a4
    assert Article.objects.last() == d.a1
