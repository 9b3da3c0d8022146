"""The factories build through the validating constructor and create through the managers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from assistant_models.exceptions import InvalidTransition, SessionRequiredError, ValidationError
from assistant_models.models import ApiKey, AuditLog, AuthSession, Task, TaskStatus, User, UserRole
from assistant_models.testing.factories import ApiKeyFactory, AuthSessionFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent


def _unique_email() -> str:
    return f"chosen-{uuid.uuid4().hex[:12]}@example.com"


def _status_moves(task: Task) -> set[tuple[str, str]]:
    """Return the (before, after) status changes the audit trail recorded for ``task``."""
    moves = set()
    for row in AuditLog.objects.for_object(task):
        status = row.changes.get("fields", {}).get("status")
        if status:
            moves.add((status["before"], status["after"]))
    return moves


# ---------------------------------------------------------------------- users


def test_user_factory_creates_a_row_visible_through_the_manager(db_session):
    user = UserFactory()
    assert User.objects.get(pk=user.id).email == user.email
    assert inspect(user).persistent
    assert user.role is UserRole.USER and user.is_active and not user.is_verified


def test_default_password_authenticates_a_created_user(db_session):
    user = UserFactory()
    found = User.objects.authenticate(user.email, UserFactory.DEFAULT_PASSWORD)
    assert found is not None and found.id == user.id


def test_password_argument_is_hashed_not_stored(db_session):
    user = UserFactory(password="another-long-secret")
    assert "password" not in User.model_fields
    assert "another-long-secret" not in user.password_hash
    assert User.objects.authenticate(user.username, "another-long-secret") is not None
    assert User.objects.authenticate(user.username, UserFactory.DEFAULT_PASSWORD) is None


def test_built_user_is_not_persisted(db_session):
    user = UserFactory.build()
    assert inspect(user).transient
    assert not User.objects.filter(pk=user.id).exists()
    assert user.check_password(UserFactory.DEFAULT_PASSWORD)


def test_building_needs_no_unit_of_work():
    user = UserFactory.build(admin=True)
    task = TaskFactory.build(completed=True, results={"ok": True})
    assert user.role is UserRole.ADMIN
    assert task.status is TaskStatus.COMPLETED and task.results == {"ok": True}


def test_creating_without_a_unit_of_work_raises_session_required_error():
    with pytest.raises(SessionRequiredError):
        UserFactory()


def test_admin_trait_gives_an_admin(db_session):
    assert User.objects.get(pk=UserFactory(admin=True).id).role is UserRole.ADMIN


def test_inactive_user_cannot_authenticate(db_session):
    user = UserFactory(inactive=True)
    assert User.objects.get(pk=user.id).is_active is False
    assert User.objects.authenticate(user.email, UserFactory.DEFAULT_PASSWORD) is None


def test_verified_trait_sets_the_verification_time(db_session):
    user = UserFactory(verified=True)
    assert User.objects.get(pk=user.id).is_verified
    assert User.objects.filter(email_verified_at__isnull=False, pk=user.id).exists()


def test_explicit_values_override_the_sequences(db_session):
    email = _unique_email()
    UserFactory(email=email, first_name="Ada")
    assert User.objects.get(email=email).first_name == "Ada"


def test_sequences_give_unique_emails_and_usernames_over_many_creations(db_session):
    users = UserFactory.create_batch(30)
    assert len({u.email.lower() for u in users}) == 30
    assert len({u.username.lower() for u in users}) == 30
    assert User.objects.filter(pk__in=[u.id for u in users]).count() == 30


def test_bad_email_override_raises_validation_error_naming_email(db_session):
    before = User.objects.count()
    with pytest.raises(ValidationError) as caught:
        UserFactory(email="nope")
    assert caught.value.fields == ["email"]
    assert User.objects.count() == before


def test_bad_email_is_refused_when_building_too():
    with pytest.raises(ValidationError) as caught:
        UserFactory.build(email="nope")
    assert caught.value.fields == ["email"]


def test_short_password_raises_validation_error_naming_password(db_session):
    with pytest.raises(ValidationError) as caught:
        UserFactory(password="short")
    assert caught.value.fields == ["password"]


def test_unknown_user_field_raises_validation_error(db_session):
    with pytest.raises(ValidationError) as caught:
        UserFactory(colour="blue")
    assert caught.value.fields == ["colour"]


# ------------------------------------------------------------------- api keys


def test_api_key_factory_issues_a_key_for_a_new_user(db_session):
    key = ApiKeyFactory(scopes=["chat", "tasks"])
    stored = ApiKey.objects.get(pk=key.id)
    assert stored.scopes == ["chat", "tasks"]
    assert User.objects.filter(pk=key.user_id).exists()


def test_raw_api_key_from_create_with_raw_verifies(db_session):
    key, raw = ApiKeyFactory.create_with_raw()
    assert raw.startswith(key.key_prefix)
    verified = ApiKey.objects.verify(raw)
    assert verified is not None and verified.id == key.id


def test_api_key_factory_uses_the_given_user(db_session):
    owner = UserFactory()
    key, _ = ApiKeyFactory.create_with_raw(user=owner, expires_in=timedelta(hours=1))
    assert key.user_id == owner.id
    assert key.expires_at is not None
    assert ApiKey.objects.active_for(owner).count() == 1


def test_built_api_key_and_its_user_are_not_persisted(db_session):
    key = ApiKeyFactory.build()
    assert inspect(key).transient and inspect(key.user).transient
    assert key.user_id == key.user.id
    assert not ApiKey.objects.filter(pk=key.id).exists()
    assert not User.objects.filter(pk=key.user_id).exists()


def test_bad_api_key_overrides_raise_validation_error_naming_the_field(db_session):
    with pytest.raises(ValidationError) as caught:
        ApiKeyFactory(name="")
    assert caught.value.fields == ["name"]
    with pytest.raises(ValidationError) as caught:
        ApiKeyFactory(scopes=["two words"])
    assert caught.value.fields == ["scopes"]
    with pytest.raises(ValidationError) as caught:
        ApiKeyFactory.build(expires_in=timedelta(0))
    assert caught.value.fields == ["expires_in"]


def test_api_key_factory_refuses_arguments_issue_does_not_take(db_session):
    with pytest.raises(ValidationError) as caught:
        ApiKeyFactory(revoked_at=None)
    assert caught.value.fields == ["revoked_at"]


# -------------------------------------------------------------- auth sessions


def test_token_from_create_with_token_finds_the_session(db_session):
    session, token = AuthSessionFactory.create_with_token(ip="192.0.2.7", user_agent="pytest")
    found = AuthSession.objects.find_by_token(token)
    assert found is not None and found.id == session.id
    assert found.ip_address == "192.0.2.7"
    assert AuthSession.objects.live().filter(user_id=session.user_id).count() == 1


def test_built_auth_session_is_not_persisted(db_session):
    session = AuthSessionFactory.build(ttl=timedelta(minutes=5))
    assert inspect(session).transient
    assert not AuthSession.objects.filter(pk=session.id).exists()
    assert session.expires_at > session.last_seen_at


def test_bad_auth_session_overrides_raise_validation_error_naming_the_field(db_session):
    with pytest.raises(ValidationError) as caught:
        AuthSessionFactory(ip="not-an-address")
    assert caught.value.fields == ["ip_address"]
    with pytest.raises(ValidationError) as caught:
        AuthSessionFactory(ttl=timedelta(seconds=-1))
    assert caught.value.fields == ["ttl"]


# ---------------------------------------------------------------------- tasks


def test_task_factory_enqueues_a_pending_unassigned_task(db_session):
    task = TaskFactory()
    stored = Task.objects.get(pk=task.id)
    assert stored.status is TaskStatus.PENDING
    assert stored.assignee_id is None
    assert Task.objects.due().filter(pk=task.id).exists()


def test_built_task_is_not_persisted(db_session):
    task = TaskFactory.build(running=True)
    assert inspect(task).transient
    assert task.status is TaskStatus.RUNNING and task.started_at is not None
    assert not Task.all_objects.filter(pk=task.id).exists()


def test_running_trait_starts_the_task(db_session):
    task = TaskFactory(running=True)
    assert Task.objects.get(pk=task.id).status is TaskStatus.RUNNING
    assert task.started_at is not None and task.completed_at is None


def test_completed_trait_reaches_completed_through_the_lifecycle(db_session):
    task = TaskFactory(completed=True, results={"answer": 42})
    stored = Task.objects.get(pk=task.id)
    assert stored.status is TaskStatus.COMPLETED and stored.results == {"answer": 42}
    assert stored.started_at is not None and stored.completed_at is not None
    assert _status_moves(task) == {("pending", "running"), ("running", "completed")}


def test_failed_trait_fails_the_task_for_good_with_its_error(db_session):
    task = TaskFactory(failed=True, error="model timed out")
    stored = Task.objects.get(pk=task.id)
    assert stored.status is TaskStatus.FAILED and stored.error == "model timed out"
    assert stored.retry_count == 0
    assert _status_moves(task) == {("pending", "running"), ("running", "failed")}


def test_cancelled_trait_cancels_the_pending_task(db_session):
    task = TaskFactory(cancelled=True)
    assert Task.objects.get(pk=task.id).status is TaskStatus.CANCELLED
    assert task.started_at is None
    assert _status_moves(task) == {("pending", "cancelled")}


def test_completed_task_from_the_factory_cannot_be_started_again(db_session):
    task = TaskFactory(completed=True)
    with pytest.raises(InvalidTransition):
        Task.objects.start(task)


def test_assigned_trait_creates_an_assignee(db_session):
    task = TaskFactory(assigned=True)
    assert task.assignee is not None
    assert Task.objects.get(pk=task.id).assignee_id == task.assignee.id
    assert User.objects.filter(pk=task.assignee.id).exists()


def test_task_factory_accepts_an_existing_assignee(db_session):
    owner = UserFactory()
    TaskFactory(assignee=owner, running=True)
    assert Task.objects.filter(assignee_id=owner.id, status=TaskStatus.RUNNING).count() == 1


def test_out_of_range_priority_raises_validation_error_naming_priority(db_session):
    before = Task.all_objects.count()
    with pytest.raises(ValidationError) as caught:
        TaskFactory(priority=99)
    assert caught.value.fields == ["priority"]
    assert Task.all_objects.count() == before


def test_unknown_status_raises_validation_error_naming_status(db_session):
    with pytest.raises(ValidationError) as caught:
        TaskFactory(status="sleeping")
    assert caught.value.fields == ["status"]


def test_task_titles_are_unique_over_many_creations(db_session):
    tasks = TaskFactory.create_batch(20)
    assert len({t.title for t in tasks}) == 20


# ------------------------------------------------------------------- imports


def test_runtime_code_does_not_import_the_testing_package():
    code = (
        "import sys, assistant_models, assistant_models.models, assistant_models.database\n"
        "loaded = [m for m in sys.modules if m.startswith('assistant_models.testing') or m == 'factory']\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
