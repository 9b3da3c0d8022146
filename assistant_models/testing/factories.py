"""factory-boy factories for the domain: users, API keys, login sessions and tasks.

Factories go through the same doors as application code. ``Factory.build()`` calls
the model's constructor, which validates; ``Factory()`` / ``Factory.create()`` calls
the model's manager (``User.objects.create_user``, ``ApiKey.objects.issue``,
``AuthSession.objects.start``, ``Task.objects.enqueue`` and the task lifecycle
methods) in the current unit of work, which the ``db_session`` fixture of
:mod:`assistant_models.testing.plugin` binds. Bad factory data therefore raises
:class:`~assistant_models.exceptions.ValidationError` exactly as it would in the
application.

There is no ``AuditLogFactory``: audit rows are written only by the changes they
record, so create or change an audited row to get one.

Example:
    >>> def test_admin_can_sign_in(db_session):  # doctest: +SKIP
    ...     admin = UserFactory(admin=True)
    ...     assert User.objects.authenticate(admin.email, UserFactory.DEFAULT_PASSWORD) == admin
    ...     key, raw = ApiKeyFactory.create_with_raw(user=admin, scopes=["chat"])
    ...     task = TaskFactory(completed=True, results={"answer": 42})
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from factory import declarations
from factory.base import Factory

from assistant_models.core.base import AssistantModel
from assistant_models.core.types import utcnow
from assistant_models.exceptions import ValidationError
from assistant_models.models.identity.api_keys import DISPLAY_LENGTH, PREFIX, ApiKey, hash_key
from assistant_models.models.identity.auth_sessions import DEFAULT_TTL, AuthSession, hash_token
from assistant_models.models.identity.passwords import hash_password
from assistant_models.models.identity.users import User, UserRole
from assistant_models.models.work import Task, TaskStatus

__all__ = [
    "ApiKeyFactory",
    "AssistantModelFactory",
    "AuthSessionFactory",
    "TaskFactory",
    "UserFactory",
]

M = TypeVar("M", bound=AssistantModel)
T = TypeVar("T")

# factory-boy's declarations carry no annotations; these typed names keep strict mypy useful.
Sequence: Callable[[Callable[[int], str]], Any] = declarations.Sequence
LazyFunction: Callable[[Callable[[], Any]], Any] = declarations.LazyFunction
SubFactory: Callable[..., Any] = declarations.SubFactory
Trait: Callable[..., Any] = declarations.Trait

#: Part of every generated email and username, so concurrent test runs sharing a
#: server never wait on each other's uncommitted rows in a unique index.
RUN_TAG = secrets.token_hex(3)

# Plain-text secrets (API keys, session tokens) made by the factories that a caller
# asked to see; None when nobody is collecting.
_secrets: ContextVar[list[tuple[object, str]] | None] = ContextVar("factory_secrets", default=None)


def _remember(obj: object, raw: str) -> None:
    sink = _secrets.get()
    if sink is not None:
        sink.append((obj, raw))


@contextmanager
def _collecting_secrets() -> Iterator[list[tuple[object, str]]]:
    sink: list[tuple[object, str]] = []
    token = _secrets.set(sink)
    try:
        yield sink
    finally:
        _secrets.reset(token)


def _create_with_secret(create: Callable[..., T], kwargs: dict[str, Any]) -> tuple[T, str]:
    with _collecting_secrets() as sink:
        obj = create(**kwargs)
    return obj, next(raw for made, raw in sink if made is obj)


def _positive(value: object, field: str, model: str) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError.single(field, "must be a positive timedelta", model)
    return value


class AssistantModelFactory(Factory[M]):
    """Base of the factories: build with the validating constructor, create with the manager.

    Subclasses override :meth:`_construct` (build) and :meth:`_persist` (create); the
    defaults are ``Model(**values)`` and ``Model.objects.create(**values)``.
    """

    class Meta:
        """factory-boy options."""

        abstract = True

    if TYPE_CHECKING:  # factory-boy has no annotations: tell type checkers what a call returns

        def __new__(cls, **kwargs: Any) -> M:  # type: ignore[misc]
            """Create an instance: ``UserFactory(admin=True)`` is ``UserFactory.create(admin=True)``."""

        @classmethod
        def create(cls, **kwargs: Any) -> M:
            """Create an instance through the model's manager."""

        @classmethod
        def build(cls, **kwargs: Any) -> M:
            """Build an unsaved, validated instance."""

        @classmethod
        def create_batch(cls, size: int, **kwargs: Any) -> list[M]:
            """Create ``size`` instances."""

        @classmethod
        def build_batch(cls, size: int, **kwargs: Any) -> list[M]:
            """Build ``size`` unsaved instances."""

    @classmethod
    def _build(cls, model_class: type[M], *args: Any, **kwargs: Any) -> M:
        cls._refuse_positional(args)
        return cls._construct(model_class, kwargs)

    @classmethod
    def _create(cls, model_class: type[M], *args: Any, **kwargs: Any) -> M:
        cls._refuse_positional(args)
        return cls._persist(model_class, kwargs)

    @classmethod
    def _construct(cls, model_class: type[M], values: dict[str, Any]) -> M:
        """Return an unsaved, validated instance."""
        return model_class(**values)

    @classmethod
    def _persist(cls, model_class: type[M], values: dict[str, Any]) -> M:
        """Return a row inserted in the current unit of work."""
        return cast(M, model_class.objects.create(**values))  # type: ignore[attr-defined]

    @classmethod
    def _refuse_positional(cls, args: tuple[Any, ...]) -> None:
        if args:
            raise TypeError(f"{cls.__name__} takes keyword arguments only")

    @classmethod
    def _accept_only(cls, values: dict[str, Any], allowed: set[str], model: str) -> None:
        """Raise ``ValidationError`` for keywords the manager method cannot take."""
        unknown = sorted(set(values) - allowed)
        if unknown:
            message = f"is not accepted by {cls.__name__}"
            raise ValidationError([{"field": k, "message": message} for k in unknown], model)


