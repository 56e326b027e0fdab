"""Virtual API keys: how they look, how they are hashed, how they are shown."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk-gw-"
_BODY_LENGTH = 43  # token_urlsafe(32): 256 bits of entropy
DISPLAY_LENGTH = len(KEY_PREFIX) + 6


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_key(token: str) -> bool:
    """Cheap shape check so garbage never costs a hash or a lookup."""
    return token.startswith(KEY_PREFIX) and len(token) == len(KEY_PREFIX) + _BODY_LENGTH


def hash_key(secret: bytes, key: str) -> str:
    """HMAC-SHA256 with the server secret: the only form in which a key is stored."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]
