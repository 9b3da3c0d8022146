"""Port of Django's ``tests/get_or_create/tests.py`` onto the package.

Same data, same queries, same expected results. Django's ``IntegrityError`` is the
package's ``ConflictError``/``ValidationError``; a failed write is caught around a nested
``db.session()`` as the README says.

Not ported: the threading/race tests (``select_for_update`` timing with sleeps),
related-manager ``get_or_create`` (``book.authors.get_or_create``), multi-table
inheritance, model ``property`` setters as defaults, and ``MockedTraceback`` tests of how
Django re-raises.
"""

from datetime import date

import pytest
from models_small import GetOrCreateBase as AppBase
from models_small import ManualPrimaryKeyTest, Person, Thing
from port_base import IntegrityError

from assistant_models import FieldError, ValidationError

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


@pytest.fixture
def lennon(save):
    """Django's ``GetOrCreateTests.setUpTestData``."""
    return save(Person(first_name="John", last_name="Lennon", birthday=date(1940, 10, 9)))


def test_get_or_create_method_with_get(lennon):
    created = Person.objects.get_or_create(
        first_name="John", last_name="Lennon", defaults={"birthday": date(1940, 10, 9)}
    )[1]
    assert not created
    assert Person.objects.count() == 1


def test_get_or_create_method_with_create(lennon):
    created = Person.objects.get_or_create(
        first_name="George", last_name="Harrison", defaults={"birthday": date(1943, 2, 25)}
    )[1]
    assert created
    assert Person.objects.count() == 2


def test_get_or_create_redundant_instance(lennon):
    Person.objects.get_or_create(
        first_name="George", last_name="Harrison", defaults={"birthday": date(1943, 2, 25)}
    )
    created = Person.objects.get_or_create(
        first_name="George", last_name="Harrison", defaults={"birthday": date(1943, 2, 25)}
    )[1]
    assert not created
    assert Person.objects.count() == 2


def test_get_or_create_invalid_params(lennon, database):
    with pytest.raises(IntegrityError), database.session():
        Person.objects.get_or_create(first_name="Tom", last_name="Smith")


def test_get_or_create_with_pk_property(save):
    thing, created = Thing.objects.get_or_create(pk=1, defaults={"name": "one"})
    assert created
    assert thing.id == 1


def test_get_or_create_with_model_generated_key(save):
    thing, created = Thing.objects.get_or_create(name="generated")
    assert created
    assert isinstance(thing.id, int)
    assert Thing.objects.get_or_create(name="generated") == (thing, False)


def test_get_or_create_on_a_manual_primary_key(save):
    obj, created = ManualPrimaryKeyTest.objects.get_or_create(id=1, defaults={"data": "Original"})
    assert created
    obj, created = ManualPrimaryKeyTest.objects.get_or_create(id=1, defaults={"data": "Different"})
    assert not created
    assert obj.data == "Original"


def test_manual_primary_key_conflict_on_create(save, database):
    ManualPrimaryKeyTest.objects.create(id=1, data="Original")
    with pytest.raises(IntegrityError), database.session():
        ManualPrimaryKeyTest.objects.create(id=1, data="Different")
    assert ManualPrimaryKeyTest.objects.get(id=1).data == "Original"


def test_defaults_exact(lennon):
    """A field named ``defaults`` is reached with ``defaults__exact``."""
    obj, created = Person.objects.get_or_create(
        first_name="George",
        last_name="Harrison",
        defaults={"birthday": date(1943, 2, 25), "defaults": "testing"},
    )
    assert created
    assert obj.defaults == "testing"
    obj2, created = Person.objects.get_or_create(
        first_name="George",
        last_name="Harrison",
        defaults__exact="testing",
        defaults={"birthday": date(1943, 2, 25)},
    )
    assert not created
    assert obj2 == obj


def test_callable_defaults(lennon):
    obj, created = Person.objects.get_or_create(
        first_name="George", last_name="Harrison", defaults={"birthday": lambda: date(1943, 2, 25)}
    )
    assert created
    assert obj.birthday == date(1943, 2, 25)


def test_callable_defaults_not_called(lennon):
    def raise_exception():
        raise AssertionError

    _, created = Person.objects.get_or_create(
        first_name="John", last_name="Lennon", defaults={"birthday": lambda: raise_exception()}
    )
    assert not created