class UserFactory(AssistantModelFactory[User]):
    """Users with unique emails and usernames and a known password.

    ``password`` is a factory argument, hashed and never stored in plain text;
    :attr:`DEFAULT_PASSWORD` is the one used when none is given.

    Traits:
        admin: ``role`` is ``UserRole.ADMIN``.
        inactive: ``is_active`` is false, so the user cannot sign in.
        verified: ``email_verified_at`` is set.
    """

    DEFAULT_PASSWORD: ClassVar[str]  # assigned below the class: in its body it would be a field

    class Meta:
        """factory-boy options."""

        model = User

    email = Sequence(lambda n: f"user{n}.{RUN_TAG}@example.com")
    username = Sequence(lambda n: f"user{n}-{RUN_TAG}")
    password = "correct-horse-battery-staple"

    class Params:
        """Traits, switched on with ``trait=True``."""

        admin = Trait(role=UserRole.ADMIN)
        inactive = Trait(is_active=False)
        verified = Trait(email_verified_at=LazyFunction(utcnow))

    @classmethod
    def _construct(cls, model_class: type[User], values: dict[str, Any]) -> User:
        password = values.pop("password")
        return model_class(password_hash=hash_password(password), **values)

    @classmethod
    def _persist(cls, model_class: type[User], values: dict[str, Any]) -> User:
        return model_class.objects.create_user(**values)


UserFactory.DEFAULT_PASSWORD = UserFactory.password


class ApiKeyFactory(AssistantModelFactory[ApiKey]):
    """API keys issued with ``ApiKey.objects.issue``; accepts its arguments only.

    The plain-text key is never stored; get it with :meth:`create_with_raw`.
    """

    class Meta:
        """factory-boy options."""

        model = ApiKey

    user = SubFactory(UserFactory)
    name = Sequence(lambda n: f"key-{n}")
    scopes = LazyFunction(list)
    expires_in = None

    @classmethod
    def create_with_raw(cls, **kwargs: Any) -> tuple[ApiKey, str]:
        """Create a key and return it with its plain text."""
        return _create_with_secret(cls.create, kwargs)

    @classmethod
    def _construct(cls, model_class: type[ApiKey], values: dict[str, Any]) -> ApiKey:
        cls._accept_only(values, {"user", "name", "scopes", "expires_in"}, "ApiKey")
        user, expires_in = values.pop("user"), values.pop("expires_in")
        raw = PREFIX + secrets.token_urlsafe(32)
        expires_at = None if expires_in is None else utcnow() + _positive(expires_in, "expires_in", "ApiKey")
        return model_class(
            user=user,
            user_id=user.id,
            key_prefix=raw[:DISPLAY_LENGTH],
            key_hash=hash_key(raw),
            expires_at=expires_at,
            **values,
        )

    @classmethod
    def _persist(cls, model_class: type[ApiKey], values: dict[str, Any]) -> ApiKey:
        cls._accept_only(values, {"user", "name", "scopes", "expires_in"}, "ApiKey")
        key, raw = model_class.objects.issue(**values)
        _remember(key, raw)
        return key


