"""Port of Django's ``tests/lookup/tests.py`` (LookupTests, LookupQueryingTests) onto the package.

Same data, same queries, same expected results. Differences on purpose:
datetimes are timezone-aware UTC (the package refuses naive ones); ``setUp`` data is
written through the session so the queries under test do not depend on ``create()``.

Not ported (Django internals or other back ends): ``extra()``/``RawSQL`` cases,
custom ``Lookup`` class registration tests, ``test_lookup_date_as_str`` (needs the
database feature ``supports_date_lookup_using_string``), MySQL/Oracle/SQLite-only tests,
``test_error_messages`` wording of Django's ``FieldError`` hints, and the JSON tests
beyond the lookups issue 5 names (they belong to ``model_fields``).
"""

import collections.abc
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from models_lookup import Article, Author, Game, NullableJSONModel, Player, Product, Season, Stock, Tag
from models_lookup import Base as AppBase
from port_base import Refused, names, utc

from assistant_models import F, FieldError, Q, ValidationError

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def d(save):
    """Django's ``LookupTests.setUpTestData``."""
    au1 = save(Author(name="Author 1", alias="a1"))
    au2 = save(Author(name="Author 2", alias="a2"))
    a1 = Article(headline="Article 1", pub_date=utc(2005, 7, 26), author=au1, slug="a1")
    a2 = Article(headline="Article 2", pub_date=utc(2005, 7, 27), author=au1, slug="a2")
    a3 = Article(headline="Article 3", pub_date=utc(2005, 7, 27), author=au1, slug="a3")
    a4 = Article(headline="Article 4", pub_date=utc(2005, 7, 28), author=au1, slug="a4")
    a5 = Article(headline="Article 5", pub_date=utc(2005, 8, 1, 9, 0), author=au2, slug="a5")
    a6 = Article(headline="Article 6", pub_date=utc(2005, 8, 1, 8, 0), author=au2, slug="a6")
    a7 = Article(headline="Article 7", pub_date=utc(2005, 7, 27), author=au2, slug="a7")
    save(a1, a2, a3, a4, a5, a6, a7)
    t1, t2, t3 = Tag(name="Tag 1"), Tag(name="Tag 2"), Tag(name="Tag 3")
    t1.articles.extend([a1, a2, a3])
    t2.articles.extend([a3, a4, a5])
    t3.articles.extend([a5, a6, a7])
    save(t1, t2, t3)
    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "save"})


def headlines(qs):
    return names(qs, "headline")


def test_exists_is_true_then_false_once_every_article_is_deleted(d, db_session):
    assert Article.objects.exists()
    for a in Article.objects.all():
        db_session.delete(a)
    db_session.flush()
    assert not Article.objects.exists()


def test_exists_on_an_unfiltered_empty_table_is_false(save):
    assert not Author.objects.exists()
    assert not Article.objects.all().exists()


def test_an_integer_can_be_looked_up_with_a_string_through_iexact(d):
    assert list(Article.objects.filter(id__iexact=str(d.a1.id))) == [d.a1]


def test_iterator_yields_the_default_ordering_lazily(d):
    assert isinstance(Article.objects.iterator(), collections.abc.Iterator)
    expected = ["Article 5", "Article 6", "Article 4", "Article 2", "Article 3", "Article 7", "Article 1"]
    assert headlines(Article.objects.iterator()) == expected
    assert headlines(Article.objects.filter(headline__endswith="4").iterator()) == ["Article 4"]


def test_count_follows_the_filters(d):
    assert Article.objects.count() == 7
    assert Article.objects.filter(pub_date__exact=utc(2005, 7, 27)).count() == 3
    assert Article.objects.filter(headline__startswith="Blah blah").count() == 0


def test_count_respects_slices(d):
    articles = Article.objects.all()
    assert articles.count() == 7
    assert articles[:4].count() == 4
    assert articles[1:100].count() == 6
    assert articles[10:100].count() == 0


