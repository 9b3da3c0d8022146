"""Hard edges found by an adversarial battery: odd text, deep JSON, time zones, secrets in logs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from assistant_models import Database, Q
from assistant_models.core.types import UnreadableDocumentError, UnreadableJSON
from assistant_models.exceptions import ValidationError
from assistant_models.models import ApiKey, AuthSession, Task, TaskStatus, User

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
SURROGATE = "\ud800"


def _user(**fields: object) -> User:
    tag = uuid.uuid4().hex[:16]
    return User.objects.create_user(f"{tag}@example.com", f"u{tag}", PASSWORD, **fields)


# -- lone surrogates -------------------------------------------------------------------------


def test_authenticate_with_a_surrogate_in_the_login_answers_none(db_session):
    _user()
    assert User.objects.authenticate(f"a{SURROGATE}@example.com", PASSWORD) is None
    assert User.objects.authenticate(f"name{SURROGATE}", PASSWORD) is None


def test_authenticate_with_a_surrogate_in_the_password_answers_none(db_session):
    user = _user()
    assert User.objects.authenticate(user.email, f"pass{SURROGATE}word") is None


def test_create_user_with_a_surrogate_in_the_password_raises_validation_error(db_session):
    with pytest.raises(ValidationError) as caught:
        User.objects.create_user("s@example.com", "surrogate", f"pass{SURROGATE}word")
    assert "password" in caught.value.fields


def test_set_password_with_a_surrogate_raises_validation_error(db_session):
    user = _user()
    with pytest.raises(ValidationError) as caught:
        User.objects.set_password(user, f"pass{SURROGATE}word")
    assert caught.value.fields == ["password"]


def test_api_key_verify_with_a_surrogate_answers_none(db_session):
    assert ApiKey.objects.verify(f"amk_{SURROGATE}") is None


def test_find_by_token_with_a_surrogate_answers_none(db_session):
    assert AuthSession.objects.find_by_token(f"tok{SURROGATE}") is None


@pytest.mark.parametrize(
    "lookup",
    ["title", "title__icontains", "title__in", "description__startswith"],
)
def test_filter_with_a_surrogate_raises_validation_error_naming_the_lookup(db_session, lookup):
    value: object = [SURROGATE] if lookup.endswith("__in") else f"x{SURROGATE}"
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(**{lookup: value}).count()
    assert caught.value.fields == [lookup]


def test_q_filter_with_a_surrogate_raises_validation_error(db_session):
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(Q(title=SURROGATE) | Q(priority=1)).count()
    assert caught.value.fields == ["title"]


def test_search_with_a_surrogate_raises_validation_error(db_session):
    with pytest.raises(ValidationError) as caught:
        Task.objects.search(f"apple {SURROGATE}").count()
    assert caught.value.fields == ["text"]


@pytest.mark.parametrize("field", ["title", "description", "claimed_by"])
def test_create_with_a_surrogate_raises_validation_error_naming_the_field(db_session, field):
    values = {"title": "ok", field: f"bad{SURROGATE}"}
    with pytest.raises(ValidationError) as caught:
        Task.objects.create(**values)
    assert caught.value.fields == [field]


def test_update_with_a_surrogate_raises_validation_error(db_session):
    task = Task.objects.enqueue("fine")
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(pk=task.id).update(title=f"bad{SURROGATE}")
    assert caught.value.fields == ["title"]


def test_assignment_of_a_surrogate_is_refused_at_save(db_session):
    task = Task.objects.enqueue("fine")
    task.title = f"bad{SURROGATE}"
    with pytest.raises(ValidationError) as caught:
        db_session.flush()
    assert caught.value.fields == ["title"]


def test_a_surrogate_inside_a_json_document_is_refused(db_session):
    with pytest.raises(ValidationError) as caught:
        Task.objects.create(title="json", results={"k": [f"v{SURROGATE}"]})
    assert caught.value.fields == ["results"]
    with pytest.raises(ValidationError):
        Task.objects.create(title="json", results={f"k{SURROGATE}": 1})


def test_characters_outside_the_basic_plane_are_still_accepted(db_session):
    task = Task.objects.create(title="emoji \U0001f600 ok", results={"k": "\U0001f600"})
    assert Task.objects.get(title="emoji \U0001f600 ok").id == task.id


# -- deeply nested JSON ----------------------------------------------------------------------


def _nested(depth: int) -> object:
    doc: object = "leaf"
    for level in range(depth):
        doc = [doc] if level % 2 else {"k": doc}
    return doc


def _deep_sql(depth: int) -> str:
    return f"(repeat('[', {depth}) || repeat(']', {depth}))::jsonb"


JSONB_FIELDS = [
    (Task, "results", lambda: {"title": "t"}),
    (User, "meta", lambda: {"email": "j@example.com", "username": "json", "password_hash": "-"}),
    (ApiKey, "scopes", lambda: {"user_id": uuid.uuid4(), "name": "k", "key_prefix": "p", "key_hash": "h"}),
]


@pytest.mark.parametrize(("model", "field", "base"), JSONB_FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_every_jsonb_field_refuses_a_document_nested_past_the_limit(db_session, model, field, base):
    with pytest.raises(ValidationError) as caught:
        model(**base(), **{field: _nested(1_000)})
    assert caught.value.fields == [field]
    assert "64" in str(caught.value)


def _dicts(depth: int) -> dict[str, object]:
    doc: dict[str, object] = {"k": "leaf"}
    for _ in range(depth - 1):
        doc = {"k": doc}
    return doc


def test_a_document_at_the_depth_limit_is_stored_and_one_level_more_is_refused(db_session):
    task = Task.objects.create(title="deep", results=_dicts(64))
    assert Task.objects.get(pk=task.id).results == _dicts(64)
    with pytest.raises(ValidationError) as caught:
        Task.objects.create(title="deeper", results=_dicts(65))
    assert caught.value.fields == ["results"]


def test_update_and_assignment_refuse_a_deep_document(db_session):
    task = Task.objects.enqueue("deep")
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(pk=task.id).update(results=_nested(100_000))
    assert caught.value.fields == ["results"]
    task.results = _nested(5_000)  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        db_session.flush()


def test_filter_refuses_a_deep_value(db_session):
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(results=_nested(5_000)).count()
    assert caught.value.fields == ["results"]


@pytest.fixture
def poisoned(db_session) -> Task:
    """A due task whose results another client set to JSON nested 5,000 levels deep."""
    task = Task.objects.enqueue(f"poisoned-{uuid.uuid4().hex[:8]}", priority=10)
    db_session.execute(text(f"UPDATE tasks SET results = {_deep_sql(5_000)} WHERE id = :id"), {"id": task.id})
    db_session.expire_all()
    return task


def test_get_of_a_row_with_a_too_deep_document_loads_it_as_unreadable(poisoned):
    task = Task.objects.get(pk=poisoned.id)
    assert isinstance(task.results, UnreadableJSON)
    assert "UnreadableJSON" in repr(task)
    with pytest.raises(UnreadableDocumentError):
        task.results["k"]  # type: ignore[index]


def test_listing_and_values_survive_a_row_with_a_too_deep_document(poisoned):
    assert poisoned.id in [t.id for t in Task.objects.all()]
    (row,) = Task.objects.filter(pk=poisoned.id).values("results")
    assert isinstance(row["results"], UnreadableJSON)


def test_claim_next_claims_a_task_with_a_too_deep_document_and_the_queue_moves_on(poisoned):
    claimed = Task.objects.claim_next("worker-1")
    assert claimed is not None and claimed.id == poisoned.id
    Task.objects.complete(claimed, {"answer": "repaired"})
    assert Task.objects.get(pk=poisoned.id).results == {"answer": "repaired"}


def test_saving_other_fields_leaves_a_too_deep_document_as_stored(poisoned, db_session):
    task = Task.objects.get(pk=poisoned.id)
    task.priority = 1
    db_session.flush()
    depth = db_session.execute(
        text("SELECT length(results::text) FROM tasks WHERE id = :id"), {"id": task.id}
    ).scalar_one()
    assert depth == 10_000


# -- time zones and clocks -------------------------------------------------------------------

NAIVE = datetime(2030, 1, 1, 12, 0)
AWARE = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
FAR = "9999-12-31 23:00:00+00"


@pytest.fixture
def tokyo_url(scratch_url: str) -> str:
    """A scratch database whose server-side default time zone is nine hours east of UTC."""
    server = create_engine(scratch_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Tokyo'")
    server.dispose()
    return scratch_url


def test_every_connection_works_in_utc_whatever_the_database_default(tokyo_url):
    with Database(tokyo_url) as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar_one() == "UTC"
        read = conn.execute(text(f"SELECT timestamptz '{FAR}'")).scalar_one()
    assert read == datetime(9999, 12, 31, 23, 0, tzinfo=UTC)


def test_a_time_zone_in_the_url_options_does_not_override_utc(tokyo_url):
    url = f"{tokyo_url}{'&' if '?' in tokyo_url else '?'}options=-c%20timezone%3DAsia/Tokyo"
    with Database(url) as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar_one() == "UTC"


@pytest.mark.parametrize("value", [NAIVE, "2030-01-01T12:00:00"], ids=["datetime", "iso-text"])
def test_create_refuses_a_naive_datetime(db_session, value):
    with pytest.raises(ValidationError) as caught:
        Task.objects.create(title="naive", due_at=value)
    assert caught.value.fields == ["due_at"]


def test_update_and_assignment_refuse_a_naive_datetime(db_session):
    task = Task.objects.create(title="aware", due_at=AWARE)
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(pk=task.id).update(due_at=NAIVE)
    assert caught.value.fields == ["due_at"]
    task.due_at = NAIVE
    with pytest.raises(ValidationError):
        db_session.flush()


@pytest.mark.parametrize(
    ("lookup", "value"),
    [
        ("due_at__lt", NAIVE),
        ("due_at", "2030-01-01 12:00"),
        ("due_at__in", [AWARE, NAIVE]),
        ("due_at__range", (NAIVE, AWARE)),
    ],
)
def test_lookups_refuse_a_naive_datetime(db_session, lookup, value):
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(**{lookup: value}).count()
    assert caught.value.fields == [lookup]
    with pytest.raises(ValidationError):
        Task.objects.filter(Q(**{lookup: value}) | Q(priority=1)).count()


def test_aware_datetimes_in_any_zone_are_accepted(db_session):
    east = timezone(timedelta(hours=9))
    task = Task.objects.create(title="aware", due_at=datetime(2030, 1, 1, 21, 0, tzinfo=east))
    assert Task.objects.filter(due_at=AWARE + timedelta(hours=0)).get().id == task.id
    assert Task.objects.filter(due_at__lt="2030-01-01T13:00:00+00:00", pk=task.id).exists()


@pytest.fixture
def client_clock_an_hour_behind(monkeypatch):
    """Make every client-side clock of the package run an hour behind the server's."""
    behind = lambda: datetime.now(UTC) - timedelta(hours=1)  # noqa: E731
    modules = (
        "core.types",
        "core.persistence",
        "models.work",
        "models.identity.users",
        "models.identity.auth_sessions",
        "models.identity.api_keys",
    )
    for module in modules:
        monkeypatch.setattr(f"assistant_models.{module}.utcnow", behind, raising=False)


