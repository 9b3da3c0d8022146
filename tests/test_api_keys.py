"""API keys: shown once, stored as a hash, verified, revoked, rotated and expired."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models.core.types import utcnow
from assistant_models.exceptions import FieldError, ValidationError
from assistant_models.models import ApiKey, AuditLog, User

pytestmark = pytest.mark.integration


def _user() -> User:
    tag = uuid.uuid4().hex[:16]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", "correct horse battery")


def _stored_row(session: Session, key: ApiKey) -> dict[str, object]:
    row = session.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": key.id}).mappings().one()
    return dict(row)


def _expire_now(key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.id).update(expires_at=utcnow() - timedelta(minutes=1))


# ------------------------------------------------------------------ issue


def test_issue_returns_the_raw_key_once_and_stores_only_hash_and_prefix(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci", scopes=["tasks:read"], expires_in=timedelta(days=30))
    assert raw.startswith("amk_")
    assert len(raw) >= 40
    assert raw.startswith(key.key_prefix)
    assert len(key.key_prefix) < len(raw) // 2
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    secret_part = raw[len(key.key_prefix) :]
    for row in (_stored_row(db_session, key), *ApiKey.objects.filter(pk=key.id).values()):
        for value in row.values():
            assert raw not in str(value)
            assert secret_part not in str(value)


def test_values_leave_the_hash_out_and_cannot_ask_for_it(db_session: Session) -> None:
    key, _raw = ApiKey.objects.issue(_user(), "ci")
    (row,) = ApiKey.objects.filter(pk=key.id).values()
    assert "key_hash" not in row
    assert row["key_prefix"] == key.key_prefix
    with pytest.raises(FieldError):
        ApiKey.objects.values("key_hash")
    with pytest.raises(FieldError):
        ApiKey.objects.values_list("key_hash", flat=True)


def test_two_keys_never_share_raw_text_or_hash(db_session: Session) -> None:
    user = _user()
    first, raw_first = ApiKey.objects.issue(user, "one")
    second, raw_second = ApiKey.objects.issue(user, "one")
    assert raw_first != raw_second
    assert first.key_hash != second.key_hash


def test_hash_is_absent_from_repr_and_dump(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci")
    assert key.key_hash not in repr(key)
    assert raw not in repr(key)
    assert "key_hash" not in key.model_dump()


def test_hash_is_redacted_in_the_audit_log(db_session: Session) -> None:
    key, _raw = ApiKey.objects.issue(_user(), "ci")
    (log,) = AuditLog.objects.for_object(key)
    assert log.changes["after"]["key_hash"] == "[redacted]"
    assert key.key_hash not in str(log.changes)


def test_scopes_are_deduplicated_and_sorted(db_session: Session) -> None:
    key, _raw = ApiKey.objects.issue(_user(), "ci", scopes=["b:write", "a:read", "b:write"])
    assert key.scopes == ["a:read", "b:write"]
    assert key.has_scope("a:read")
    assert not key.has_scope("admin")


@pytest.mark.parametrize("scopes", [[""], ["has space"], ["x" * 101]])
def test_bad_scopes_are_refused(db_session: Session, scopes: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ApiKey.objects.issue(_user(), "ci", scopes=scopes)
    assert caught.value.fields == ["scopes"]


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(seconds=-1)])
def test_non_positive_lifetime_is_refused(db_session: Session, expires_in: timedelta) -> None:
    with pytest.raises(ValidationError) as caught:
        ApiKey.objects.issue(_user(), "ci", expires_in=expires_in)
    assert caught.value.fields == ["expires_in"]


def test_blank_name_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError) as caught:
        ApiKey.objects.issue(_user(), "")
    assert caught.value.fields == ["name"]


# ------------------------------------------------------------------ verify


def test_verify_returns_the_key_and_records_its_use(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci")
    assert key.last_used_at is None
    assert ApiKey.objects.verify(raw) is key
    assert ApiKey.objects.get(pk=key.id).last_used_at is not None


def test_recording_use_writes_no_audit_row(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci")
    ApiKey.objects.verify(raw)
    assert [log.action.value for log in AuditLog.objects.for_object(key)] == ["create"]


def test_verify_refuses_wrong_and_malformed_keys(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci")
    flipped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for candidate in (
        flipped,
        raw + "x",
        raw[:-1],
        key.key_prefix,
        key.key_hash,
        "",
        "amk_",
        "amk_" + "x" * 500,
    ):
        assert ApiKey.objects.verify(candidate) is None
    assert ApiKey.objects.verify(None) is None  # type: ignore[arg-type]
    assert ApiKey.objects.get(pk=key.id).last_used_at is None


def test_verify_refuses_a_revoked_key(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci")
    ApiKey.objects.revoke(key)
    assert key.revoked_at is not None
    assert ApiKey.objects.verify(raw) is None


def test_revoking_twice_keeps_the_first_revocation_time(db_session: Session) -> None:
    key, _raw = ApiKey.objects.issue(_user(), "ci")
    ApiKey.objects.revoke(key)
    first = key.revoked_at
    ApiKey.objects.revoke(key)
    assert ApiKey.objects.get(pk=key.id).revoked_at == first


def test_verify_refuses_an_expired_key(db_session: Session) -> None:
    key, raw = ApiKey.objects.issue(_user(), "ci", expires_in=timedelta(hours=1))
    assert ApiKey.objects.verify(raw) is key
    _expire_now(key)
    assert ApiKey.objects.verify(raw) is None
    assert not key.is_usable(utcnow())


def test_verify_refuses_a_key_of_an_inactive_owner_until_reactivated(db_session: Session) -> None:
    user = _user()
    _key, raw = ApiKey.objects.issue(user, "ci")
    User.objects.deactivate(user)
    assert ApiKey.objects.verify(raw) is None
    User.objects.activate(user)
    assert ApiKey.objects.verify(raw) is not None


def test_verify_refuses_a_key_of_a_soft_deleted_owner(db_session: Session) -> None:
    user = _user()
    _key, raw = ApiKey.objects.issue(user, "ci")
    user.delete()
    assert ApiKey.objects.verify(raw) is None
    user.restore()
    assert ApiKey.objects.verify(raw) is not None


# ------------------------------------------------------------------ rotate and listing


def test_rotate_revokes_the_old_key_and_issues_one_with_the_same_name_and_scopes(db_session: Session) -> None:
    user = _user()
    old, old_raw = ApiKey.objects.issue(user, "deploy", scopes=["tasks:write", "tasks:read"])
    new, new_raw = ApiKey.objects.rotate(old, expires_in=timedelta(days=1))
    assert new.id != old.id
    assert new_raw != old_raw
    assert (new.name, new.scopes, new.user_id) == (old.name, old.scopes, user.id)
    assert new.expires_at is not None
    assert ApiKey.objects.verify(old_raw) is None
    assert ApiKey.objects.verify(new_raw) is new
    assert old.revoked_at is not None


def test_active_keys_of_a_user_leave_out_revoked_expired_and_others(db_session: Session) -> None:
    user, other = _user(), _user()
    live, _ = ApiKey.objects.issue(user, "live")
    revoked, _ = ApiKey.objects.issue(user, "revoked")
    ApiKey.objects.revoke(revoked)
    expired, _ = ApiKey.objects.issue(user, "expired", expires_in=timedelta(hours=1))
    _expire_now(expired)
    ApiKey.objects.issue(other, "theirs")
    assert [k.id for k in ApiKey.objects.active_for(user)] == [live.id]


def test_filtering_or_ordering_on_the_hash_raises_field_error(db_session: Session) -> None:
    key, _raw = ApiKey.objects.issue(_user(), "ci")
    with pytest.raises(FieldError):
        ApiKey.objects.filter(key_hash=key.key_hash)
    with pytest.raises(FieldError):
        ApiKey.objects.filter(key_hash__startswith="a")
    with pytest.raises(FieldError):
        ApiKey.objects.exclude(key_hash=key.key_hash)
    with pytest.raises(FieldError):
        ApiKey.objects.order_by("-key_hash")


def test_keys_can_be_found_through_their_owner(db_session: Session) -> None:
    user = _user()
    key, _raw = ApiKey.objects.issue(user, "ci")
    assert [k.id for k in ApiKey.objects.filter(user__email=user.email)] == [key.id]
