"""Confirmations: requests that expire by the server's clock and are resolved exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models.core.types import server_now
from assistant_models.database import Database
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models import User
from assistant_models.models.chat import ChatSession, Confirmation, ConfirmationStatus

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
Confirmations = Confirmation.objects
HOUR = timedelta(hours=1)


def _user() -> User:
    tag = uuid.uuid4().hex[:12]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", PASSWORD)


@pytest.fixture
def user(db_session: Session) -> User:
    return _user()


@pytest.fixture
def chat(user: User) -> ChatSession:
    return ChatSession.objects.create(user_id=user.id, title="confirmations")


def _backdate(db_session: Session, confirmation: Confirmation, **times: timedelta) -> None:
    """Move a request's times into the past, as if it had been made that long ago."""
    for column, ago in times.items():
        db_session.execute(
            text(f"UPDATE confirmations SET {column} = now() - :ago WHERE id = :id"),
            {"ago": ago, "id": confirmation.id},
        )
    db_session.expire_all()


def _status(confirmation: Confirmation | uuid.UUID) -> ConfirmationStatus:
    key = confirmation if isinstance(confirmation, uuid.UUID) else confirmation.id
    return Confirmation.all_objects.values_list("status", flat=True).get(pk=key)


def test_a_request_is_pending_and_expires_ttl_after_the_servers_now(
    db_session: Session, chat: ChatSession, user: User
) -> None:
    before = server_now(db_session)
    asked = Confirmations.request(chat, user, "send_email", {"to": "ann@example.com"}, ttl=HOUR)
    after = server_now(db_session)
    assert asked.status is ConfirmationStatus.PENDING
    assert (asked.session_id, asked.user_id, asked.kind) == (chat.id, user.id, "send_email")
    assert asked.data == {"to": "ann@example.com"}
    assert before + HOUR <= asked.expires_at <= after + HOUR
    assert asked.resolved_at is None


def test_pending_for_lists_the_chats_pending_unexpired_requests_oldest_first(
    db_session: Session, chat: ChatSession, user: User
) -> None:
    newest = Confirmations.request(chat, user, "a", {}, ttl=HOUR)
    oldest = Confirmations.request(chat, user, "c", {}, ttl=HOUR)
    middle = Confirmations.request(chat, user, "b", {}, ttl=HOUR)
    expired = Confirmations.request(chat, user, "x", {}, ttl=HOUR)
    answered = Confirmations.request(chat, user, "y", {}, ttl=HOUR)
    other_chat = ChatSession.objects.create(user_id=user.id, title="other")
    Confirmations.request(other_chat, user, "z", {}, ttl=HOUR)
    _backdate(db_session, oldest, created_at=timedelta(minutes=3))
    _backdate(db_session, middle, created_at=timedelta(minutes=2))
    _backdate(db_session, expired, expires_at=timedelta(seconds=1))
    Confirmations.approve(answered)
    assert [c.id for c in Confirmations.pending_for(chat)] == [oldest.id, middle.id, newest.id]


def test_approve_and_reject_resolve_a_pending_request_at_the_servers_time(
    db_session: Session, chat: ChatSession, user: User
) -> None:
    yes = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    no = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    before = server_now(db_session)
    assert Confirmations.approve(yes) is yes
    assert Confirmations.reject(no) is no
    assert (yes.status, no.status) == (ConfirmationStatus.APPROVED, ConfirmationStatus.REJECTED)
    assert yes.resolved_at is not None and yes.resolved_at <= server_now(db_session)
    assert yes.resolved_at >= before - timedelta(minutes=5)  # now(): the transaction's start
    assert (_status(yes), _status(no)) == (ConfirmationStatus.APPROVED, ConfirmationStatus.REJECTED)
    assert list(Confirmations.pending_for(chat)) == []


@pytest.mark.parametrize("first", ["approve", "reject"])
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_a_resolved_request_cannot_be_resolved_again(
    db_session: Session, chat: ChatSession, user: User, first: str, second: str
) -> None:
    asked = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    getattr(Confirmations, first)(asked)
    stale = Confirmation.objects.get(pk=asked.id)
    with pytest.raises(InvalidTransition) as caught:
        getattr(Confirmations, second)(stale)
    assert caught.value.current == ("approved" if first == "approve" else "rejected")
    assert _status(asked) == (
        ConfirmationStatus.APPROVED if first == "approve" else ConfirmationStatus.REJECTED
    )


def test_an_expired_request_cannot_be_resolved_even_before_it_is_marked(
    db_session: Session, chat: ChatSession, user: User
) -> None:
    asked = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    _backdate(db_session, asked, expires_at=timedelta(microseconds=1))
    for resolve, target in ((Confirmations.approve, "approved"), (Confirmations.reject, "rejected")):
        with pytest.raises(InvalidTransition) as caught:
            resolve(asked)
        assert (caught.value.current, caught.value.target) == ("expired", target)
    assert _status(asked) is ConfirmationStatus.PENDING


def test_expire_stale_marks_every_pending_request_past_its_expiry_in_one_statement(
    db_session: Session, chat: ChatSession, user: User, record_sql
) -> None:
    stale = [Confirmations.request(chat, user, "k", {}, ttl=HOUR) for _ in range(3)]
    fresh = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    answered = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    Confirmations.reject(answered)
    for each in [*stale, answered]:
        _backdate(db_session, each, expires_at=timedelta(seconds=5))
    mine = Confirmations.filter(session_id=chat.id)
    with record_sql() as sent:
        assert mine.expire_stale() == 3
    assert len(sent) == 1
    assert [_status(c) for c in stale] == [ConfirmationStatus.EXPIRED] * 3
    assert all(c.resolved_at is not None for c in Confirmation.objects.filter(pk__in=[c.id for c in stale]))
    assert (_status(fresh), _status(answered)) == (ConfirmationStatus.PENDING, ConfirmationStatus.REJECTED)
    assert mine.expire_stale() == 0
    with pytest.raises(InvalidTransition):
        Confirmations.approve(stale[0])


