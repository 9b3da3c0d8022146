"""Attachments: bytes stored once per SHA-256, size and type checks, text extraction states."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid

import pytest
from conversation_rows import PASSWORD, new_chat, new_message, new_user, tag
from sqlalchemy import event

from assistant_models.database import Database
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models import (
    Attachment,
    AttachmentContent,
    ChatSession,
    Message,
    ProcessingStatus,
    User,
)
from assistant_models.models.chat import MAX_ATTACHMENT_BYTES
from assistant_models.models.work import ERROR_MAX

pytestmark = pytest.mark.integration

P = ProcessingStatus


def _contents(data: bytes) -> int:
    return Attachment.objects.of(AttachmentContent).filter(pk=hashlib.sha256(data).hexdigest()).count()


def _attached(data: bytes = b"%PDF-1.7 report", filename: str = "report.pdf", **fields) -> Attachment:
    return Attachment.objects.attach(new_message(new_chat()), filename, data, **fields)


# ------------------------------------------------------------------ attach


def test_an_attached_file_belongs_to_its_message_and_chat_with_its_size_hash_and_guessed_type(
    db_session,
) -> None:
    user = new_user()
    message = new_message(new_chat(user))
    data = b"%PDF-1.7 quarterly report"
    attachment = Attachment.objects.attach(message, "report.pdf", data, uploader=user)
    stored = Attachment.objects.get(pk=attachment.id)
    assert (stored.session_id, stored.message_id, stored.uploader_id) == (
        message.session_id,
        message.id,
        user.id,
    )
    assert (stored.filename, stored.size, stored.mime_type) == ("report.pdf", len(data), "application/pdf")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (stored.processing_status, stored.extracted_text) == (P.PENDING, None)
    assert Attachment.objects.content_of(stored) == data


@pytest.mark.parametrize(
    ("filename", "given", "expected"),
    [
        ("notes.txt", None, "text/plain"),
        ("photo.PNG", None, "image/png"),
        ("blob.unknownext", None, "application/octet-stream"),
        ("no_extension", None, "application/octet-stream"),
        ("data.bin", "application/x-custom", "application/x-custom"),
        ("page.html", "text/html; charset=utf-8", "text/html; charset=utf-8"),
    ],
)
def test_the_mime_type_is_kept_when_given_and_guessed_from_the_name_otherwise(
    db_session, filename, given, expected
) -> None:
    assert _attached(b"x", filename, mime_type=given).mime_type == expected


def test_a_file_may_be_attached_to_a_message_named_by_its_id(db_session) -> None:
    message = new_message(new_chat())
    assert Attachment.objects.attach(message.id, "a.txt", b"a").message_id == message.id


def test_an_empty_file_is_accepted(db_session) -> None:
    attachment = _attached(b"", "empty.txt")
    assert attachment.size == 0 and Attachment.objects.content_of(attachment) == b""


def test_the_same_bytes_are_stored_once_and_shared(db_session) -> None:
    data = os.urandom(256)
    first, second = _attached(data, "a.bin"), _attached(data, "b.bin")
    assert first.sha256 == second.sha256 and first.session_id != second.session_id
    assert _contents(data) == 1
    assert Attachment.objects.content_of(second) == data


@pytest.mark.parametrize(
    ("message", "filename", "content", "fields", "field"),
    [
        ("ok", "a.txt", "text, not bytes", {}, "content"),
        ("ok", "a.txt", None, {}, "content"),
        ("ok", "", b"x", {}, "filename"),
        ("ok", "f" * 256, b"x", {}, "filename"),
        ("ok", "../etc/passwd", b"x", {}, "filename"),
        ("ok", "dir\\file.txt", b"x", {}, "filename"),
        ("ok", "nul\x00.txt", b"x", {}, "filename"),
        ("ok", "a.txt", b"x", {"mime_type": "nonsense"}, "mime_type"),
        ("ok", "a.txt", b"x", {"mime_type": 7}, "mime_type"),
        ("ok", "a.txt", b"x", {"uploader": "someone"}, "uploader"),
        ("missing", "a.txt", b"x", {}, "message"),
        ("not a key", "a.txt", b"x", {}, "message"),
    ],
)
def test_bad_attach_input_is_a_validation_error_naming_the_field_and_writes_nothing(
    db_session, message, filename, content, fields, field
) -> None:
    target = {"ok": new_message(new_chat()), "missing": uuid.uuid4(), "not a key": "not a key"}[message]
    with pytest.raises(ValidationError) as caught:
        Attachment.objects.attach(target, filename, content, **fields)
    assert field in caught.value.fields
    assert (
        Attachment.all_objects.count() == 0 or not Attachment.all_objects.filter(filename=filename).exists()
    )


def test_a_file_over_the_size_limit_is_refused_before_anything_is_written(db_session, record_sql) -> None:
    message = new_message(new_chat())
    with record_sql() as sent, pytest.raises(ValidationError) as caught:
        Attachment.objects.attach(message, "big.bin", bytes(MAX_ATTACHMENT_BYTES + 1))
    assert caught.value.fields == ["content"]
    assert sent == []


def test_a_file_cannot_be_attached_by_a_deleted_uploader(db_session) -> None:
    uploader = new_user()
    uploader.delete()
    with pytest.raises(ValidationError) as caught:
        Attachment.objects.attach(new_message(new_chat()), "a.txt", b"x", uploader=uploader)
    assert caught.value.fields == ["uploader_id"]


def test_a_file_cannot_be_attached_to_a_deleted_message(db_session) -> None:
    message = new_message(new_chat())
    message.delete()
    with pytest.raises(ValidationError) as caught:
        Attachment.objects.attach(message, "a.txt", b"x")
    assert caught.value.fields == ["message_id"]


def test_a_file_cannot_be_attached_to_a_message_of_a_deleted_chat(db_session) -> None:
    message = new_message(new_chat())
    ChatSession.objects.get(pk=message.session_id).delete()
    with pytest.raises(ValidationError) as caught:
        Attachment.objects.attach(message.id, "a.txt", b"x")
    assert caught.value.fields == ["message"]


# ------------------------------------------------------------------ deleting keeps shared bytes


def test_deleting_one_attachment_keeps_the_bytes_another_shares_and_the_last_takes_them(db_session) -> None:
    data = os.urandom(128)
    first, second = _attached(data, "a.bin"), _attached(data, "b.bin")
    assert first.delete() == (1, {"Attachment": 1})
    assert _contents(data) == 1
    assert Attachment.objects.content_of(second) == data
    Attachment.objects.filter(pk=second.id).delete()
    assert _contents(data) == 0


def test_bytes_go_when_the_message_chat_or_user_of_their_last_attachment_is_deleted(db_session) -> None:
    by_message, by_chat, by_user = os.urandom(32), os.urandom(32), os.urandom(32)
    attachments = [_attached(d) for d in (by_message, by_chat, by_user)]
    Message.objects.get(pk=attachments[0].message_id).delete(hard=True)
    ChatSession.objects.get(pk=attachments[1].session_id).delete(hard=True)
    User.objects.get(pk=ChatSession.objects.get(pk=attachments[2].session_id).user_id).delete(hard=True)
    assert [_contents(d) for d in (by_message, by_chat, by_user)] == [0, 0, 0]


def test_soft_deleting_a_chat_keeps_its_attachments_bytes(db_session) -> None:
    data = os.urandom(32)
    attachment = _attached(data)
    chat = ChatSession.objects.get(pk=attachment.session_id)
    chat.delete()
    assert _contents(data) == 1
    chat.restore()
    assert Attachment.objects.content_of(Attachment.objects.get(pk=attachment.id)) == data


# ------------------------------------------------------------------ processing


def test_a_file_is_processed_into_its_extracted_text(db_session) -> None:
    attachment = _attached()
    Attachment.objects.mark_processing(attachment)
    assert Attachment.objects.get(pk=attachment.id).processing_status == P.PROCESSING
    Attachment.objects.mark_ready(attachment, "Quarterly report: revenue up.")
    stored = Attachment.objects.get(pk=attachment.id)
    assert (stored.processing_status, stored.extracted_text) == (P.READY, "Quarterly report: revenue up.")


def test_a_failed_extraction_keeps_its_error_and_may_be_retried(db_session) -> None:
    attachment = _attached()
    Attachment.objects.mark_processing(attachment)
    Attachment.objects.mark_failed(attachment, "x\x00" * ERROR_MAX)
    stored = Attachment.objects.get(pk=attachment.id)
    assert (
        stored.processing_status == P.FAILED and len(stored.error) == ERROR_MAX and "\x00" not in stored.error
    )
    Attachment.objects.mark_processing(attachment)
    assert Attachment.objects.get(pk=attachment.id).error is None
    Attachment.objects.mark_ready(attachment, None)
    assert attachment.processing_status == P.READY
    assert Attachment.objects.mark_failed(_attached(), "unreadable").processing_status == P.FAILED


@pytest.mark.parametrize(
    ("history", "move"),
    [
        ((), "mark_ready"),
        (("mark_processing",), "mark_processing"),
        (("mark_processing", "mark_ready"), "mark_processing"),
        (("mark_processing", "mark_ready"), "mark_failed"),
        (("mark_processing", "mark_ready"), "mark_ready"),
        (("mark_failed",), "mark_ready"),
        (("mark_failed",), "mark_failed"),
    ],
)
def test_an_illegal_processing_move_is_an_invalid_transition(db_session, history, move) -> None:
    attachment = _attached()
    calls = {
        "mark_processing": lambda: Attachment.objects.mark_processing(attachment),
        "mark_ready": lambda: Attachment.objects.mark_ready(attachment, "text"),
        "mark_failed": lambda: Attachment.objects.mark_failed(attachment, "error"),
    }
    for step in history:
        calls[step]()
    status = attachment.processing_status
    with pytest.raises(InvalidTransition):
        calls[move]()
    assert (
        attachment.processing_status == status == Attachment.objects.get(pk=attachment.id).processing_status
    )


def test_extracted_text_with_a_nul_is_a_validation_error_and_the_file_stays_processing(db_session) -> None:
    attachment = _attached()
    Attachment.objects.mark_processing(attachment)
    with pytest.raises(ValidationError) as caught:
        Attachment.objects.mark_ready(attachment, "bad\x00text")
    assert caught.value.fields == ["extracted_text"]
    assert attachment.processing_status == P.PROCESSING


def test_the_async_twin_attaches(adb_session, arun) -> None:
    name = tag()

    async def main() -> bytes:
        user = await User.objects.acreate_user(f"{name}@example.com", f"u{name}", PASSWORD)
        chat = await ChatSession.objects.astart(user)
        message = await Message.objects.acreate(session_id=chat.id, role="user", content="see file")
        attachment = await Attachment.objects.aattach(message, "a.txt", b"async bytes", uploader=user.id)
        return await Attachment.objects.acontent_of(attachment)

    assert arun(main()) == b"async bytes"


# ------------------------------------------------------------------ concurrency (committed rows)


@pytest.fixture
def committed_user(database: Database):
    with database.session():
        user = User.objects.create_user(f"{tag()}@example.com", f"u{tag()}", PASSWORD)
    try:
        yield user
    finally:
        with database.session():
            User.all_objects.filter(pk=user.id).delete(hard=True)


def _committed_attachment(database: Database, user: User, data: bytes) -> tuple[Attachment, Message]:
    with database.session():
        message = new_message(ChatSession.objects.start(user))
        return Attachment.objects.attach(message, "shared.bin", data), message


def test_an_upload_racing_the_delete_of_the_last_attachment_of_its_bytes_keeps_them(
    database: Database, committed_user: User
) -> None:
    data = os.urandom(64)
    old, message = _committed_attachment(database, committed_user, data)
    deleter_done, errors = threading.Event(), []

    def delete_old() -> None:
        try:
            with database.session():
                Attachment.objects.filter(pk=old.id).delete()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            deleter_done.set()

    deleter = threading.Thread(target=delete_old)

    def between(conn, cursor, statement, *_rest) -> None:
        # the upload has stored (or found) the bytes and not yet linked its attachment:
        # the delete of the last other attachment runs now, and must wait for the upload
        if statement.lstrip().startswith("INSERT INTO attachment_contents") and not deleter.is_alive():
            deleter.start()
            assert not deleter_done.wait(0.5), "the delete did not wait for the upload"

    with database.session() as session:
        event.listen(session.connection(), "after_cursor_execute", between)
        new = Attachment.objects.attach(message.id, "again.bin", data)
    deleter.join(10)
    assert errors == []
    with database.session():
        assert Attachment.objects.content_of(Attachment.objects.get(pk=new.id)) == data
        assert not Attachment.objects.filter(pk=old.id).exists()


def test_an_upload_after_a_delete_took_its_bytes_stores_them_again(
    database: Database, committed_user: User
) -> None:
    data = os.urandom(64)
    old, message = _committed_attachment(database, committed_user, data)
    uploaded, errors = [], []

    def upload() -> None:
        try:
            with database.session():
                uploaded.append(Attachment.objects.attach(message.id, "again.bin", data))
        except Exception as exc:  # reported below
            errors.append(exc)

    uploader = threading.Thread(target=upload)
    with database.session():
        Attachment.objects.filter(pk=old.id).delete()  # the bytes go, uncommitted
        uploader.start()
        uploader.join(0.5)
        assert uploader.is_alive(), "the upload did not wait for the delete"
    uploader.join(10)
    assert errors == []
    with database.session():
        assert Attachment.objects.content_of(uploaded[0]) == data
