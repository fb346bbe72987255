"""Encryption of provider secrets at rest (Fernet, AES-128-CBC + HMAC-SHA256).

The key comes from `FIELD_ENCRYPTION_KEY` (one or more comma-separated Fernet keys: the first
encrypts, all decrypt, so keys can be rotated), or, when unset, is derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _derived_key(secret: str) -> bytes:
    digest = hashlib.sha256(b"mobiliza.providers.field-encryption:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _fernet(configured: str, secret: str) -> MultiFernet:
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    fernets = [Fernet(k.encode()) for k in keys] or [Fernet(_derived_key(secret))]
    return MultiFernet(fernets)


def _current() -> MultiFernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _current().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The clear text; "" for an empty value. Raises ValueError when the key does not match."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored secret cannot be decrypted with the current key.") from exc