def test_in_bulk_maps_ids_to_objects(d):
    arts = Article.objects.in_bulk([d.a1.id, d.a2.id])
    assert arts[d.a1.id] == d.a1
    assert arts[d.a2.id] == d.a2
    everything = {a.id: a for a in (d.a1, d.a2, d.a3, d.a4, d.a5, d.a6, d.a7)}
    assert Article.objects.in_bulk() == everything
    assert Article.objects.in_bulk([d.a3.id]) == {d.a3.id: d.a3}
    assert Article.objects.in_bulk({d.a3.id}) == {d.a3.id: d.a3}
    assert Article.objects.in_bulk(frozenset([d.a3.id])) == {d.a3.id: d.a3}
    assert Article.objects.in_bulk((d.a3.id,)) == {d.a3.id: d.a3}
    assert Article.objects.in_bulk([1000]) == {}
    assert Article.objects.in_bulk([]) == {}


def test_in_bulk_takes_iterators(d):
    assert Article.objects.in_bulk(iter([d.a1.id])) == {d.a1.id: d.a1}
    assert Article.objects.in_bulk(iter([])) == {}


def test_in_bulk_refuses_lookup_keywords(d):
    with pytest.raises(TypeError):
        Article.objects.in_bulk(headline__startswith="Blah")


def test_in_bulk_by_a_unique_field_name(d):
    arts = Article.objects.in_bulk(["a1", "a2"], field_name="slug")
    assert arts == {"a1": d.a1, "a2": d.a2}


def test_in_bulk_with_an_offset_is_refused(d):
    with pytest.raises(Refused):
        Article.objects.all()[1:].in_bulk([d.a1.id])


def test_values_returns_dicts_in_the_default_ordering(d):
    assert list(Article.objects.values("headline")) == [
        {"headline": h}
        for h in ["Article 5", "Article 6", "Article 4", "Article 2", "Article 3", "Article 7", "Article 1"]
    ]


def test_values_of_a_filter(d):
    qs = Article.objects.filter(pub_date__exact=utc(2005, 7, 27)).values("id")
    assert list(qs) == [{"id": d.a2.id}, {"id": d.a3.id}, {"id": d.a7.id}]


def test_values_with_two_fields(d):
    order = [d.a5, d.a6, d.a4, d.a2, d.a3, d.a7, d.a1]
    assert list(Article.objects.values("id", "headline")) == [
        {"id": a.id, "headline": a.headline} for a in order
    ]
    assert list(Article.objects.values("id", "headline").iterator()) == [
        {"id": a.id, "headline": a.headline} for a in order
    ]


def test_values_across_a_forward_relation(d):
    order = [d.a5, d.a6, d.a4, d.a2, d.a3, d.a7, d.a1]
    assert list(Article.objects.values("headline", "author__name")) == [
        {"headline": a.headline, "author__name": a.author.name} for a in order
    ]


def test_values_across_a_reverse_relation(d):
    qs = Author.objects.values("name", "article__headline").order_by("name", "article__headline")
    assert list(qs) == [
        {"name": "Author 1", "article__headline": "Article 1"},
        {"name": "Author 1", "article__headline": "Article 2"},
        {"name": "Author 1", "article__headline": "Article 3"},
        {"name": "Author 1", "article__headline": "Article 4"},
        {"name": "Author 2", "article__headline": "Article 5"},
        {"name": "Author 2", "article__headline": "Article 6"},
        {"name": "Author 2", "article__headline": "Article 7"},
    ]


EXPECTED_AUTHOR_ARTICLE_TAG = [
    ("Author 1", "Article 1", "Tag 1"),
    ("Author 1", "Article 2", "Tag 1"),
    ("Author 1", "Article 3", "Tag 1"),
    ("Author 1", "Article 3", "Tag 2"),
    ("Author 1", "Article 4", "Tag 2"),
    ("Author 2", "Article 5", "Tag 2"),
    ("Author 2", "Article 5", "Tag 3"),
    ("Author 2", "Article 6", "Tag 3"),
    ("Author 2", "Article 7", "Tag 3"),
]


def test_values_across_two_reverse_relations(d):
    args = ("name", "article__headline", "article__tag__name")
    qs = Author.objects.values(*args).order_by(*args)
    assert list(qs) == [dict(zip(args, row, strict=True)) for row in EXPECTED_AUTHOR_ARTICLE_TAG]


def test_values_of_an_unknown_field_raises_field_error(d):
    with pytest.raises(FieldError):
        list(Article.objects.values("id", "id_plus_two"))