def test_session_expiry_follows_the_server_clock_not_the_client_clock(
    db_session, client_clock_an_hour_behind
):
    _session, raw = AuthSession.objects.start(_user(), ttl=timedelta(minutes=30))
    assert AuthSession.objects.find_by_token(raw) is not None


def test_touch_extends_by_the_server_clock(db_session, client_clock_an_hour_behind):
    session, raw = AuthSession.objects.start(_user(), ttl=timedelta(minutes=1))
    AuthSession.objects.touch(session, extend=timedelta(minutes=30))
    assert AuthSession.objects.find_by_token(raw) is not None


def test_api_key_expiry_follows_the_server_clock(db_session, client_clock_an_hour_behind):
    _key, raw = ApiKey.objects.issue(_user(), "ci", expires_in=timedelta(minutes=30))
    assert ApiKey.objects.verify(raw) is not None


def test_a_revoked_key_is_revoked_by_the_server_clock(db_session, client_clock_an_hour_behind):
    key, _raw = ApiKey.objects.issue(_user(), "ci")
    ApiKey.objects.revoke(key)
    server = db_session.execute(text("SELECT clock_timestamp()")).scalar_one()
    assert key.revoked_at is not None and abs(key.revoked_at - server) < timedelta(minutes=1)


def _near_the_server_clock(db_session, *stamps):
    server = db_session.execute(text("SELECT clock_timestamp()")).scalar_one()
    for stamp in stamps:
        assert stamp is not None and abs(stamp - server) < timedelta(minutes=1), (stamp, server)