class AuthSessionFactory(AssistantModelFactory[AuthSession]):
    """Login sessions opened with ``AuthSession.objects.start``; accepts its arguments only.

    The raw bearer token is never stored; get it with :meth:`create_with_token`.
    """

    class Meta:
        """factory-boy options."""

        model = AuthSession

    user = SubFactory(UserFactory)
    ttl = DEFAULT_TTL
    ip = None
    user_agent = None

    @classmethod
    def create_with_token(cls, **kwargs: Any) -> tuple[AuthSession, str]:
        """Open a session and return it with its raw token."""
        return _create_with_secret(cls.create, kwargs)

    @classmethod
    def _construct(cls, model_class: type[AuthSession], values: dict[str, Any]) -> AuthSession:
        cls._accept_only(values, {"user", "ttl", "ip", "user_agent"}, "AuthSession")
        user, now = values["user"], utcnow()
        return model_class(
            user=user,
            user_id=user.id,
            token_hash=hash_token(secrets.token_urlsafe(32)),
            expires_at=now + _positive(values["ttl"], "ttl", "AuthSession"),
            ip_address=values["ip"],
            user_agent=values["user_agent"],
            last_seen_at=now,
        )

    @classmethod
    def _persist(cls, model_class: type[AuthSession], values: dict[str, Any]) -> AuthSession:
        cls._accept_only(values, {"user", "ttl", "ip", "user_agent"}, "AuthSession")
        session, raw = model_class.objects.start(**values)
        _remember(session, raw)
        return session


def _target(value: str) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in TaskStatus)
        raise ValidationError.single("status", f"must be one of {choices}", "Task") from None


def _walk(task: Task, target: TaskStatus, results: Any, error: Any) -> None:
    """Move a saved task to ``target`` through the manager's lifecycle methods."""
    objects = Task.objects
    if target is TaskStatus.CANCELLED:
        objects.cancel(task)
    elif target is not TaskStatus.PENDING:
        objects.start(task)
        if target is TaskStatus.COMPLETED:
            objects.complete(task, results)
        elif target is TaskStatus.FAILED:
            objects.fail(task, error, retry=False)


def _walk_unsaved(task: Task, target: TaskStatus, results: Any, error: Any, now: datetime) -> None:
    """Move an unsaved task to ``target`` through the model's own transition rule."""
    if target is TaskStatus.CANCELLED:
        task.move_to(target, now)
    elif target is not TaskStatus.PENDING:
        task.move_to(TaskStatus.RUNNING, now)
        if target is not TaskStatus.RUNNING:
            task.move_to(target, now)
        if target is TaskStatus.COMPLETED:
            task.results, task.error = results, None
        elif target is TaskStatus.FAILED:
            task.error = error


class TaskFactory(AssistantModelFactory[Task]):
    """Tasks enqueued with ``Task.objects.enqueue`` and moved on by its lifecycle methods.

    ``status`` (default pending) is the state to reach, never written directly:
    ``running`` starts the task, ``completed`` starts and completes it (with
    ``results``), ``failed`` starts it and fails it for good (with ``error``),
    ``cancelled`` cancels it while pending.

    Traits:
        running, completed, failed, cancelled: Reach that status.
        assigned: ``assignee`` is a new user (``None`` otherwise).
    """

    class Meta:
        """factory-boy options."""

        model = Task

    title = Sequence(lambda n: f"Task {n}")
    assignee = None
    status = TaskStatus.PENDING

    class Params:
        """Traits, switched on with ``trait=True``."""

        running = Trait(status=TaskStatus.RUNNING)
        completed = Trait(status=TaskStatus.COMPLETED)
        failed = Trait(status=TaskStatus.FAILED)
        cancelled = Trait(status=TaskStatus.CANCELLED)
        assigned = Trait(assignee=SubFactory(UserFactory))

    @classmethod
    def _split(cls, values: dict[str, Any]) -> tuple[TaskStatus, Any, Any]:
        """Take out the target status and the outcome its lifecycle method records."""
        target = _target(values.pop("status"))
        results = values.pop("results", None) if target is TaskStatus.COMPLETED else None
        error = values.pop("error", "failed") if target is TaskStatus.FAILED else None
        return target, results, error

    @classmethod
    def _construct(cls, model_class: type[Task], values: dict[str, Any]) -> Task:
        target, results, error = cls._split(values)
        task = model_class(**values)
        _walk_unsaved(task, target, results, error, utcnow())
        return task

    @classmethod
    def _persist(cls, model_class: type[Task], values: dict[str, Any]) -> Task:
        target, results, error = cls._split(values)
        task = model_class.objects.enqueue(**values)
        _walk(task, target, results, error)
        return task