def test_values_without_fields_returns_every_column(d):
    assert list(Article.objects.filter(id=d.a5.id).values()) == [
        {
            "id": d.a5.id,
            "author_id": d.au2.id,
            "headline": "Article 5",
            "pub_date": utc(2005, 8, 1, 9, 0),
            "slug": "a5",
        }
    ]


def test_values_list_returns_tuples(d):
    expected = ["Article 5", "Article 6", "Article 4", "Article 2", "Article 3", "Article 7", "Article 1"]
    assert list(Article.objects.values_list("headline")) == [(h,) for h in expected]


def test_values_list_can_be_ordered_afterwards(d):
    ids = [a.id for a in (d.a1, d.a2, d.a3, d.a4, d.a5, d.a6, d.a7)]
    assert list(Article.objects.values_list("id").order_by("id")) == [(i,) for i in ids]
    assert list(Article.objects.values_list("id", flat=True).order_by("id")) == ids


def test_values_list_across_relations(d):
    args = ("name", "article__headline", "article__tag__name")
    assert list(Author.objects.values_list(*args).order_by(*args)) == EXPECTED_AUTHOR_ARTICLE_TAG


def test_values_list_flat_with_two_fields_is_refused(d):
    with pytest.raises(Refused):
        Article.objects.values_list("id", "headline", flat=True)


def test_values_list_named_returns_named_tuples(d):
    row = Article.objects.filter(id=d.a1.id).values_list("id", "headline", named=True).get()
    assert (row.id, row.headline) == (d.a1.id, "Article 1")


def test_get_next_and_previous_by_date_ordering(d):
    # Django's get_next_by_FOO is ordering by (date, pk) after a row: the same query spelled out.
    after = Article.objects.filter(
        Q(pub_date__gt=d.a2.pub_date) | Q(pub_date=d.a2.pub_date, id__gt=d.a2.id)
    ).order_by("pub_date", "id")
    assert after.first() == d.a3


def test_no_mutable_state_is_shared_between_querysets_and_their_filters(d):
    articles = Article.objects.all()
    filtered = articles.filter(headline__startswith="Article 1")
    assert articles.count() == 7
    assert headlines(filtered) == ["Article 1"]


def test_escaping_of_like_wildcards(d, save):
    save(Article(headline="Article_ with underscore", pub_date=utc(2005, 11, 20)))
    assert headlines(Article.objects.filter(headline__startswith="Article")) == [
        "Article_ with underscore",
        "Article 5",
        "Article 6",
        "Article 4",
        "Article 2",
        "Article 3",
        "Article 7",
        "Article 1",
    ]
    assert headlines(Article.objects.filter(headline__startswith="Article_")) == ["Article_ with underscore"]
    save(Article(headline="Article% with percent sign", pub_date=utc(2005, 11, 21)))
    assert headlines(Article.objects.filter(headline__startswith="Article%")) == [
        "Article% with percent sign"
    ]


def test_escaping_in_contains_icontains_endswith(d, save):
    save(Article(headline="Article with \\ backslash", pub_date=utc(2005, 11, 22)))
    assert headlines(Article.objects.filter(headline__contains="\\")) == ["Article with \\ backslash"]
    assert headlines(Article.objects.filter(headline__icontains="_")) == []
    assert headlines(Article.objects.filter(headline__endswith="\\ backslash")) == [
        "Article with \\ backslash"
    ]


def test_exclude_by_text_lookups(d, save):
    save(Article(headline="Article_ with underscore", pub_date=utc(2005, 11, 20)))
    save(Article(headline="Article% with percent sign", pub_date=utc(2005, 11, 21)))
    save(Article(headline="Article with \\ backslash", pub_date=utc(2005, 11, 22)))
    assert headlines(
        Article.objects.filter(headline__contains="Article").exclude(headline__contains="with")
    ) == [
        "Article 5",
        "Article 6",
        "Article 4",
        "Article 2",
        "Article 3",
        "Article 7",
        "Article 1",
    ]
    assert headlines(Article.objects.exclude(headline__startswith="Article_")) == [
        "Article with \\ backslash",
        "Article% with percent sign",
        "Article 5",
        "Article 6",
        "Article 4",
        "Article 2",
        "Article 3",
        "Article 7",
        "Article 1",
    ]
    assert headlines(Article.objects.exclude(headline="Article 7")) == [
        "Article with \\ backslash",
        "Article% with percent sign",
        "Article_ with underscore",
        "Article 5",
        "Article 6",
        "Article 4",
        "Article 2",
        "Article 3",
        "Article 1",
    ]


