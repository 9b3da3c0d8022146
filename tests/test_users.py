"""Users: uniqueness, validation, password hashing, authentication, search and statistics."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from assistant_models.core.audit import REDACTED
from assistant_models.database import Database
from assistant_models.exceptions import ConflictError, FieldError, ValidationError
from assistant_models.models import AuditLog, User, UserRole

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def _tag() -> str:
    """Return a unique lower-case word without digits (digits would be words of their own in a search)."""
    return uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))[:16]


def _user(password: str = PASSWORD, **fields: object) -> User:
    tag = _tag()
    fields.setdefault("email", f"{tag}@example.com")
    fields.setdefault("username", tag)
    return User.objects.create_user(password=password, **fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------ uniqueness


def test_email_is_unique_among_live_users_in_any_letter_case(db_session: Session) -> None:
    tag = _tag()
    _user(email=f"Ann.{tag}@Example.com")
    with pytest.raises(ConflictError) as caught:
        _user(email=f"ann.{tag}@EXAMPLE.COM")
    assert caught.value.field == "email"
    assert tag not in str(caught.value)
    assert "@" not in str(caught.value)


def test_username_is_unique_in_any_letter_case(db_session: Session) -> None:
    tag = _tag()
    _user(username=f"Ann_{tag}")
    with pytest.raises(ConflictError) as caught:
        _user(username=f"ANN_{tag.upper()}")
    assert caught.value.field == "username"
    assert tag not in str(caught.value).lower()


def test_conflict_inside_a_nested_unit_of_work_leaves_the_outer_one_usable(
    db_session: Session, database: Database
) -> None:
    first = _user()
    with pytest.raises(ConflictError), database.session():
        _user(email=first.email.upper())
    assert User.objects.filter(email__iexact=first.email).count() == 1


def test_soft_deleted_user_frees_the_email_for_a_new_user(db_session: Session) -> None:
    old = _user()
    old.delete()
    new = _user(email=old.email, username=old.username)
    assert new.id != old.id
    assert User.objects.get(email=old.email).id == new.id
    assert User.all_objects.filter(email=old.email).count() == 2


def test_restoring_a_user_whose_email_was_taken_raises_conflict_and_keeps_transaction_usable(
    db_session: Session,
) -> None:
    old = _user()
    old.delete()
    new = _user(email=old.email.upper())
    with pytest.raises(ConflictError) as caught:
        old.restore()
    assert caught.value.field == "email"
    assert old.email.split("@")[0] not in str(caught.value).lower()
    assert old.is_deleted
    assert User.objects.get(pk=new.id).email == new.email
    assert User.all_objects.get(pk=old.id).is_deleted
    assert User.deleted_objects.filter(pk=old.id).count() == 1


def test_exists_sees_soft_deleted_users_through_deleted_and_all_managers(db_session: Session) -> None:
    user = _user()
    user.delete()
    assert User.deleted_objects.filter(pk=user.id).count() == 1
    assert User.deleted_objects.filter(pk=user.id).exists()
    assert User.all_objects.filter(pk=user.id).exists()
    assert bool(User.deleted_objects.filter(pk=user.id))


def test_failed_restore_writes_no_further_change_or_audit_row(db_session: Session) -> None:
    old = _user()
    old.delete()
    _user(email=old.email)
    with pytest.raises(ConflictError):
        old.restore()
    db_session.flush()
    actions = sorted(
        log.action.value for log in AuditLog.objects.filter(table_name="users", row_id=str(old.id))
    )
    assert actions == ["create", "soft_delete"]


# ------------------------------------------------------------------ validation


def test_invalid_user_lists_every_bad_field_before_any_sql(db_session: Session, record_sql) -> None:
    with record_sql() as sent:
        with pytest.raises(ValidationError) as caught:
            User.objects.create_user(
                email="not-an-email",
                username="a b",
                password="short",
                avatar_url="ftp://example.com/a.png",
                role="superuser",
            )
        assert sent == []
        User.objects.filter(email="not-an-email").count()
        assert len(sent) == 1  # the recorder does see SQL
    assert set(caught.value.fields) == {"email", "username", "avatar_url", "role", "password"}
    assert "short" not in str(caught.value)


def test_every_role_is_accepted_and_comes_back_as_a_member(db_session: Session) -> None:
    for role in ("user", "admin", "developer"):
        user = _user(role=role)
        db_session.expire(user)
        assert User.objects.get(pk=user.id).role is UserRole(role)


def test_password_hash_cannot_be_given_directly(db_session: Session) -> None:
    tag = _tag()
    with pytest.raises(ValidationError) as caught:
        User.objects.create_user(f"{tag}@example.com", tag, PASSWORD, password_hash="x")
    assert caught.value.fields == ["password_hash"]


def test_changed_field_is_validated_again_at_flush(db_session: Session) -> None:
    user = _user()
    user.first_name = "x" * 101
    with pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert caught.value.fields == ["first_name"]
    assert user.password_hash not in str(caught.value)
    db_session.expire(user)


def test_invalid_email_set_on_a_saved_user_is_refused_at_flush(db_session: Session) -> None:
    user = _user()
    user.email = "nope"
    with pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert caught.value.fields == ["email"]
    db_session.expire(user)


def test_update_refuses_invalid_email_username_and_avatar_url_before_any_sql(
    db_session: Session, record_sql
) -> None:
    user = _user()
    with record_sql() as sent, pytest.raises(ValidationError) as caught:
        User.objects.filter(pk=user.id).update(email="nope", username="a b", avatar_url="ftp://x")
    assert set(caught.value.fields) == {"email", "username", "avatar_url"}
    assert sent == []


# ------------------------------------------------------------------ secrets


def test_password_hash_never_appears_in_repr_or_dump(db_session: Session) -> None:
    user = _user()
    assert user.password_hash.startswith("bcrypt-sha256$")
    assert PASSWORD not in user.password_hash
    assert user.password_hash not in repr(user)
    assert "password_hash" not in repr(user)
    assert "password_hash" not in user.model_dump()
    assert user.password_hash not in str(user.model_dump())
    assert "password_hash" not in User.objects.filter(pk=user.id).values()[0]


def test_password_hash_cannot_be_filtered_or_ordered_on(db_session: Session) -> None:
    user = _user()
    with pytest.raises(FieldError):
        User.objects.filter(password_hash=user.password_hash)
    with pytest.raises(FieldError):
        User.objects.order_by("password_hash")


def test_password_hash_is_redacted_in_the_audit_of_a_new_user(db_session: Session) -> None:
    user = _user()
    (log,) = AuditLog.objects.filter(table_name="users", row_id=str(user.id))
    assert log.changes["after"]["password_hash"] == REDACTED
    assert user.password_hash not in str(log.changes)


def test_conflict_error_does_not_carry_the_password_hash(db_session: Session) -> None:
    first = _user()
    with pytest.raises(ConflictError) as caught:
        _user(email=first.email)
    assert first.password_hash not in str(caught.value)
    assert PASSWORD not in str(caught.value)


# ------------------------------------------------------------------ authentication


def test_user_authenticates_by_email_in_any_case_or_by_username(db_session: Session) -> None:
    user = _user()
    assert User.objects.authenticate(user.email.upper(), PASSWORD) is user
    assert User.objects.authenticate(user.username.upper(), PASSWORD) is user
    assert User.objects.authenticate(f"  {user.email}  ", PASSWORD) is user


def test_authentication_fails_for_unknown_login_wrong_password_and_blank_login(db_session: Session) -> None:
    user = _user()
    assert User.objects.authenticate(f"nobody-{_tag()}@example.com", PASSWORD) is None
    assert User.objects.authenticate(f"nobody_{_tag()}", PASSWORD) is None
    assert User.objects.authenticate(user.email, PASSWORD + "!") is None
    assert User.objects.authenticate(user.email, "") is None
    assert User.objects.authenticate("", PASSWORD) is None


def test_inactive_user_cannot_authenticate_until_activated(db_session: Session) -> None:
    user = _user()
    User.objects.deactivate(user)
    assert User.objects.authenticate(user.email, PASSWORD) is None
    User.objects.activate(user)
    assert User.objects.authenticate(user.email, PASSWORD) is user


def test_soft_deleted_user_cannot_authenticate(db_session: Session) -> None:
    user = _user()
    user.delete()
    assert User.objects.authenticate(user.email, PASSWORD) is None
    assert User.objects.authenticate(user.username, PASSWORD) is None


def test_successful_authentication_records_last_login(db_session: Session) -> None:
    user = _user()
    assert user.last_login_at is None
    assert User.objects.authenticate(user.email, "wrong password") is None
    assert User.objects.get(pk=user.id).last_login_at is None
    User.objects.authenticate(user.email, PASSWORD)
    assert User.objects.get(pk=user.id).last_login_at is not None


def test_failed_authentication_leaves_last_login_untouched(db_session: Session) -> None:
    user = _user()
    User.objects.deactivate(user)
    User.objects.authenticate(user.email, PASSWORD)
    db_session.expire(user)
    assert user.last_login_at is None


def test_set_password_replaces_the_old_one_and_audits_it_redacted(db_session: Session) -> None:
    user = _user()
    old_hash = user.password_hash
    User.objects.set_password(user, "a brand new secret")
    assert User.objects.authenticate(user.email, PASSWORD) is None
    assert User.objects.authenticate(user.email, "a brand new secret") is user
    (log,) = AuditLog.objects.filter(table_name="users", row_id=str(user.id), action="update")
    assert log.changes["fields"]["password_hash"] == {"before": REDACTED, "after": REDACTED}
    assert old_hash not in str(log.changes)
    assert user.password_hash not in str(log.changes)


def test_set_password_refuses_a_short_password_and_keeps_the_old_one(db_session: Session) -> None:
    user = _user()
    with pytest.raises(ValidationError) as caught:
        User.objects.set_password(user, "tiny")
    assert caught.value.fields == ["password"]
    assert "tiny" not in str(caught.value)
    assert User.objects.authenticate(user.email, PASSWORD) is user


@pytest.mark.parametrize("shared", ["a" * 72, "é" * 36, "x" * 100])
def test_long_passwords_differing_after_72_bytes_do_not_both_verify(db_session: Session, shared: str) -> None:
    user = _user(password=shared + "-one")
    assert user.check_password(shared + "-one")
    assert not user.check_password(shared + "-two")
    assert User.objects.authenticate(user.email, shared + "-two") is None
    assert User.objects.authenticate(user.email, shared + "-one") is user


def test_verify_email_sets_the_time_once(db_session: Session) -> None:
    user = _user()
    assert not user.is_verified
    User.objects.verify_email(user)
    first = user.email_verified_at
    assert first is not None and user.is_verified
    User.objects.verify_email(user)
    assert User.objects.get(pk=user.id).email_verified_at == first


# ------------------------------------------------------------------ search


def test_search_finds_users_by_name_username_or_email(db_session: Session) -> None:
    tag = _tag()
    ann = _user(username=f"ann_{tag}", first_name="Ann", last_name="Lee")
    bob = _user(username=f"bob_{tag}", first_name="Bob", last_name="Stone")
    annie = _user(first_name="Annie")
    found = list(User.objects.search("ann"))
    assert ann in found
    assert bob not in found
    assert annie not in found  # whole words, not prefixes
    assert {u.id for u in User.objects.search(tag)} == {ann.id, bob.id}
    assert list(User.objects.search(bob.email)) == [bob]


def test_search_ranks_username_above_first_name(db_session: Session) -> None:
    tag = _tag()
    by_name = _user(first_name=tag)
    by_username = _user(username=f"{tag}_x")
    assert list(User.objects.search(tag)) == [by_username, by_name]


def test_search_does_not_show_soft_deleted_users(db_session: Session) -> None:
    tag = _tag()
    user = _user(first_name=tag)
    user.delete()
    assert list(User.objects.search(tag)) == []
    assert list(User.all_objects.search(tag)) == [user]


@pytest.mark.parametrize("text", ["' OR 1=1 --", "a & | ! (", "%_\\", "", "   ", '"unclosed', "(("])
def test_search_is_safe_for_any_input(db_session: Session, text: str) -> None:
    tag = _tag()
    ann = _user(username=f"ann_{tag}", first_name="Ann")
    found = list(User.objects.search(text))
    assert ann not in found
    assert User.objects.filter(pk=ann.id).exists()


def test_search_of_text_without_words_matches_nothing(db_session: Session) -> None:
    _user()
    assert list(User.objects.search("%_\\")) == []


def test_search_refuses_a_non_string(db_session: Session) -> None:
    with pytest.raises(ValidationError):
        User.objects.search(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ statistics


def test_statistics_count_live_users_by_state_and_role(db_session: Session) -> None:
    before = User.objects.statistics()
    _user(role=UserRole.ADMIN)
    developer = _user(role=UserRole.DEVELOPER)
    User.objects.verify_email(developer)
    inactive = _user()
    User.objects.deactivate(inactive)
    _user().delete()
    after = User.objects.statistics()
    assert after["total"] - before["total"] == 3
    assert after["active"] - before["active"] == 2
    assert after["inactive"] - before["inactive"] == 1
    assert after["verified"] - before["verified"] == 1
    assert after["new_last_7_days"] - before["new_last_7_days"] == 3
    assert {role: after["by_role"][role] - before["by_role"][role] for role in after["by_role"]} == {
        "user": 1,
        "admin": 1,
        "developer": 1,
    }


def test_statistics_respect_chained_filters(db_session: Session) -> None:
    tag = _tag()
    _user(first_name=tag)
    _user(first_name=tag, role=UserRole.ADMIN)
    stats = User.objects.filter(first_name=tag).statistics()
    assert stats["total"] == 2
    assert stats["by_role"] == {"user": 1, "admin": 1, "developer": 0}
