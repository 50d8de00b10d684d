"""The drones' MAVLink 2 signing keys: stored encrypted, given to their links, provisioned and rotated.

Each drone has one 32-byte key in `drone_signing_keys`, sealed with AES-256-GCM under the service's
key-encryption key (`DFR_SIGNING__KEY_ENCRYPTION_KEY`, or a key generated once and kept in the data
directory, mode 0600) with the drone id as associated data, so a row copied to another drone does
not open. A sealed value holds the confirmed key and, during a rotation, the key being provisioned.

Provisioning follows PX4 (src/modules/mavlink/mavlink_sign_control.cpp): a vehicle without a key
accepts an unsigned SETUP_SIGNING, so a drone's first link sends it its new key (trust on first
use over the agency's link); one that has a key takes a new one only signed under the old. The key
counts as provisioned once frames signed with it arrive; until then the link keeps sending it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dfr.errors import ConflictError, DfrError, NotFoundError, UnsafeSettingsError
from dfr.fleet import FleetFile
from dfr.models import Drone, DroneSigningKey, utcnow
from flight import (
    FleetLink,
    LinkConfig,
    LinkState,
    LinkTimeoutError,
    MavlinkVehicleLink,
    NotLinkHolderError,
    SigningSetup,
    UnknownVehicleError,
    VehicleId,
)

__all__ = [
    "KEK_FILE_NAME",
    "KeyCipher",
    "RejectedFramesCollector",
    "SigningKeyError",
    "SigningKeys",
    "SigningStatus",
    "StoredSigningKey",
    "fleet_file_keys",
    "load_key_encryption_key",
]

logger = logging.getLogger(__name__)

KEY_BYTES = 32
KEK_FILE_NAME = "signing-kek"
_SEAL_PREFIX = "v1."
_NONCE_BYTES = 12


class SigningKeyError(DfrError):
    """A stored signing key cannot be opened (another key-encryption key, a damaged row)."""


def load_key_encryption_key(configured: str | None, data_dir: Path) -> bytes:
    """The 32-byte key-encryption key: configured (base64), else the data directory's, made once."""
    if configured is not None:
        return _decode_kek(configured, "signing.key_encryption_key")
    path = data_dir / KEK_FILE_NAME
    if path.is_file():
        return _decode_kek(path.read_text(encoding="ascii").strip(), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    kek = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two processes starting on one data directory must not each write their own.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_kek(path.read_text(encoding="ascii").strip(), str(path))
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(kek).decode("ascii") + "\n")
    logger.warning(
        "signing: generated a key-encryption key in %s; keep it with the database "
        "(set DFR_SIGNING__KEY_ENCRYPTION_KEY to manage it yourself)",
        path,
    )
    return kek


def fleet_file_keys(fleet: FleetFile) -> list[tuple[str, bytes]]:
    """The (drone id, key) pairs of the fleet file's drones that give a `signing_key`."""
    return [(d.id, bytes.fromhex(d.signing_key)) for d in fleet.drones if d.signing_key]


def _decode_kek(text: str, where: str) -> bytes:
    try:
        kek = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnsafeSettingsError(f"{where} is not base64") from exc
    if len(kek) != KEY_BYTES:
        raise UnsafeSettingsError(f"{where} must decode to {KEY_BYTES} bytes, not {len(kek)}")
    return kek


class KeyCipher:
    """Seals and opens drone keys with AES-256-GCM; the drone id is bound in as associated data."""

    def __init__(self, kek: bytes) -> None:
        self._aead = AESGCM(kek)

    def __repr__(self) -> str:
        return "KeyCipher(<key-encryption key>)"

    def seal(self, drone_id: str, plain: bytes) -> str:
        """`plain` (key bytes) sealed for `drone_id`, as text for the database."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain, _aad(drone_id))
        return _SEAL_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, drone_id: str, text: str) -> bytes:
        """The key bytes sealed in `text` for `drone_id`; SigningKeyError if they cannot be opened."""
        if not text.startswith(_SEAL_PREFIX):
            raise SigningKeyError(f"drone {drone_id!r}: unknown key format")
        try:
            raw = base64.b64decode(text[len(_SEAL_PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(drone_id))
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise SigningKeyError(
                f"drone {drone_id!r}: the signing key cannot be opened with this key-encryption key "
                "(instances sharing a database must share DFR_SIGNING__KEY_ENCRYPTION_KEY)"
            ) from exc


def _aad(drone_id: str) -> bytes:
    return b"dfr drone signing key\x00" + drone_id.encode()


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    """A drone's key as stored: the confirmed one, one being provisioned, and when it was confirmed."""

    drone_id: str
    key: bytes | None
    pending_key: bytes | None
    key_version: int
    provisioned_at: datetime | None

    def __repr__(self) -> str:
        return (
            f"StoredSigningKey(drone_id={self.drone_id!r}, key_version={self.key_version}, "
            f"provisioned_at={self.provisioned_at!r}, pending={self.pending_key is not None})"
        )