def test_none_returns_an_empty_queryset_that_chains(d):
    assert list(Article.objects.none()) == []
    assert list(Article.objects.none().filter(headline__startswith="Article")) == []
    assert list(Article.objects.filter(headline__startswith="Article").none()) == []
    assert Article.objects.none().count() == 0
    assert Article.objects.none().update(headline="This should not take effect") == 0
    assert list(Article.objects.none().iterator()) == []


def test_in_with_an_empty_list_matches_nothing(d):
    assert list(Article.objects.filter(id__in=[])) == []
    assert headlines(Article.objects.exclude(id__in=[])) == [
        "Article 5",
        "Article 6",
        "Article 4",
        "Article 2",
        "Article 3",
        "Article 7",
        "Article 1",
    ]


def test_in_with_a_queryset_as_value(d):
    inner = Author.objects.filter(name="Author 2").values("id")
    assert headlines(Article.objects.filter(author_id__in=inner)) == ["Article 5", "Article 6", "Article 7"]


def test_in_keeps_none_out(d):
    assert headlines(Article.objects.filter(author_id__in=[None, d.au2.id])) == [
        "Article 5",
        "Article 6",
        "Article 7",
    ]


def test_unknown_lookup_raises_field_error(d):
    with pytest.raises(FieldError):
        list(Article.objects.filter(pub_date_year="2005"))
    with pytest.raises(FieldError):
        list(Article.objects.filter(headline__starts="Article"))


def test_unsupported_lookup_on_a_related_field_raises_field_error(d):
    with pytest.raises(FieldError):
        list(Article.objects.filter(author__name__starts="Author"))


def test_regex_lookups(save):
    for h in ["f", "fo", "foo", "fooo", "hey-Foo", "bar", "AbBa", "baz", "baxZ"]:
        save(Article(pub_date=utc(2005, 7, 26), headline=h))

    def match(**kw):
        return sorted(headlines(Article.objects.filter(**kw)))

    assert match(headline__regex=r"fo*") == ["f", "fo", "foo", "fooo"]
    assert match(headline__iregex=r"fo*") == ["f", "fo", "foo", "fooo", "hey-Foo"]
    assert match(headline__regex=r"fo+") == ["fo", "foo", "fooo"]
    assert match(headline__regex=r"fooo?") == ["foo", "fooo"]
    assert match(headline__regex=r"^b") == ["bar", "baxZ", "baz"]
    assert match(headline__iregex=r"^a") == ["AbBa"]
    assert match(headline__regex=r"z$") == ["baz"]
    assert match(headline__iregex=r"z$") == ["baxZ", "baz"]
    assert match(headline__regex=r"ba[rz]") == ["bar", "baz"]
    assert match(headline__regex=r"ba.[RxZ]") == ["baxZ"]
    assert match(headline__iregex=r"ba[RxZ]") == ["bar", "baxZ", "baz"]


def test_regex_with_alternation_and_groups(save):
    for h in ["foobar", "foobaz", "ooF", "foobarbaz", "zoocarfaz", "barfoobaz", "bazbaRFOO"]:
        save(Article(pub_date=utc(2005, 7, 26), headline=h))

    def match(**kw):
        return sorted(headlines(Article.objects.filter(**kw)))

    assert match(headline__regex=r"oo(f|b)") == ["barfoobaz", "foobar", "foobarbaz", "foobaz"]
    assert match(headline__iregex=r"oo(f|b)") == ["barfoobaz", "foobar", "foobarbaz", "foobaz", "ooF"]
    assert match(headline__regex=r"^foo(f|b)") == ["foobar", "foobarbaz", "foobaz"]
    assert match(headline__regex=r"b.*az") == ["barfoobaz", "bazbaRFOO", "foobarbaz", "foobaz"]
    assert match(headline__iregex=r"b.*ar") == ["barfoobaz", "bazbaRFOO", "foobar", "foobarbaz"]
    assert match(headline__regex=r"(\w)\1") == sorted(
        ["foobar", "foobaz", "ooF", "foobarbaz", "zoocarfaz", "barfoobaz", "bazbaRFOO"]
    )


