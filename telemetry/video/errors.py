"""Errors of the video relay and recorder.

VideoError
├── StreamUnknownError          no stream with that key is configured
├── StreamUriError              a stream URI we cannot receive (scheme, host or port)
├── SignallingError             a WHEP offer we cannot answer
│   ├── BadOfferError           not an SDP offer with a receivable video section
│   ├── SessionLimitError       too many viewers for this stream or overall
│   └── SessionUnknownError     no WHEP session with that id
├── StreamNotLiveError          no frames (yet) to build a snapshot from
└── RecordingError              a recording that could not be written or read
    └── ManifestError           a manifest that is missing or malformed
"""

from __future__ import annotations


class VideoError(Exception):
    """Root of video errors."""


class StreamUnknownError(VideoError):
    """No stream with that key is configured."""


class StreamUriError(VideoError):
    """A stream URI we cannot receive."""


class SignallingError(VideoError):
    """A WHEP offer we cannot answer."""


class BadOfferError(SignallingError):
    """Not an SDP offer with a receivable video section."""


class SessionLimitError(SignallingError):
    """Too many viewers."""


class SessionUnknownError(SignallingError):
    """No WHEP session with that id."""


class StreamNotLiveError(VideoError):
    """No frames to build a snapshot from."""


class RecordingError(VideoError):
    """A recording that could not be written or read."""


class ManifestError(RecordingError):
    """A manifest that is missing or malformed."""
