"""Owners' links: random tokens shown once (in an email), stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets

#: Distinguishes an owner's link token from a staff API token (dfr_...).
LINK_TOKEN_PREFIX = "dfrl_"
_TOKEN_SHAPE = re.compile(r"^dfrl_[A-Za-z0-9_-]{43}$")


def new_link_token() -> str:
    """A new random link token (256 bits)."""
    return LINK_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_link_token(token: str) -> str:
    """The stored form of a link token (256 random bits need no slow hash)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def well_formed_link_token(token: str) -> bool:
    """Whether `token` has the shape of a link token (anything else is refused unread)."""
    return bool(_TOKEN_SHAPE.match(token))