@dataclass(frozen=True, slots=True)
class SigningStatus:
    """A drone's signing as an admin sees it (never the key)."""

    drone_id: str
    required: bool
    key_version: int | None
    provisioned_at: datetime | None
    rotation_pending: bool
    frames_rejected: dict[str, int]


class SigningKeys:
    """The drones' signing keys: what each link starts with, provisioning, rotation, the fleet file's keys."""

    def __init__(
        self,
        engine: Engine,
        cipher: KeyCipher,
        *,
        required: bool,
        confirm_timeout_s: float = 10.0,
        rejected_alert_count: int = 20,
        rejected_alert_window_s: float = 10.0,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self.required = required
        self._confirm_timeout_s = confirm_timeout_s
        self._alert_count = rejected_alert_count
        self._alert_window_s = rejected_alert_window_s
        self._provisioning: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ storage

    def status(self, drone_id: str, fleet: FleetLink) -> SigningStatus:
        """Where the drone's signing stands; NotFoundError for an unknown drone."""
        with Session(self._engine) as session:
            if session.get(Drone, drone_id) is None:
                raise NotFoundError("drone", drone_id)
        stored = self.stored(drone_id)
        try:
            rejected = fleet.vehicle(VehicleId(drone_id)).frames_rejected()
        except UnknownVehicleError:
            rejected = {}
        return SigningStatus(
            drone_id=drone_id,
            required=self.required,
            key_version=None if stored is None else stored.key_version,
            provisioned_at=None if stored is None else stored.provisioned_at,
            rotation_pending=stored is not None and stored.pending_key is not None,
            frames_rejected=rejected,
        )

    def stored(self, drone_id: str) -> StoredSigningKey | None:
        """The drone's stored key (None: it has none)."""
        with Session(self._engine) as session:
            row = session.get(DroneSigningKey, drone_id)
            return None if row is None else self._open(row)

    def _open(self, row: DroneSigningKey) -> StoredSigningKey:
        plain = self._cipher.open(row.drone_id, row.key_ciphertext)
        if len(plain) not in (KEY_BYTES, 2 * KEY_BYTES):
            raise SigningKeyError(f"drone {row.drone_id!r}: stored key has a bad length")
        key: bytes | None = plain[:KEY_BYTES]
        pending = plain[KEY_BYTES:] or None
        if row.provisioned_at is None:
            # Never confirmed by the vehicle: the one key is still being provisioned.
            key, pending = None, key
        return StoredSigningKey(row.drone_id, key, pending, row.key_version, row.provisioned_at)

    def _write(
        self,
        session: Session,
        drone_id: str,
        key: bytes,
        pending: bytes | None,
        *,
        version: int,
        provisioned_at: datetime | None,
    ) -> None:
        row = session.get(DroneSigningKey, drone_id)
        sealed = self._cipher.seal(drone_id, key + (pending or b""))
        if row is None:
            row = DroneSigningKey(drone_id=drone_id, key_version=version, key_ciphertext=sealed)
        row.key_ciphertext = sealed
        row.key_version = version
        row.provisioned_at = provisioned_at
        session.add(row)

    def import_keys(self, keys: Iterable[tuple[str, bytes]]) -> None:
        """Store keys the vehicles already hold (the fleet file's `signing_key`).

        A key the service has since confirmed with the vehicle (a rotation) wins over the file's:
        the file is read at every start, and the vehicle no longer holds the file's key.
        """
        with Session(self._engine) as session:
            for drone_id, key in keys:
                if len(key) != KEY_BYTES:
                    raise SigningKeyError(f"drone {drone_id!r}: a signing key is 32 bytes")
                row = session.get(DroneSigningKey, drone_id)
                if row is not None and row.provisioned_at is not None:
                    current = self._open(row)
                    if current.key != key:
                        logger.warning(
                            "signing: drone %s: the fleet file's signing_key is not the key in "
                            "use (version %d, rotated since?); the stored key is kept",
                            drone_id,
                            row.key_version,
                            extra={"vehicle_id": drone_id},
                        )
                    continue
                version = 1 if row is None else row.key_version
                self._write(session, drone_id, key, None, version=version, provisioned_at=utcnow())
            session.commit()

    # ------------------------------------------------------------------ links

    def setup_for(self, drone_id: str) -> SigningSetup | None:
        """What the drone's link starts with; makes the first key when signing is required and it has none."""
        stored = self.stored(drone_id)
        if stored is None:
            if not self.required:
                logger.warning(
                    "signing: drone %s has no MAVLink signing key and signing is not required: "
                    "frames from anyone with its system id are accepted",
                    drone_id,
                    extra={"vehicle_id": drone_id},
                )
                return None
            new = secrets.token_bytes(KEY_BYTES)
            with Session(self._engine) as session:
                if session.get(Drone, drone_id) is None:
                    raise NotFoundError("drone", drone_id)
                self._write(session, drone_id, new, None, version=1, provisioned_at=None)
                session.commit()
            stored = StoredSigningKey(drone_id, None, new, 1, None)
        return SigningSetup(key=stored.key, pending_key=stored.pending_key, required=self.required)

    def link_config(self, drone_id: str, base: LinkConfig) -> LinkConfig:
        """`base` with the drone's signing (`setup_for`) and the agency's rejection alert threshold."""
        return replace(
            base,
            signing=self.setup_for(drone_id),
            rejected_alert_count=self._alert_count,
            rejected_alert_window_s=self._alert_window_s,
            signing_confirm_timeout_s=self._confirm_timeout_s,
        )

    def watch(self, drone_id: str, link: MavlinkVehicleLink) -> None:
        """Keep provisioning the link's pending key (if any) until the vehicle signs with it."""
        signing = link.signing
        if signing is None or signing.pending_key is None:
            return
        self.forget(drone_id)
        self._provisioning[drone_id] = asyncio.get_running_loop().create_task(
            self._provision(drone_id, link, signing.pending_key),
            name=f"signing-provision-{drone_id}",
        )

    def forget(self, drone_id: str) -> None:
        """Stop provisioning for a link that closes."""
        task = self._provisioning.pop(drone_id, None)
        if task is not None:
            task.cancel()

    async def _provision(self, drone_id: str, link: MavlinkVehicleLink, key: bytes) -> None:
        warned = False
        while link.link_state != LinkState.CLOSED:
            try:
                await link.provision_signing_key(key, self._confirm_timeout_s)
            except NotLinkHolderError:
                break  # another instance holds the drone now and provisions it from the database
            except LinkTimeoutError:
                if not warned:
                    warned = True
                    logger.warning(
                        "signing: drone %s has not taken its MAVLink signing key yet "
                        "(SETUP_SIGNING is resent every heartbeat)",
                        drone_id,
                        extra={"vehicle_id": drone_id},
                    )
                continue
            await asyncio.to_thread(self._confirmed, drone_id, key)
            logger.info("signing: drone %s signs with its key", drone_id)
            break
        if self._provisioning.get(drone_id) is asyncio.current_task():
            del self._provisioning[drone_id]

    def _confirmed(self, drone_id: str, key: bytes) -> None:
        with Session(self._engine) as session:
            row = session.get(DroneSigningKey, drone_id)
            if row is None:
                return  # deleted meanwhile
            stored = self._open(row)
            if key not in (stored.key, stored.pending_key):
                return  # superseded by a newer rotation
            self._write(
                session, drone_id, key, None, version=row.key_version, provisioned_at=utcnow()
            )
            session.commit()

    async def rotate(self, drone_id: str, fleet: FleetLink) -> SigningStatus:
        """Give the drone a new key over its link (signed under the old) and wait until it signs with it.

        ConflictError when this instance does not hold the drone's link; LinkTimeoutError when the
        vehicle does not sign with the new key in time (it is kept and resent while the link runs).
        """
        try:
            link = fleet.vehicle(VehicleId(drone_id))
        except UnknownVehicleError:
            with Session(self._engine) as session:
                if session.get(Drone, drone_id) is None:
                    raise NotFoundError("drone", drone_id) from None
            raise ConflictError(
                f"drone {drone_id!r}: its link is not open on this instance"
            ) from None
        new = secrets.token_bytes(KEY_BYTES)
        await asyncio.to_thread(self._store_pending, drone_id, new)
        self.forget(drone_id)
        try:
            await link.provision_signing_key(new, self._confirm_timeout_s)
        except LinkTimeoutError:
            self.watch(drone_id, link)
            raise
        await asyncio.to_thread(self._confirmed, drone_id, new)
        return await asyncio.to_thread(self.status, drone_id, fleet)

    def _store_pending(self, drone_id: str, new: bytes) -> None:
        with Session(self._engine) as session:
            row = session.get(DroneSigningKey, drone_id)
            if row is None or row.provisioned_at is None:
                # No confirmed key yet: the new one replaces the one being provisioned.
                self._write(session, drone_id, new, None, version=1, provisioned_at=None)
            else:
                current = self._open(row)
                assert current.key is not None
                self._write(
                    session,
                    drone_id,
                    current.key,
                    new,
                    version=row.key_version + 1,
                    provisioned_at=row.provisioned_at,
                )
            session.commit()


class RejectedFramesCollector(Collector):
    """`dfr_mavlink_frames_rejected_total{drone_id, reason}`, read from the links at scrape time."""

    def __init__(self, fleet: FleetLink) -> None:
        self._fleet = fleet

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "dfr_mavlink_frames_rejected",
            "MAVLink frames with a drone's system id dropped before use, by reason "
            "(unsigned, bad_signature, replay, stale, address).",
            labels=["drone_id", "reason"],
        )
        for vid in self._fleet.vehicle_ids():
            for reason, count in sorted(self._fleet.vehicle(vid).frames_rejected().items()):
                family.add_metric([str(vid), reason], count)
        yield family