def test_task_lifecycle_stamps_follow_the_server_clock(db_session, client_clock_an_hour_behind):
    task = Task.objects.enqueue("clocked")
    Task.objects.start(task, worker="w")
    Task.objects.complete(task)
    _near_the_server_clock(db_session, task.started_at, task.completed_at)
    cancelled = Task.objects.cancel(Task.objects.enqueue("cancelled"))
    _near_the_server_clock(db_session, cancelled.completed_at)


def test_a_retried_task_runs_after_a_delay_on_the_server_clock(db_session, client_clock_an_hour_behind):
    task = Task.objects.enqueue("retried", max_retries=3)
    Task.objects.start(task, worker="w")
    Task.objects.fail(task, "boom")
    # a client clock an hour behind would make run_after an hour early: due at once
    assert not Task.objects.due().filter(pk=task.id).exists()
    now = db_session.execute(text("SELECT now()")).scalar_one()
    assert task.run_after is not None and task.run_after > now


def test_soft_delete_and_email_verification_stamp_the_server_clock(db_session, client_clock_an_hour_behind):
    user = User.objects.verify_email(_user())
    task = Task.objects.enqueue("deleted")
    task.delete()
    _near_the_server_clock(db_session, user.email_verified_at, task.deleted_at)


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("10000-06-01 00:00+00", datetime.max.replace(tzinfo=UTC)),
        ("294276-01-01 00:00+00", datetime.max.replace(tzinfo=UTC)),
        ("4713-01-01 00:00+00 BC", datetime.min.replace(tzinfo=UTC)),
        ("infinity", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_a_timestamp_python_cannot_hold_reads_clamped_and_the_queue_moves_on(db_session, stored, read):
    task = Task.objects.enqueue(f"far-{uuid.uuid4().hex[:8]}", priority=10)
    db_session.execute(
        text("UPDATE tasks SET due_at = CAST(:d AS timestamptz) WHERE id = :id"), {"d": stored, "id": task.id}
    )
    db_session.expire_all()
    assert Task.objects.get(pk=task.id).due_at == read
    assert db_session.execute(text("SELECT ARRAY[CAST(:d AS timestamptz)]"), {"d": stored}).scalar_one() == [
        read
    ]
    claimed = Task.objects.claim_next("worker-1")
    assert claimed is not None and claimed.id == task.id


def test_an_unreadable_document_cannot_be_written_elsewhere(poisoned):
    task = Task.objects.get(pk=poisoned.id)
    other = Task.objects.enqueue("copy target")
    with pytest.raises(ValidationError) as caught:
        Task.objects.filter(pk=other.id).update(results=task.results)
    assert caught.value.fields == ["results"]
    with pytest.raises(ValidationError):
        task.full_clean()


@pytest.mark.parametrize(
    ("document", "too_deep"),
    [
        (_dicts(64), False),
        (_dicts(65), True),
        ({"text": "[" * 500, "quote": 'a "[[[" b \\" [[[['}, False),
        ([{"k": [1, 2.5e-3, True, None, "x"]} for _ in range(500)], False),
    ],
)
def test_the_stored_depth_check_counts_containers_not_brackets_inside_strings(document, too_deep):
    import json

    from assistant_models.core.types import json_depth_exceeds, json_loads

    stored = json.dumps(document)
    assert json_depth_exceeds(stored) is too_deep
    loaded = json_loads(stored)
    assert isinstance(loaded, UnreadableJSON) if too_deep else loaded == document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"score": float("nan")}, "NaN"),
        ({"scores": [1.0, float("inf")]}, "infinity"),
        ({"handle": object()}, "cannot be stored as JSON"),
    ],
)
def test_a_document_json_cannot_hold_is_refused_before_sql_on_every_write_path(
    db_session, record_sql, document, message
):
    task = Task.objects.enqueue("json")
    with record_sql() as sent, pytest.raises(ValidationError, match=message) as create:
        Task.objects.enqueue("bad json", results=document)
    assert create.value.fields == ["results"]
    with pytest.raises(ValidationError, match=message):
        Task.objects.filter(pk=task.id).update(results=document)
    with pytest.raises(ValidationError, match=message):
        Task.objects.bulk_create([Task(title="bulk", results=document)])
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH", "COPY")) for s in sent)
    assert Task.objects.get(pk=task.id).results is None  # the unit of work is still usable


def test_documents_keep_what_pydantic_converts_datetimes_uuids_and_enums(db_session):
    when, key = datetime(2030, 1, 1, tzinfo=UTC), uuid.uuid4()
    task = Task.objects.enqueue("converted", results={"at": when, "id": key, "status": TaskStatus.PENDING})
    db_session.expunge_all()
    assert Task.objects.get(pk=task.id).results == {
        "at": when.isoformat().replace("+00:00", "Z"),
        "id": str(key),
        "status": "pending",
    }