def test_regex_against_null_matches_nothing(save):
    save(Season(year=2012, gt=None))
    assert list(Season.objects.filter(gt__regex=r"^$")) == []


def test_regex_with_a_non_string_value(save):
    s = save(Season(year=2013, gt=444))
    assert list(Season.objects.filter(gt__regex=r"^444$")) == [s]


def test_nonfield_lookups_raise_field_error(d):
    with pytest.raises(FieldError):
        list(Article.objects.filter(headline__blahblah=99))
    with pytest.raises(FieldError):
        list(Article.objects.filter(headline__blahblah__exact=99))
    with pytest.raises(FieldError):
        list(Article.objects.filter(blahblah=99))


def test_lookup_collision_a_field_named_gt(save):
    """A field named like a lookup (``Season.gt``) is a field before it is a lookup."""
    s1 = save(Season(year=1942, gt=1942))
    s2 = save(Season(year=2011, gt=2011))
    save(Season(year=2012, gt=2012))
    assert list(Season.objects.filter(gt=2011)) == [s2]
    assert list(Season.objects.filter(gt__exact=1942)) == [s1]
    assert Season.objects.filter(gt__gt=2011).count() == 1
    assert Season.objects.filter(gt__lt=2012).count() == 2


def _season_games(save):
    s1 = save(Season(year=2009, gt=111))
    s2 = save(Season(year=2010, gt=222))
    s3 = save(Season(year=2011, gt=333))
    g = [
        Game(season=s1, home="Houston Astros", away="St. Louis Cardinals"),
        Game(season=s1, home="Houston Astros", away="Chicago Cubs"),
        Game(season=s2, home="Houston Astros", away="Milwaukee Brewers"),
        Game(season=s2, home="Houston Astros", away="St. Louis Cardinals"),
        Game(season=s3, home="Houston Astros", away="St. Louis Cardinals"),
        Game(season=s3, home="Houston Astros", away="Chicago Cubs"),
    ]
    save(*g)
    p1, p2 = Player(name="Bob"), Player(name="Ann")
    p1.games.extend([g[0], g[1], g[4]])
    p2.games.extend([g[2], g[3], g[5]])
    save(p1, p2)
    return s1, s2, s3, p1, p2


def test_lookup_collision_across_relations(save):
    _season_games(save)
    assert Game.objects.filter(season__year=2010).count() == 2
    assert Game.objects.filter(season__year__exact=2010).count() == 2
    assert Game.objects.filter(season__gt=222).count() == 2
    assert Game.objects.filter(season__gt__exact=222).count() == 2
    assert Game.objects.filter(season__year__gt=2010).count() == 2
    assert Game.objects.filter(season__gt__gt=222).count() == 2


def test_many_to_many_lookups_with_distinct(save):
    _season_games(save)
    assert Player.objects.filter(games__season__year=2010).distinct().count() == 1
    assert Player.objects.filter(games__season__year=2011).distinct().count() == 2
    assert Player.objects.filter(games__season__gt=333).distinct().count() == 2
    assert Player.objects.filter(games__season__year__gt=2010).distinct().count() == 2
    assert Player.objects.filter(games__season__gt__gt=222).distinct().count() == 2


def test_many_to_many_lookups_count_duplicates_without_distinct(save):
    _season_games(save)
    assert Player.objects.filter(games__season__year__gt=2009).count() == 4
    assert len(list(Player.objects.filter(games__season__year__gt=2009))) == 4


def test_chain_of_date_lookups(d):
    assert Article.objects.filter(pub_date__year=2005).count() == 7
    assert headlines(Article.objects.filter(pub_date__month=8)) == ["Article 5", "Article 6"]
    assert headlines(Article.objects.filter(pub_date__day=27)) == ["Article 2", "Article 3", "Article 7"]
    assert headlines(Article.objects.filter(pub_date__date=date(2005, 7, 27))) == [
        "Article 2",
        "Article 3",
        "Article 7",
    ]
    assert headlines(Article.objects.filter(pub_date__hour=9)) == ["Article 5"]


def test_date_transforms_take_comparison_lookups(d):
    assert headlines(Article.objects.filter(pub_date__month__gt=7)) == ["Article 5", "Article 6"]
    assert Article.objects.filter(pub_date__year__gte=2005).count() == 7
    assert Article.objects.filter(pub_date__year__lt=2005).count() == 0
    assert headlines(Article.objects.filter(pub_date__day__in=[26, 28])) == ["Article 4", "Article 1"]
    assert headlines(Article.objects.filter(pub_date__date__gt=date(2005, 7, 28))) == [
        "Article 5",
        "Article 6",
    ]


