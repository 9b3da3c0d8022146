"""Port of Django's ``tests/basic/tests.py`` onto the package (``Article`` is ``BasicArticle``).

Same data, same queries, same expected results; datetimes are UTC-aware. Where Django
calls ``obj.save()`` or ``obj.refresh_from_db()`` the port does too: they are the API
under test.

Not ported: positional constructor arguments (pydantic models take keywords only),
``ManagerTest`` (the list of Django's manager proxy methods), ``SelectOnSaveTests`` and
``ModelInstanceCreationTests`` of ``save(force_insert/force_update)`` internals,
``extra()``, ``_state.adding``/``_state.db``, pickling, and
``ConcurrentSaveTests`` (threads and Django's connection handling).
"""

import pytest
from models_small import BasicArticle as Article
from models_small import BasicBase as AppBase
from models_small import PrimaryKeyWithDefault
from port_base import utc

from assistant_models import MultipleObjectsReturned, NotFoundError, ValidationError

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


def test_object_is_not_written_to_database_until_save_was_called(save):
    a = Article(headline="Parrot programs in Python", pub_date=utc(2005, 7, 28))
    assert a.id is None
    assert Article.objects.count() == 0
    a.save()
    assert a.id is not None
    assert Article.objects.count() == 1


def test_can_create_instance_using_kwargs(save):
    a = Article(id=None, headline="Third article", pub_date=utc(2005, 7, 30))
    save(a)
    assert a.headline == "Third article"
    assert a.pub_date == utc(2005, 7, 30, 0, 0)


def test_autofields_generate_different_values_for_each_instance(save):
    a1 = Article.objects.create(headline="First", pub_date=utc(2005, 7, 30, 0, 0))
    a2 = Article.objects.create(headline="First", pub_date=utc(2005, 7, 30, 0, 0))
    a3 = Article.objects.create(headline="First", pub_date=utc(2005, 7, 30, 0, 0))
    assert a3.id != a1.id
    assert a3.id != a2.id


def test_create_returns_the_instance_with_its_database_generated_key(save):
    a = Article.objects.create(headline="Article 10", pub_date=utc(2005, 7, 31, 12, 30, 45))
    assert isinstance(a.id, int)
    assert Article.objects.get(headline="Article 10") == a


def test_cannot_create_instance_with_invalid_kwargs(save):
    with pytest.raises(ValidationError):
        Article(id=None, headline="Some headline", pub_date=utc(2005, 7, 31), foo="bar")


def test_leaving_off_a_field_with_default_set_the_default_will_be_saved(save):
    a = Article(pub_date=utc(2005, 7, 31))
    save(a)
    assert Article.objects.get(id__exact=a.id).headline == "Default headline"


def test_for_datetimefields_saves_as_much_precision_as_was_given(save):
    a7 = save(Article(headline="Article 7", pub_date=utc(2005, 7, 31, 12, 30)))
    assert Article.objects.get(id__exact=a7.id).pub_date == utc(2005, 7, 31, 12, 30)
    a8 = save(Article(headline="Article 8", pub_date=utc(2005, 7, 31, 12, 30, 45)))
    assert Article.objects.get(id__exact=a8.id).pub_date == utc(2005, 7, 31, 12, 30, 45)


def test_microsecond_precision(save):
    a9 = save(Article(headline="Article 9", pub_date=utc(2005, 7, 31, 12, 30, 45, 180)))
    assert Article.objects.get(pk=a9.pk).pub_date == utc(2005, 7, 31, 12, 30, 45, 180)


def test_saving_an_object_again_does_not_create_a_new_object(save):
    a = Article(headline="original", pub_date=utc(2014, 5, 16))
    a.save()
    current_id = a.id
    a.save()
    assert a.id == current_id
    a.headline = "Updated headline"
    a.save()
    assert a.id == current_id


def test_querysets_checking_for_membership(save):
    headlines = ["IPhone is Released", "IPhone is Released", "IPhone is not Released"]
    some_pub_date = utc(2014, 5, 16, 12, 1)
    for headline in headlines:
        save(Article(headline=headline, pub_date=some_pub_date))
    a = save(Article(headline="Some headline", pub_date=some_pub_date))
    assert a in Article.objects.all()
    assert Article.objects.filter(id=a.id).exists()


def test_save_primary_with_default(save):
    # An object with a default primary key inserts without a select first.
    obj = PrimaryKeyWithDefault()
    obj.save()
    assert PrimaryKeyWithDefault.objects.count() == 1


def test_manually_specify_primary_key(save):
    a101 = Article(id=101, headline="Article 101", pub_date=utc(2005, 7, 31, 12, 30, 45))
    save(a101)
    assert Article.objects.get(pk=101).headline == "Article 101"


def test_create_with_explicit_key_then_without(save):
    Article.objects.create(id=101, headline="Article 101", pub_date=utc(2005, 7, 31, 12, 30, 45))
    assert Article.objects.get(pk=101).headline == "Article 101"


def test_queryset_delete_removes_all_items_in_that_queryset(save):
    headlines = ["An article", "Article One", "Amazing article", "Boring article"]
    some_pub_date = utc(2014, 5, 16, 12, 1)
    for headline in headlines:
        save(Article(headline=headline, pub_date=some_pub_date))
    assert [a.headline for a in Article.objects.order_by("headline")] == sorted(headlines)
    Article.objects.filter(headline__startswith="A").delete()
    assert [a.headline for a in Article.objects.order_by("headline")] == ["Boring article"]