def test_get_or_create_with_invalid_defaults(save):
    with pytest.raises((FieldError, ValidationError)):
        Thing.objects.get_or_create(name="a", defaults={"nonexistent": "b"})


def test_get_or_create_with_invalid_kwargs(save):
    with pytest.raises(FieldError):
        Thing.objects.get_or_create(name="a", nonexistent="b")


def test_get_or_create_with_lookups_uses_only_exact_values_to_create(save):
    obj, created = Thing.objects.get_or_create(name__iexact="ThInG", defaults={"name": "thing"})
    assert created
    assert obj.name == "thing"
    assert Thing.objects.get_or_create(name__iexact="THING", defaults={"name": "x"}) == (obj, False)


def test_get_or_create_raises_multiple_objects_returned(save):
    save(Thing(name="dup"), Thing(name="dup"))
    with pytest.raises(Thing.MultipleObjectsReturned):
        Thing.objects.get_or_create(name="dup")


# -- UpdateOrCreateTests --------------------------------------------------------------------------


def test_update(save):
    save(Person(first_name="John", last_name="Lennon", birthday=date(1940, 10, 9)))
    p, created = Person.objects.update_or_create(
        first_name="John", last_name="Lennon", defaults={"birthday": date(1940, 10, 10)}
    )
    assert not created
    assert (p.first_name, p.last_name, p.birthday) == ("John", "Lennon", date(1940, 10, 10))


def test_create(save):
    _, created = Person.objects.update_or_create(
        first_name="John", last_name="Lennon", defaults={"birthday": date(1940, 10, 10)}
    )
    assert created
    assert Person.objects.count() == 1


def test_create_twice(save):
    params = {"first_name": "John", "last_name": "Lennon", "birthday": date(1940, 10, 10)}
    Person.objects.update_or_create(**params)
    _, created = Person.objects.update_or_create(**params)
    assert not created


def test_update_or_create_integrity(save, database):
    with pytest.raises(IntegrityError), database.session():
        Person.objects.update_or_create(first_name="Tom", last_name="Smith")


def test_update_callable_default(save):
    save(Person(first_name="John", last_name="Lennon", birthday=date(1940, 10, 9)))
    obj, created = Person.objects.update_or_create(
        first_name="John", defaults={"last_name": lambda: "NotLennon"}
    )
    assert not created
    assert obj.last_name == "NotLennon"


def test_update_or_create_defaults_exact(save):
    obj, created = Person.objects.update_or_create(
        first_name="George",
        last_name="Harrison",
        defaults={"birthday": date(1943, 2, 25), "defaults": "testing"},
    )
    assert created
    assert obj.defaults == "testing"
    obj, created = Person.objects.update_or_create(
        first_name="George",
        last_name="Harrison",
        defaults__exact="testing",
        defaults={"birthday": date(1943, 2, 25), "defaults": "another testing"},
    )
    assert not created
    assert obj.defaults == "another testing"


def test_create_defaults_are_used_only_to_create(save):
    obj, created = Person.objects.update_or_create(
        first_name="John",
        last_name="Lennon",
        create_defaults={"birthday": date(1943, 2, 25)},
        defaults={"birthday": date(1943, 2, 26)},
    )
    assert created
    assert obj.birthday == date(1943, 2, 25)
    obj, created = Person.objects.update_or_create(
        first_name="John",
        last_name="Lennon",
        create_defaults={"birthday": date(1943, 2, 25)},
        defaults={"birthday": date(1943, 2, 26)},
    )
    assert not created
    assert obj.birthday == date(1943, 2, 26)


def test_callable_create_defaults(save):
    obj, created = Person.objects.update_or_create(
        first_name="George",
        last_name="Harrison",
        create_defaults={"birthday": lambda: date(1943, 2, 25)},
    )
    assert created
    assert obj.birthday == date(1943, 2, 25)


def test_update_or_create_persists_the_update(save):
    save(Person(first_name="John", last_name="Lennon", birthday=date(1940, 10, 9)))
    Person.objects.update_or_create(first_name="John", defaults={"birthday": date(1940, 10, 10)})
    assert Person.objects.get(first_name="John").birthday == date(1940, 10, 10)


def test_update_or_create_with_invalid_defaults(save):
    with pytest.raises((FieldError, ValidationError)):
        Thing.objects.update_or_create(name="a", defaults={"nonexistent": "b"})