def test_year_lookup_bounds(d):
    assert Article.objects.filter(pub_date__year__exact=2005).count() == 7
    assert Article.objects.filter(pub_date__year__gt=2004).count() == 7
    assert Article.objects.filter(pub_date__year__lte=2004).count() == 0


def test_exact_none_is_isnull(d, save):
    save(Season(year=2012, gt=None))
    assert Season.objects.filter(gt=None).count() == 1
    assert Season.objects.filter(gt__exact=None).count() == 1
    assert Season.objects.exclude(gt=None).count() == 0


def test_isnull_on_a_nullable_text_field(save):
    s1 = save(Season(year=2012, nulled_text_field=None))
    s2 = save(Season(year=2013, nulled_text_field="not null"))
    assert list(Season.objects.filter(nulled_text_field__isnull=True)) == [s1]
    assert list(Season.objects.filter(nulled_text_field__isnull=False)) == [s2]


def test_isnull_requires_a_boolean(d):
    with pytest.raises((ValueError, ValidationError)):
        list(Author.objects.filter(alias__isnull=""))


def test_isnull_on_a_relation_by_its_name(d, save):
    orphan = save(Article(headline="Orphan", pub_date=utc(2005, 9, 1)))
    assert list(Article.objects.filter(author__isnull=True)) == [orphan]
    assert Article.objects.filter(author__isnull=False).count() == 7


def test_filter_by_related_object(d):
    assert headlines(Article.objects.filter(author=d.au2)) == ["Article 5", "Article 6", "Article 7"]
    assert headlines(Article.objects.filter(author__exact=d.au2)) == ["Article 5", "Article 6", "Article 7"]
    assert headlines(Article.objects.filter(author__in=[d.au2])) == ["Article 5", "Article 6", "Article 7"]


def test_filter_by_related_object_through_many_to_many(d):
    assert headlines(Article.objects.filter(tag=d.t1)) == ["Article 2", "Article 3", "Article 1"]
    assert names(Tag.objects.filter(articles__in=[d.a3]), "name") == ["Tag 1", "Tag 2"]


def test_filter_by_related_pk(d):
    assert headlines(Article.objects.filter(author__pk=d.au2.id)) == ["Article 5", "Article 6", "Article 7"]
    assert headlines(Article.objects.filter(author__id=d.au2.id)) == ["Article 5", "Article 6", "Article 7"]


def test_reverse_relation_filter_counts_each_author_once_per_match(d):
    assert (
        names(Author.objects.filter(article__headline__startswith="Article"), "name")
        == ["Author 1"] * 4 + ["Author 2"] * 3
    )
    assert names(Author.objects.filter(article__headline__startswith="Article").distinct(), "name") == [
        "Author 1",
        "Author 2",
    ]


def test_exclude_across_a_many_to_many(d):
    assert headlines(Article.objects.exclude(tag__name="Tag 2")) == [
        "Article 6",
        "Article 2",
        "Article 7",
        "Article 1",
    ]


def test_text_lookups_against_f_expressions(save):
    au = save(Author(name="Same", alias="same"))
    save(Author(name="Diff", alias="other"))
    assert list(Author.objects.filter(name__iexact=F("alias"))) == [au]
    assert list(Author.objects.filter(name__istartswith=F("alias"))) == [au]
    assert list(Author.objects.filter(name__contains=F("alias"))) == []
    assert list(Author.objects.filter(name__icontains=F("alias"))) == [au]


def test_exact_against_f_over_a_relation(d):
    assert headlines(Article.objects.filter(slug=F("author__alias"))) == ["Article 1"]


def test_nested_outerref_with_exists(d):
    from assistant_models import Exists, OuterRef

    qs = Author.objects.filter(Exists(Article.objects.filter(author=OuterRef("pk"), headline="Article 7")))
    assert list(qs) == [d.au2]


def test_exact_query_rhs_with_a_queryset_of_one_column(d):
    newest_author = Author.objects.filter(name="Author 2").values("id")[:1]
    assert headlines(Article.objects.filter(author=newest_author)) == ["Article 5", "Article 6", "Article 7"]


