"""Port of Django's ``tests/delete/tests.py`` onto the package.

Same data, same queries, same expected results; ``delete()`` returns
``(total, {ModelName: count})`` keyed by the model class's ``__name__`` (Django keys by
``app_label.ModelName``). ``on_delete`` behaviours are the ones PostgreSQL carries
(``CASCADE``, ``SET NULL``, ``RESTRICT``); Django's ``ProtectedError`` becomes the
package's ``ValidationError`` for a reference that would dangle.

Not ported: signals (``pre_delete``/``post_delete``), ``Collector`` internals and query
counts, ``on_delete`` handlers PostgreSQL has no equivalent of (``SET(value)``,
``SET_DEFAULT`` via Python callables, ``DO_NOTHING`` bookkeeping), generic relations,
multi-table inheritance and ``keep_parents``.
"""

import pytest
from models_small import A, Avatar, HiddenUser, HiddenUserProfile, R, User
from models_small import DeleteBase as AppBase
from port_base import IntegrityError, Refused

#: The app whose tables the ``save`` fixture creates.
port_app = AppBase


def create_a(save, name):
    a = A(name=name)
    for field in ("auto", "setnull", "protect"):
        setattr(a, field, save(R()))
    return save(a)


def test_cascade(save):
    a = create_a(save, "auto")
    R.objects.filter(pk=a.auto_id).delete()
    assert not A.objects.filter(name="auto").exists()


def test_setnull(save, db_session):
    a = create_a(save, "setnull")
    R.objects.filter(pk=a.setnull_id).delete()
    db_session.expire_all()
    assert A.objects.get(pk=a.id).setnull_id is None


def test_protect(save, database):
    a = create_a(save, "protect")
    with pytest.raises(IntegrityError), database.session():
        R.objects.filter(pk=a.protect_id).delete()


def test_instance_delete(save):
    a = create_a(save, "auto")
    a.auto.delete()
    assert not A.objects.filter(name="auto").exists()


def test_queryset_delete_returns_num_rows(save):
    save(Avatar(desc="a"), Avatar(desc="b"), Avatar(desc="c"))
    avatars_count = Avatar.objects.count()
    deleted, rows_count = Avatar.objects.all().delete()
    assert deleted == avatars_count
    assert rows_count == {"Avatar": avatars_count}


def test_queryset_delete_counts_cascaded_rows_per_model(save):
    r = save(R())
    h1 = save(HiddenUser(r_id=r.id))
    save(HiddenUser(r_id=r.id))
    save(HiddenUserProfile(user_id=h1.id))
    existed = {"R": R.objects.count(), "HiddenUser": HiddenUser.objects.count(), "HiddenUserProfile": 1}
    deleted, deleted_objs = R.objects.all().delete()
    assert deleted_objs == existed
    assert deleted == sum(existed.values())


def test_model_delete_returns_num_rows(save):
    r = save(R())
    h1 = save(HiddenUser(r_id=r.id))
    save(HiddenUser(r_id=r.id))
    save(HiddenUserProfile(user_id=h1.id))
    deleted, deleted_objs = r.delete()
    assert deleted == 4
    assert deleted_objs == {"R": 1, "HiddenUser": 2, "HiddenUserProfile": 1}


def test_fast_delete_empty_queryset(save):
    assert User.objects.filter(avatar__desc="missing").delete() == (0, {})


def test_fast_delete_of_a_filtered_queryset_keeps_other_rows(save):
    a1, a2 = save(Avatar(desc="keep"), Avatar(desc="drop"))
    save(User(avatar=a1), User(avatar=a2))
    User.objects.filter(avatar__desc="drop").delete()
    assert User.objects.count() == 1
    assert Avatar.objects.count() == 2


def test_delete_across_a_relation_filter(save):
    a1, a2 = save(Avatar(desc="keep"), Avatar(desc="drop"))
    save(User(avatar=a1), User(avatar=a2))
    deleted, counts = User.objects.filter(avatar__desc="drop").delete()
    assert (deleted, counts) == (1, {"User": 1})


def test_large_delete(save):
    Avatar.objects.bulk_create([Avatar() for _ in range(2000)])
    Avatar.objects.all().delete()
    assert not Avatar.objects.exists()


def test_large_delete_of_rows_written_through_the_session(save):
    save(*[Avatar() for _ in range(500)])
    deleted, _ = Avatar.objects.all().delete()
    assert deleted == 500
    assert Avatar.objects.count() == 0


def test_delete_of_a_sliced_queryset_is_refused(save):
    save(Avatar(desc="a"), Avatar(desc="b"))
    with pytest.raises(Refused):
        Avatar.objects.all()[:1].delete()
    assert Avatar.objects.count() == 2


def test_delete_of_a_distinct_on_queryset_is_refused(save):
    save(Avatar(desc="a"))
    with pytest.raises(Refused):
        Avatar.objects.distinct("desc").delete()


def test_delete_with_cascade_to_a_user_of_an_avatar(save):
    av = save(Avatar(desc="a"))
    save(User(avatar=av))
    deleted, counts = Avatar.objects.filter(pk=av.id).delete()
    assert deleted == 2
    assert counts == {"Avatar": 1, "User": 1}


def test_delete_of_none_deletes_nothing(save):
    save(Avatar(desc="a"))
    assert Avatar.objects.none().delete() == (0, {})
    assert Avatar.objects.count() == 1
