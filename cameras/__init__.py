"""The RTCC's camera half: community camera registry, coverage of a scene, owners' links, clips.

Framework-free: dfr/ persists registrations, sends the emails and serves the pages.
"""

from cameras.clips import (
    CLIP_EXTENSIONS,
    ClipProbe,
    checked_file_name,
    checked_size,
    probe_clip,
    sha256_of,
)
from cameras.errors import (
    CameraError,
    CameraInputError,
    ClipTooLargeError,
    LinkRefusedError,
    RateLimitedError,
)
from cameras.links import LINK_TOKEN_PREFIX, hash_link_token, new_link_token, well_formed_link_token
from cameras.ratelimit import AddressWindow
from cameras.registry import (
    RECORDS,
    CameraSpec,
    Coverage,
    checked_email,
    checked_name,
    checked_phone,
    checked_spec,
    checked_text,
    coverage,
)

__all__ = [
    "CLIP_EXTENSIONS",
    "LINK_TOKEN_PREFIX",
    "RECORDS",
    "AddressWindow",
    "CameraError",
    "CameraInputError",
    "CameraSpec",
    "ClipProbe",
    "ClipTooLargeError",
    "Coverage",
    "LinkRefusedError",
    "RateLimitedError",
    "checked_email",
    "checked_file_name",
    "checked_name",
    "checked_text",
    "checked_phone",
    "checked_size",
    "checked_spec",
    "coverage",
    "hash_link_token",
    "new_link_token",
    "probe_clip",
    "sha256_of",
    "well_formed_link_token",
]