def test_filter_by_a_dictionary_is_refused(d):
    with pytest.raises((TypeError, FieldError)):
        list(Article.objects.filter({"headline": "Article 1"}))


def test_lookup_on_a_decimal_relation_with_f(save):
    p1 = save(Product(name="Product1", qty_target=10))
    save(Stock(product=p1, qty_available=5))
    save(Stock(product=p1, qty_available=6))
    p2 = save(Product(name="Product2", qty_target=10))
    save(Stock(product=p2, qty_available=5))
    save(Stock(product=p2, qty_available=5))
    from assistant_models import Sum

    qs = Product.objects.annotate(qty_available_sum=Sum("stock__qty_available")).filter(
        qty_available_sum__lte=F("qty_target")
    )
    assert list(qs) == [p2]
    qs = Product.objects.filter(stock__qty_available__lt=F("qty_target")).distinct().order_by("name")
    assert list(qs) == [p1, p2]
    assert Product.objects.get(name="Product2").qty_target == Decimal("10.00")


# -- JSONB lookups (Django's model_fields.test_jsonfield TestQuerying) ---------------------------

JSON_VALUES = [
    None,
    [],
    {},
    {"a": "b", "c": 14},
    {
        "a": "b",
        "c": 14,
        "d": ["e", {"f": "g"}],
        "h": True,
        "i": False,
        "j": None,
        "k": {"l": "m"},
        "n": [None, True, False],
        "o": '"quoted"',
        "p": 4.2,
        "r": {"s": True, "t": False},
    },
    [1, [2]],
    {"k": True, "l": False, "foo": "bax"},
    {"foo": "bar", "baz": {"a": "b", "c": "d"}, "bar": ["foo", "bar"], "bax": {"foo": "bar"}},
]


@pytest.fixture
def objs(save):
    return [save(NullableJSONModel(value=v)) for v in JSON_VALUES]


def json_filter(**kw):
    return list(NullableJSONModel.objects.filter(**kw).order_by("id"))


def test_json_isnull(objs):
    assert json_filter(value__isnull=True) == [objs[0]]


def test_json_has_key(objs):
    assert json_filter(value__has_key="a") == [objs[3], objs[4]]


def test_json_has_keys(objs):
    assert json_filter(value__has_keys=["a", "c", "h"]) == [objs[4]]


def test_json_has_any_keys(objs):
    assert json_filter(value__has_any_keys=["c", "l"]) == [objs[3], objs[4], objs[6]]


def test_json_contains(objs):
    assert json_filter(value__contains={"a": "b"}) == [objs[3], objs[4]]
    assert json_filter(value__contains={"baz": {"a": "b", "c": "d"}}) == [objs[7]]
    assert json_filter(value__contains={"k": True, "l": False}) == [objs[6]]


def test_json_contained_by(objs):
    assert json_filter(value__contained_by={"a": "b", "c": 14, "h": True}) == [objs[2], objs[3]]


def test_json_key_transform_exact(objs):
    assert json_filter(value__c=14) == [objs[3], objs[4]]
    assert json_filter(value__a="b") == [objs[3], objs[4]]


def test_json_key_transform_comparison(objs):
    assert json_filter(value__c__gt=2) == [objs[3], objs[4]]
    assert json_filter(value__c__gte=14) == [objs[3], objs[4]]
    assert json_filter(value__c__lt=14) == []
    assert json_filter(value__p__gte=4) == [objs[4]]


def test_json_nested_key_paths(objs):
    assert json_filter(value__baz__a="b") == [objs[7]]
    assert json_filter(value__d__1__f="g") == [objs[4]]
    assert json_filter(value__k__l="m") == [objs[4]]


def test_json_key_isnull(objs):
    assert json_filter(value__a__isnull=True) == objs[:3] + objs[5:]
    assert json_filter(value__a__isnull=False) == [objs[3], objs[4]]
    assert json_filter(value__j__isnull=False) == [objs[4]]


def test_json_key_text_lookups(objs):
    assert json_filter(value__foo__startswith="ba") == [objs[6], objs[7]]
    assert json_filter(value__foo__icontains="AX") == [objs[6]]
    assert json_filter(value__foo__in=["bar", "nope"]) == [objs[7]]
