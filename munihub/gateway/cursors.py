"""Page cursors: opaque and sealed, because the last key of a page may be a national id.

The last key is encrypted with AES-GCM and bound to its listing (dataset or entity type, and
agency), so a cursor cannot be read, altered, or replayed against another listing.
"""
from __future__ import annotations

import base64
import hashlib
import os

__all__ = ["cursor_cipher", "encode_cursor", "decode_cursor"]


def cursor_cipher(key: bytes | None):
    """The AES-GCM cipher for cursors: from the pseudonym key, so every worker reads the others'
    cursors; without a key, a random one (cursors then die with the process)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(hashlib.sha256(b"munihub-cursor|" + (key or os.urandom(32))).digest())


def encode_cursor(cipher, scope: str, last: str) -> str:
    """Opaque and sealed: the last key may be a national id, so it is encrypted, bound to `scope`."""
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, last.encode("utf-8"), scope.encode("utf-8"))
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def decode_cursor(cipher, scope: str, cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return cipher.decrypt(raw[:12], raw[12:], scope.encode("utf-8")).decode("utf-8")
    except Exception:  # any tampering, truncation or a cursor of another listing
        raise ValueError("cursor is not one this gateway issued for this listing; start without a cursor")
