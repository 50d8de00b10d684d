"""The camera registry's HTTP model families (In / Public), shared by the service and its routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from dfr.mail import ReceivedMail

_STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, for the audit: a name, a role, and the client address."""

    name: str
    role: str
    address: str


class RegistrationIn(SQLModel):
    """A camera as its owner registers it (the public form)."""

    model_config = _STRICT  # type: ignore[assignment]

    owner_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    lat: float
    lon: float
    facing_deg: float | None = None
    fov_deg: float | None = None
    street_facing: bool = False
    records: list[str] = Field(default_factory=list, max_length=10)
    description: str = Field(default="", max_length=500)


class RegistrationEdit(SQLModel):
    """What an owner may change through the private link (every field optional)."""

    model_config = _STRICT  # type: ignore[assignment]

    owner_name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    lat: float | None = None
    lon: float | None = None
    facing_deg: float | None = None
    fov_deg: float | None = None
    street_facing: bool | None = None
    records: list[str] | None = Field(default=None, max_length=10)
    description: str | None = Field(default=None, max_length=500)


class RegistrationAccepted(SQLModel):
    """A new registration: pending until the emailed confirmation link is opened."""

    id: int
    status: str
    detail: str


class OwnerRegistrationPublic(SQLModel):
    """A registration as its owner sees it through the private link."""

    id: int
    owner_name: str
    email: str
    phone: str | None
    lat: float
    lon: float
    facing_deg: float | None
    fov_deg: float | None
    street_facing: bool
    records: list[str]
    description: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None


class CameraPublic(SQLModel):
    """A registered, confirmed camera on the staff map (no live view: there is none)."""

    id: int
    lat: float
    lon: float
    facing_deg: float | None
    fov_deg: float | None
    street_facing: bool
    records: list[str]
    description: str


class CamerasPublic(SQLModel):
    data: list[CameraPublic]
    count: int


class CameraNearPublic(CameraPublic):
    """A camera near a call: how far, and whether its view covers the scene (or is not told)."""

    distance_m: float
    covers: bool
    facing_known: bool


class CamerasNearPublic(SQLModel):
    call_id: int
    radius_m: float
    data: list[CameraNearPublic]
    count: int
    #: Distinct owners a footage request would email.
    owners: int


class FootageRequestIn(SQLModel):
    """One action: email every owner of a covering camera within the radius."""

    model_config = _STRICT  # type: ignore[assignment]

    window_start: datetime
    window_end: datetime
    message: str = Field(min_length=1, max_length=2000)
    radius_m: float | None = Field(default=None, gt=0, le=5000)


class FootageLinkPublic(SQLModel):
    id: int
    request_id: int
    call_id: int
    registration_id: int
    created_at: datetime
    expires_at: datetime
    emailed_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str
    #: active, revoked or expired.
    state: str


class FootageRequestPublic(SQLModel):
    id: int
    call_id: int
    requested_by: str
    radius_m: float
    window_start: datetime
    window_end: datetime
    message: str
    created_at: datetime
    links: list[FootageLinkPublic]


class ClipPublic(SQLModel):
    """A clip in the evidence store with its chain of custody."""

    id: int
    call_id: int
    request_id: int
    link_id: int
    registration_id: int
    file_name: str
    size_bytes: int
    sha256: str
    duration_s: float
    codec: str
    width: int
    height: int
    uploaded_by: str
    uploaded_at: datetime
    client_address: str


class CallFootagePublic(SQLModel):
    call_id: int
    requests: list[FootageRequestPublic]
    clips: list[ClipPublic]


class UploadLinkPublic(SQLModel):
    """What an owner's upload page shows: the request, never the case's details."""

    request_id: int
    message: str
    window_start: datetime
    window_end: datetime
    expires_at: datetime
    max_clip_bytes: int
    chunk_bytes: int
    extensions: list[str]
    clips_uploaded: int


class UploadStartIn(SQLModel):
    model_config = _STRICT  # type: ignore[assignment]

    #: The request (case) the owner answers, from the emailed link: a link serves only its own.
    request_id: int
    file_name: str = Field(max_length=1000)
    size_bytes: int


class UploadPublic(SQLModel):
    upload_id: str
    file_name: str
    size_bytes: int
    received_bytes: int
    chunk_bytes: int


class MailPublic(SQLModel):
    id: int
    at: datetime
    mail_from: str
    to: list[str]
    subject: str
    body: str

    @classmethod
    def of(cls, mail: ReceivedMail) -> MailPublic:
        """The API view of a received email."""
        return cls(
            id=mail.id,
            at=mail.at,
            mail_from=mail.mail_from,
            to=list(mail.to),
            subject=mail.subject,
            body=mail.body,
        )


class MailboxPublic(SQLModel):
    data: list[MailPublic]
    count: int


class IntegratedCameraIn(SQLModel):
    """An admin registers a business's camera with the owner's sharing rules."""

    model_config = _STRICT  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=200)
    owner_email: str = Field(min_length=3, max_length=254)
    lat: float
    lon: float
    stream_url: str = Field(min_length=1, max_length=500)
    feed: str = Field(default="", max_length=200)
    live_allowed: bool = False
    max_priority: int = Field(default=1, ge=1, le=5)
    radius_m: float = Field(default=500.0, gt=0, le=5000)
    retention_days: int = Field(default=30, ge=1, le=3650)


class IntegratedCameraPublic(SQLModel):
    """An integrated camera on the staff map (its stream URL stays with the admin)."""

    id: int
    name: str
    lat: float
    lon: float
    feed: str
    live_allowed: bool
    max_priority: int
    radius_m: float
    retention_days: int
    unplugged_at: datetime | None
    unplugged_by: str


class IntegratedCamerasPublic(SQLModel):
    data: list[IntegratedCameraPublic]
    count: int


class LiveCameraPublic(SQLModel):
    """An integrated camera that may be watched live now, and the open call that allows it."""

    id: int
    name: str
    feed: str
    call_id: int


class LiveCamerasPublic(SQLModel):
    data: list[LiveCameraPublic]
    count: int