def test_not_equal_and_equal_operators_behave_as_expected_on_instances(save):
    some_pub_date = utc(2014, 5, 16, 12, 1)
    a1 = save(Article(headline="First", pub_date=some_pub_date))
    a2 = save(Article(headline="Second", pub_date=some_pub_date))
    assert a1 != a2
    assert a1 == Article.objects.get(id__exact=a1.id)
    assert Article.objects.get(id__exact=a1.id) != Article.objects.get(id__exact=a2.id)


def test_objects_attribute_is_only_available_on_the_class_itself(save):
    a = Article(headline="foo", pub_date=utc(2014, 5, 16))
    with pytest.raises(AttributeError):
        a.objects  # noqa: B018


def test_refresh_from_db_reloads_changed_values(save):
    a = save(Article(headline="Parrot programs in Python", pub_date=utc(2005, 7, 28)))
    Article.objects.filter(pk=a.id).update(headline="Parrot programs in Rust")
    a.refresh_from_db()
    assert a.headline == "Parrot programs in Rust"


def test_instance_delete_removes_the_row(save):
    a = save(Article(headline="Parrot", pub_date=utc(2005, 7, 28)))
    a.delete()
    assert not Article.objects.filter(headline="Parrot").exists()


def test_instances_have_pk(save):
    a = save(Article(headline="Parrot", pub_date=utc(2005, 7, 28)))
    assert a.pk == a.id


def test_saved_instances_are_hashable(save):
    a = save(Article(headline="Parrot", pub_date=utc(2005, 7, 28)))
    assert hash(a) == hash(Article.objects.get(pk=a.id))


# -- ModelLookupTest ------------------------------------------------------------------------------


@pytest.fixture
def a(save):
    return save(Article(id=None, headline="Swallow programs in Python", pub_date=utc(2005, 7, 28)))


def test_all_lookup(a, save):
    a.headline = "Parrot programs in Python"
    save(a)
    assert list(Article.objects.all()) == [a]


def test_rich_lookup(a):
    assert Article.objects.get(id__exact=a.id) == a
    assert Article.objects.get(headline__startswith="Swallow") == a
    assert Article.objects.get(pub_date__year=2005) == a
    assert Article.objects.get(pub_date__year=2005, pub_date__month=7) == a
    assert Article.objects.get(pub_date__year=2005, pub_date__month=7, pub_date__day=28) == a
    assert Article.objects.get(pub_date__week_day=5) == a


def test_equal_lookup(a):
    assert Article.objects.get(id=a.id) == a
    assert Article.objects.get(headline="Swallow programs in Python") == a
    assert list(Article.objects.filter(pub_date__year=2005)) == [a]
    assert list(Article.objects.filter(pub_date__year=2004)) == []
    assert list(Article.objects.filter(pub_date__year=2005, pub_date__month=7)) == [a]
    assert list(Article.objects.filter(pub_date__week_day=5)) == [a]
    assert list(Article.objects.filter(pub_date__week_day=6)) == []


def test_does_not_exist(a):
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(id__exact=2000)
    with pytest.raises(NotFoundError):
        Article.objects.get(headline="nope")


def test_does_not_exist_with_date_lookups(a):
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pub_date__year=2005, pub_date__month=8)
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pub_date__week_day=6)


def test_lookup_by_primary_key(a):
    assert Article.objects.get(pk=a.id) == a
    assert list(Article.objects.filter(pk__in=[a.id])) == [a]
    assert Article.objects.get(pk=a.id) == Article.objects.get(pk=a.id)


def test_too_many(a, save):
    save(Article(headline="Swallow bites Python", pub_date=utc(2005, 7, 28)))
    with pytest.raises(Article.MultipleObjectsReturned):
        Article.objects.get(headline__startswith="Swallow")
    with pytest.raises(MultipleObjectsReturned):
        Article.objects.get(pub_date=utc(2005, 7, 28))


def test_too_many_with_date_lookups(a, save):
    save(Article(headline="Swallow bites Python", pub_date=utc(2005, 7, 28)))
    with pytest.raises(Article.MultipleObjectsReturned):
        Article.objects.get(pub_date__year=2005)
    with pytest.raises(Article.MultipleObjectsReturned):
        Article.objects.get(pub_date__year=2005, pub_date__month=7)


# -- QuerySet basics ------------------------------------------------------------------------------


def test_emptyqs(save):
    assert list(Article.objects.none()) == []
    assert Article.objects.none().count() == 0
    assert not Article.objects.none().exists()


def test_emptyqs_values_and_order(save):
    assert list(Article.objects.none().values_list("id").order_by("id")) == []
    assert list(Article.objects.none().filter(id__in=Article.objects.values_list("id", flat=True))) == []


def test_default_ordering_of_the_model(save):
    b = save(Article(headline="B", pub_date=utc(2005, 7, 28)))
    a = save(Article(headline="A", pub_date=utc(2005, 7, 28)))
    c = save(Article(headline="C", pub_date=utc(2005, 7, 27)))
    assert list(Article.objects.all()) == [c, a, b]


def test_first_and_last_by_key_when_unordered(save):
    first = save(Article(headline="x", pub_date=utc(2005, 7, 28)))
    last = save(Article(headline="y", pub_date=utc(2005, 7, 28)))
    assert Article.objects.order_by("id").first() == first
    assert Article.objects.order_by("id").last() == last
