"""The connections' secrets, encrypted at rest with Fernet keys (docs/shop.md, "Keys and rotation").

``CONNECTION_KEYS`` is a comma-separated list of Fernet keys: the first encrypts, every one decrypts,
so a new key is put first, the secrets are encrypted again with it (``rotate_connection_keys``), and
only then is the old key dropped. Production must set it (a system check); a local run without it
uses a key derived from ``SECRET_KEY``, so that ``make run`` and the tests need nothing.
"""

from __future__ import annotations

import base64
import binascii
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables


class SecretsUnreadable(Exception):
    """Stored secrets that none of the configured keys opens (a key dropped before the rotation)."""


def key_problems(keys: list[str]) -> list[str]:
    """Why each unusable entry of ``keys`` is not a Fernet key, by position (never the key itself)."""
    problems = []
    for position, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            problems.append(f"key {position} of CONNECTION_KEYS is not a Fernet key (32 bytes, URL-safe base64)")
    return problems


@sensitive_variables()
def local_key() -> bytes:
    """The key of a run without CONNECTION_KEYS: derived from SECRET_KEY, so stable across restarts."""
    digest = salted_hmac("shop.keys.local", "connection secrets", secret=settings.SECRET_KEY,
                         algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest)


@sensitive_variables()
def _fernet() -> MultiFernet:
    keys = [key.encode("ascii") for key in settings.CONNECTION_KEYS] or [local_key()]
    return MultiFernet([Fernet(key) for key in keys])


@sensitive_variables()
def seal(secrets: dict[str, str]) -> str:
    """``secrets`` as one token, encrypted with the first key."""
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode("utf-8")).decode("ascii")


@sensitive_variables()
def unseal(token: str) -> dict[str, str]:
    """The secrets in ``token``; ``SecretsUnreadable`` if no configured key opens it."""
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        raise SecretsUnreadable("none of CONNECTION_KEYS opens the stored secrets") from None


@sensitive_variables()
def reseal(token: str) -> str:
    """``token`` encrypted again with the first key (``MultiFernet.rotate``: its time is kept)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError, UnicodeEncodeError):
        raise SecretsUnreadable("none of CONNECTION_KEYS opens the stored secrets") from None


def first_key_opens(token: str) -> bool:
    """Whether ``token`` is already encrypted with the first key (rotation done for it)."""
    keys = [key.encode("ascii") for key in settings.CONNECTION_KEYS] or [local_key()]
    try:
        Fernet(keys[0]).decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        return False
    return True
