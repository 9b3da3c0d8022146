"""Password hashing: bcrypt over a SHA-256 pre-hash.

bcrypt reads at most 72 bytes (and bcrypt 5 refuses more). Hashing the password
with SHA-256 first and giving bcrypt the base64 of that digest (44 bytes) means
every byte of a long password counts, with nothing truncated. The cost factor comes
from ``ASSISTANT_MODELS_BCRYPT_ROUNDS`` (default 12; tests may use 4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache

import bcrypt

from assistant_models.exceptions import ValidationError

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "check_password", "dummy_check", "hash_password"]

SCHEME = "bcrypt-sha256$"
MIN_PASSWORD_LENGTH = 8
#: Longer inputs are refused: hashing them costs nothing extra, but nobody types them.
MAX_PASSWORD_LENGTH = 1024


def _rounds() -> int:
    raw = os.environ.get("ASSISTANT_MODELS_BCRYPT_ROUNDS", "12")
    if not raw.isdigit() or not 4 <= int(raw) <= 31:
        raise ValidationError.single("ASSISTANT_MODELS_BCRYPT_ROUNDS", "must be an integer from 4 to 31")
    return int(raw)


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def validate_password(password: object, field: str = "password") -> str:
    """Return ``password`` if it is acceptable.

    Raises:
        ValidationError: Not a string, shorter than 8 or longer than 1024 characters,
            or holding a lone surrogate (text no UTF-8 encoder accepts).
    """
    if not isinstance(password, str):
        raise ValidationError.single(field, "must be a string")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationError.single(
            field, f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long"
        )
    if not _encodable(password):
        raise ValidationError.single(field, "cannot contain lone surrogates: it is not valid Unicode")
    return password


def _encodable(text: str) -> bool:
    """Return whether ``text`` encodes as UTF-8 (it does unless it holds a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def hash_password(password: str) -> str:
    """Return the stored form of ``password`` (validated first).

    Raises:
        ValidationError: See :func:`validate_password`.
    """
    validate_password(password)
    return SCHEME + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(_rounds())).decode("ascii")


def check_password(password: str, stored: str | None) -> bool:
    """Return whether ``password`` matches ``stored``; never raises on bad input."""
    if (
        not isinstance(password, str)
        or not _encodable(password)
        or not stored
        or not stored.startswith(SCHEME)
    ):
        dummy_check()
        return False
    try:
        return bcrypt.checkpw(_prehash(password), stored[len(SCHEME) :].encode("ascii"))
    except ValueError:
        return False


@cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(rounds))


def dummy_check() -> None:
    """Spend the time of one real check, so an unknown user answers as slowly as a wrong password."""
    hmac.compare_digest(b"", b"")
    bcrypt.checkpw(b"not-the-password", _dummy_hash(_rounds()))
