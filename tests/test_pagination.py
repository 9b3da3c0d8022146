"""Page-number and keyset pagination."""

import base64
import json
import os

import pytest
from sqlalchemy import event

from assistant_models import MAX_PER_PAGE, FieldError, ValidationError
from assistant_models.models import Task


@pytest.fixture
def many(db_session):
    return Task.objects.bulk_create([Task(title=f"t{i:03}", priority=i % 11) for i in range(53)])


def test_paginate_returns_a_page_with_its_figures(many):
    page = Task.objects.order_by("title").paginate(page=2, per_page=20)
    assert [t.title for t in page.items] == [f"t{i:03}" for i in range(20, 40)]
    assert (page.total, page.page, page.per_page, page.pages) == (53, 2, 20, 3)
    assert page.has_next and page.has_prev


def test_the_last_and_a_past_the_end_page(many):
    last = Task.objects.order_by("title").paginate(page=3, per_page=20)
    assert len(last.items) == 13 and not last.has_next
    past = Task.objects.order_by("title").paginate(page=9, per_page=20)
    assert past.items == [] and past.total == 53


def test_paginate_without_an_order_uses_the_key(many):
    ids = [t.id for t in Task.objects.paginate(page=1, per_page=MAX_PER_PAGE).items]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("page", "per_page", "field"),
    [
        (0, 10, "page"),
        ("1", 10, "page"),
        (1, 0, "per_page"),
        (1, MAX_PER_PAGE + 1, "per_page"),
        (True, 5, "page"),
    ],
)
def test_bad_page_arguments_raise_validation_errors(db_session, page, per_page, field):
    with pytest.raises(ValidationError) as caught:
        Task.objects.paginate(page=page, per_page=per_page)
    assert caught.value.fields == [field]


def walk(qs, first):
    seen, cursor = [], None
    while True:
        page = qs.cursor_paginate(first=first, after=cursor)
        seen.extend(page.items)
        if not page.has_next:
            assert page.next_cursor is None
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize(
    "order", [("title",), ("-priority",), ("-priority", "title"), ("priority", "-created_at")]
)
def test_cursor_pages_cover_every_row_once_in_order(many, order):
    qs = Task.objects.order_by(*order)
    tie_break = "-pk" if order[-1].startswith("-") else "pk"
    assert [t.id for t in walk(qs, 7)] == [t.id for t in qs.order_by(*order, tie_break)]


def test_cursor_pages_are_keyset_queries_not_offsets(many, db_session):
    sent: list[str] = []
    engine = db_session.get_bind().engine

    def record(conn, cursor, statement, params, context, executemany):
        sent.append(statement)

    first = Task.objects.order_by("-priority").cursor_paginate(first=10)
    event.listen(engine, "before_cursor_execute", record)
    try:
        Task.objects.order_by("-priority").cursor_paginate(first=10, after=first.next_cursor)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(sent) == 1
    assert "OFFSET" not in sent[0] and "(tasks.priority, tasks.id) <" in sent[0]


def test_forged_garbled_and_foreign_cursors_are_refused(many):
    page = Task.objects.order_by("title").cursor_paginate(first=5)
    raw = base64.urlsafe_b64decode(page.next_cursor + "==")
    payload = json.loads(raw[16:])
    payload[1][0] = "t000"  # move the cursor without re-signing it
    forged = base64.urlsafe_b64encode(raw[:16] + json.dumps(payload).encode()).decode()
    for bad in (forged, "not-a-cursor", "", "%%%", page.next_cursor[:-3]):
        with pytest.raises(ValidationError) as caught:
            Task.objects.order_by("title").cursor_paginate(first=5, after=bad)
        assert caught.value.fields == ["after"]
    with pytest.raises(ValidationError):  # a cursor of another ordering
        Task.objects.order_by("-priority").cursor_paginate(first=5, after=page.next_cursor)


def test_cursor_pagination_refuses_nullable_orderings_and_bad_sizes(many):
    with pytest.raises(FieldError, match="due_at"):
        Task.objects.order_by("due_at").cursor_paginate(first=5)
    with pytest.raises(ValidationError):
        Task.objects.cursor_paginate(first=0)
    with pytest.raises(ValidationError):
        Task.objects.cursor_paginate(first=MAX_PER_PAGE + 1)


def test_a_cursor_is_refused_by_a_query_with_other_filters(many):
    low = Task.objects.filter(priority__lt=5).order_by("title")
    cursor = low.cursor_paginate(first=3).next_cursor
    assert low.cursor_paginate(first=3, after=cursor).items
    with pytest.raises(ValidationError):
        Task.objects.filter(priority__lt=6).order_by("title").cursor_paginate(first=3, after=cursor)
    with pytest.raises(ValidationError):
        Task.all_objects.filter(priority__lt=5).order_by("title").cursor_paginate(first=3, after=cursor)


def test_version_cannot_be_set_by_update(many):
    with pytest.raises(FieldError, match="version"):
        Task.objects.all().update(version=1)


def test_a_cursor_made_in_one_process_is_accepted_by_another_without_configuration(
    many, database, monkeypatch
):
    import subprocess
    import sys

    monkeypatch.delenv("ASSISTANT_MODELS_SECRET_KEY", raising=False)
    cursor = Task.objects.order_by("title").cursor_paginate(first=5).next_cursor
    script = (
        "import sys\n"
        "from assistant_models import Database, ValidationError\n"
        "from assistant_models.models import Task\n"
        "db = Database(sys.argv[1])\n"
        "with db.session():\n"
        "    Task.objects.order_by('title').cursor_paginate(first=5, after=sys.argv[2])\n"
        "    try:\n"
        "        Task.objects.order_by('-title').cursor_paginate(first=5, after=sys.argv[2])\n"
        "    except ValidationError:\n"
        "        print('refused-foreign')\n"
    )
    url = database.engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_MODELS_SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", script, url, cursor], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused-foreign"