def test_confirmations_of_a_soft_deleted_chat_are_hidden_and_cannot_be_resolved(
    db_session: Session, chat: ChatSession, user: User
) -> None:
    asked = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    chat.delete()
    assert list(Confirmations.pending_for(chat)) == []
    with pytest.raises(Confirmation.DoesNotExist):
        Confirmations.approve(asked)
    chat.restore()
    assert Confirmations.approve(asked).status is ConfirmationStatus.APPROVED


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1), 60, None])
def test_a_ttl_that_is_not_a_positive_timedelta_names_ttl(chat: ChatSession, user: User, ttl) -> None:
    with pytest.raises(ValidationError) as caught:
        Confirmations.request(chat, user, "k", {}, ttl=ttl)
    assert caught.value.fields == ["ttl"]
    assert not Confirmation.all_objects.filter(session_id=chat.id).exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"kind": ""}, "kind"),
        ({"kind": "k" * 101}, "kind"),
        ({"kind": "nul\x00"}, "kind"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"data": {"nul": "\x00"}}, "data"),
        ({"data": {"lone": "\udc00"}}, "data"),
        ({"data": {"not json": object()}}, "data"),
        ({"data": {"nan": float("nan")}}, "data"),
    ],
)
def test_a_bad_kind_or_data_is_refused_naming_it(chat: ChatSession, user: User, args, field: str) -> None:
    values = {"kind": "k", "data": {}, **args}
    with pytest.raises(ValidationError) as caught:
        Confirmations.request(chat, user, values["kind"], values["data"], ttl=HOUR)
    assert caught.value.fields == [field]
    assert not Confirmation.all_objects.filter(session_id=chat.id).exists()


def test_a_session_user_or_confirmation_that_is_not_a_saved_instance_is_named(
    chat: ChatSession, user: User
) -> None:
    for args, field in [((chat.id, user), "session"), ((chat, chat), "user"), ((chat, user.id), "user")]:
        with pytest.raises(ValidationError) as caught:
            Confirmations.request(*args, "k", {}, ttl=HOUR)
        assert caught.value.fields == [field]
    with pytest.raises(ValidationError) as caught:
        Confirmations.approve(
            Confirmation(session_id=chat.id, user_id=user.id, kind="k", expires_at=chat.created_at)
        )
    assert caught.value.fields == ["confirmation"]
    asked = Confirmations.request(chat, user, "k", {}, ttl=HOUR)
    for status in ("expired", "pending", "yes", None):
        with pytest.raises(ValidationError) as caught:
            Confirmations.resolve(asked, status)
        assert caught.value.fields == ["status"]
    assert _status(asked) is ConfirmationStatus.PENDING


def test_awaited_request_and_approve_work(adb_session, arun) -> None:
    async def scenario():
        tag = uuid.uuid4().hex[:12]
        user = await User.objects.acreate_user(f"{tag}@example.com", f"u{tag}", PASSWORD)
        chat = await ChatSession.objects.acreate(user_id=user.id, title="async")
        asked = await Confirmations.arequest(chat, user, "k", {"n": 1}, ttl=HOUR)
        approved = await Confirmations.aapprove(asked)
        return approved.status, approved.resolved_at is not None

    assert arun(scenario()) == (ConfirmationStatus.APPROVED, True)


# ------------------------------------------------------------------ concurrency


@pytest.fixture
def migrated(scratch_url: str) -> Iterator[Database]:
    with Database(scratch_url) as db:
        db.migrate()
        yield db


def _pending_request(db: Database) -> uuid.UUID:
    with db.session():
        user = _user()
        chat = ChatSession.objects.create(user_id=user.id, title="race")
        return Confirmations.request(chat, user, "k", {}, ttl=HOUR).id


def test_of_two_resolutions_racing_on_one_request_exactly_one_wins(migrated: Database) -> None:
    confirmation_id = _pending_request(migrated)
    first_wrote = threading.Event()
    outcomes: dict[str, object] = {}

    def resolve(name: str, how: str) -> None:
        try:
            with migrated.session():
                asked = Confirmation.objects.get(pk=confirmation_id)
                if name == "second":
                    first_wrote.wait(timeout=10)  # the first holds the row, uncommitted
                getattr(Confirmations, how)(asked)
                if name == "first":
                    first_wrote.set()
                    time.sleep(0.5)  # the second now waits on the row lock
            outcomes[name] = "won"
        except BaseException as exc:
            outcomes[name] = exc
        finally:
            first_wrote.set()

    threads = [
        threading.Thread(target=resolve, args=("first", "approve")),
        threading.Thread(target=resolve, args=("second", "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes["first"] == "won"
    assert isinstance(outcomes["second"], InvalidTransition)
    assert outcomes["second"].current == "approved"
    with migrated.session():
        assert _status(confirmation_id) is ConfirmationStatus.APPROVED


def test_of_many_simultaneous_resolutions_exactly_one_wins(migrated: Database) -> None:
    confirmation_id = _pending_request(migrated)
    racers = 6
    barrier = threading.Barrier(racers, timeout=30)
    outcomes: list[object] = []

    def resolve(n: int) -> None:
        try:
            with migrated.session():
                asked = Confirmation.objects.get(pk=confirmation_id)
                barrier.wait()
                (Confirmations.approve if n % 2 else Confirmations.reject)(asked)
            outcomes.append("won")
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=resolve, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes.count("won") == 1
    assert all(isinstance(o, InvalidTransition) for o in outcomes if o != "won")
