"""Login sessions: random tokens stored as hashes, lookup, activity, expiry and cleanup."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models.core.types import utcnow
from assistant_models.database import Database
from assistant_models.exceptions import FieldError, ValidationError
from assistant_models.models import AuthSession, User

pytestmark = pytest.mark.integration

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def _user() -> User:
    tag = uuid.uuid4().hex[:16]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", "correct horse battery")


def _expire_in_the_past(session: AuthSession) -> None:
    AuthSession.objects.filter(pk=session.id).update(expires_at=utcnow() - timedelta(hours=1))


# ------------------------------------------------------------------ start


def test_start_returns_a_random_token_and_stores_only_its_hash(db_session: Session) -> None:
    user = _user()
    session, raw = AuthSession.objects.start(user, ttl=timedelta(hours=2), ip="10.0.0.1", user_agent="curl/8")
    _other, other_raw = AuthSession.objects.start(user)
    assert len(raw) >= 22 and URL_SAFE.match(raw)
    assert raw != other_raw
    assert session.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    row = db_session.execute(
        text("SELECT * FROM auth_sessions WHERE id = :id"), {"id": session.id}
    ).mappings()
    for value in row.one().values():
        assert raw not in str(value)
    assert session.user_id == user.id
    assert session.ip_address == "10.0.0.1"
    assert session.user_agent == "curl/8"
    assert session.last_seen_at is not None


def test_tokens_carry_at_least_128_bits(db_session: Session) -> None:
    user = _user()
    tokens = {AuthSession.objects.start(user)[1] for _ in range(20)}
    assert len(tokens) == 20
    assert min(len(t) for t in tokens) * 6 >= 128  # each url-safe character carries 6 bits


def test_token_hash_stays_out_of_repr_dump_and_filters(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user())
    assert session.token_hash not in repr(session)
    assert "token_hash" not in session.model_dump()
    with pytest.raises(FieldError):
        AuthSession.objects.filter(token_hash=session.token_hash)


def test_start_expires_after_the_ttl(db_session: Session) -> None:
    before = utcnow()
    session, _raw = AuthSession.objects.start(_user(), ttl=timedelta(hours=3))
    after = utcnow()
    assert before + timedelta(hours=3) <= session.expires_at <= after + timedelta(hours=3)


@pytest.mark.parametrize("ip", ["not-an-ip", "256.1.1.1", "1.2.3", "::g"])
def test_bad_ip_address_is_refused(db_session: Session, ip: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AuthSession.objects.start(_user(), ip=ip)
    assert caught.value.fields == ["ip_address"]


def test_ipv6_address_is_stored_in_its_canonical_form(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user(), ip=" 2001:DB8:0:0::1 ")
    assert session.ip_address == "2001:db8::1"


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5)])
def test_non_positive_ttl_is_refused(db_session: Session, ttl: timedelta) -> None:
    with pytest.raises(ValidationError) as caught:
        AuthSession.objects.start(_user(), ttl=ttl)
    assert caught.value.fields == ["ttl"]


def test_over_long_user_agent_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError) as caught:
        AuthSession.objects.start(_user(), user_agent="x" * 513)
    assert caught.value.fields == ["user_agent"]


def test_update_refuses_a_bad_ip_address(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user(), ip="10.0.0.1")
    with pytest.raises(ValidationError) as caught:
        AuthSession.objects.filter(pk=session.id).update(ip_address="not-an-ip")
    assert caught.value.fields == ["ip_address"]


# ------------------------------------------------------------------ find_by_token


def test_find_by_token_returns_the_live_session(db_session: Session) -> None:
    session, raw = AuthSession.objects.start(_user())
    assert AuthSession.objects.find_by_token(raw) is session


@pytest.mark.parametrize("garbage", ["", "x", "x" * 201, "' OR 1=1 --"])
def test_find_by_token_returns_none_for_garbage(db_session: Session, garbage: str) -> None:
    AuthSession.objects.start(_user())
    assert AuthSession.objects.find_by_token(garbage) is None


def test_find_by_token_returns_none_for_a_token_of_the_wrong_type(db_session: Session) -> None:
    assert AuthSession.objects.find_by_token(None) is None  # type: ignore[arg-type]
    assert AuthSession.objects.find_by_token(b"bytes") is None  # type: ignore[arg-type]


def test_find_by_token_returns_none_for_a_near_miss(db_session: Session) -> None:
    _session, raw = AuthSession.objects.start(_user())
    assert AuthSession.objects.find_by_token(raw[:-1]) is None
    assert AuthSession.objects.find_by_token(raw + "A") is None
    assert AuthSession.objects.find_by_token(raw.swapcase()) is None


def test_find_by_token_returns_none_once_the_session_has_expired(db_session: Session) -> None:
    session, raw = AuthSession.objects.start(_user())
    _expire_in_the_past(session)
    assert AuthSession.objects.find_by_token(raw) is None


def test_find_by_token_returns_none_after_expire(db_session: Session) -> None:
    session, raw = AuthSession.objects.start(_user())
    AuthSession.objects.expire(session)
    assert AuthSession.objects.find_by_token(raw) is None


def test_session_expired_in_one_unit_of_work_is_not_found_in_the_next(database: Database) -> None:
    user_id = None
    try:
        with database.session():
            user = _user()
            user_id = user.id
            session, raw = AuthSession.objects.start(user)
            assert AuthSession.objects.find_by_token(raw) is not None
            AuthSession.objects.expire(session)
        with database.session():
            assert AuthSession.objects.find_by_token(raw) is None
    finally:
        if user_id is not None:
            with database.session():
                User.all_objects.filter(pk=user_id).delete(hard=True)  # its sessions go by cascade


def test_expire_marks_the_session_as_not_live(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user())
    AuthSession.objects.expire(session)
    assert not session.is_live(utcnow())


def test_find_by_token_returns_none_for_an_inactive_user(db_session: Session) -> None:
    user = _user()
    _session, raw = AuthSession.objects.start(user)
    User.objects.deactivate(user)
    assert AuthSession.objects.find_by_token(raw) is None


def test_find_by_token_returns_none_for_a_soft_deleted_user(db_session: Session) -> None:
    user = _user()
    _session, raw = AuthSession.objects.start(user)
    user.delete()
    assert AuthSession.objects.find_by_token(raw) is None


# ------------------------------------------------------------------ touch, terminate, cleanup


def test_touch_records_activity_without_moving_the_expiry(db_session: Session) -> None:
    session, _raw = AuthSession.objects.start(_user())
    seen, expires = session.last_seen_at, session.expires_at
    assert seen is not None
    AuthSession.objects.touch(session)
    db_session.expire(session)
    assert session.last_seen_at is not None and session.last_seen_at > seen
    assert session.expires_at == expires


def test_touch_with_extend_pushes_the_expiry_from_now(db_session: Session) -> None:
    session, raw = AuthSession.objects.start(_user(), ttl=timedelta(minutes=5))
    AuthSession.objects.touch(session, extend=timedelta(days=7))
    db_session.expire(session)
    assert session.expires_at > utcnow() + timedelta(days=6)
    assert AuthSession.objects.find_by_token(raw) is session


def test_terminate_all_for_ends_every_live_session_of_one_user(db_session: Session) -> None:
    user, other = _user(), _user()
    raws = [AuthSession.objects.start(user)[1] for _ in range(3)]
    already_over, _ = AuthSession.objects.start(user)
    _expire_in_the_past(already_over)
    _theirs, their_raw = AuthSession.objects.start(other)
    assert AuthSession.objects.terminate_all_for(user) == 3
    assert all(AuthSession.objects.find_by_token(raw) is None for raw in raws)
    assert AuthSession.objects.find_by_token(their_raw) is not None
    assert AuthSession.objects.terminate_all_for(user) == 0


def test_live_leaves_out_expired_sessions(db_session: Session) -> None:
    user = _user()
    live, _ = AuthSession.objects.start(user)
    over, _ = AuthSession.objects.start(user)
    _expire_in_the_past(over)
    assert [s.id for s in AuthSession.objects.live().filter(user_id=user.id)] == [live.id]


def test_cleanup_expired_deletes_expired_rows_and_returns_their_count(db_session: Session) -> None:
    user = _user()
    live, live_raw = AuthSession.objects.start(user)
    over = [AuthSession.objects.start(user)[0] for _ in range(2)]
    for session in over:
        _expire_in_the_past(session)
    expired_in_table = db_session.execute(
        text("SELECT count(*) FROM auth_sessions WHERE expires_at <= now()")
    ).scalar_one()
    assert expired_in_table >= 2
    assert AuthSession.objects.cleanup_expired() == expired_in_table
    remaining = {s.id for s in AuthSession.objects.filter(user_id=user.id)}
    assert remaining == {live.id}
    assert AuthSession.objects.find_by_token(live_raw) is live
    assert AuthSession.objects.cleanup_expired() == 0


def test_sessions_go_with_their_user_when_the_user_is_removed(db_session: Session) -> None:
    user = _user()
    session, _raw = AuthSession.objects.start(user)
    assert user.delete(hard=True) == (2, {"User": 1, "AuthSession": 1})
    assert session not in db_session  # the cascaded row left the session with its user
    assert not AuthSession.objects.filter(pk=session.id).exists()
