"""The drones' MAVLink signing keys: sealed at rest, provisioned on the first link, rotated, kept across restarts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from pathlib import Path

import pytest
from pymavlink.dialects.v20 import common as mavlink
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from dfr.db import make_engine
from dfr.errors import UnsafeSettingsError
from dfr.fleet import delete_drone, ensure_agency
from dfr.models import Dock, Drone, DroneSigningKey, Role
from dfr.signing_keys import (
    KEK_FILE_NAME,
    KeyCipher,
    SigningKeyError,
    SigningKeys,
    load_key_encryption_key,
)
from flight import LinkState
from tests.dfr.flight_rig import rig

KEK = bytes(range(32))
KEY = bytes(range(200, 232))


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        ensure_agency(session, "a", "Agency")
        session.add(Dock(id="K1", agency_id="a", name="Dock", lat=39.0, lon=-104.0))
        for drone_id in ("D8", "D9"):
            session.add(
                Drone(
                    id=drone_id,
                    agency_id="a",
                    dock_id="K1",
                    name=drone_id,
                    mavlink_url="udpin://127.0.0.1:1",
                )
            )
        session.commit()
    return engine


def test_a_stored_key_is_ciphertext_bound_to_its_drone(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    keys = SigningKeys(engine, KeyCipher(KEK), required=True)
    keys.import_keys([("D9", KEY)])
    with Session(engine) as session:
        row = session.get(DroneSigningKey, "D9")
        assert row is not None and row.provisioned_at is not None and row.key_version == 1
        sealed = row.key_ciphertext
    assert KEY.hex() not in sealed and base64.b64encode(KEY).decode() not in sealed
    assert KEY not in base64.b64decode(sealed.removeprefix("v1."))
    stored = keys.stored("D9")
    assert stored is not None and stored.key == KEY and KEY.hex() not in repr(stored)
    with pytest.raises(SigningKeyError):
        KeyCipher(KEK).open("D8", sealed)  # a row copied to another drone does not open
    with pytest.raises(SigningKeyError):
        KeyCipher(bytes(32)).open("D9", sealed)  # nor under another key-encryption key
    keys.import_keys([("D9", KEY)])  # the same key again changes nothing
    assert keys.stored("D9") == stored
    keys.import_keys([("D9", bytes(32))])  # nor a stale fleet file after a rotation
    assert keys.stored("D9") == stored


def test_deleting_a_drone_deletes_its_key(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    SigningKeys(engine, KeyCipher(KEK), required=True).import_keys([("D9", KEY)])
    with Session(engine) as session:
        delete_drone(session, "D9")
        session.commit()
    with Session(engine) as session:
        assert session.get(DroneSigningKey, "D9") is None


def test_the_key_encryption_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = load_key_encryption_key(None, tmp_path)
    assert os.stat(tmp_path / KEK_FILE_NAME).st_mode & 0o777 == 0o600
    assert load_key_encryption_key(None, tmp_path) == first
    configured = base64.b64encode(KEK).decode()
    assert load_key_encryption_key(configured, tmp_path) == KEK
    with pytest.raises(UnsafeSettingsError, match="32 bytes"):
        load_key_encryption_key(base64.b64encode(b"short").decode(), tmp_path)


def test_keys_survive_a_restart_with_the_kept_key_encryption_key(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    before = SigningKeys(engine, KeyCipher(load_key_encryption_key(None, tmp_path)), required=True)
    before.import_keys([("D9", KEY)])
    after = SigningKeys(engine, KeyCipher(load_key_encryption_key(None, tmp_path)), required=True)
    setup = after.setup_for("D9")
    assert setup is not None and setup.key == KEY and setup.pending_key is None


def test_a_required_link_gets_a_new_key_to_provision_and_keeps_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    keys = SigningKeys(engine, KeyCipher(KEK), required=True)
    setup = keys.setup_for("D9")
    assert setup is not None and setup.key is None and setup.pending_key is not None
    again = keys.setup_for("D9")  # a restart before the vehicle confirmed: the same key
    assert again is not None and again.pending_key == setup.pending_key
    optional = SigningKeys(engine, KeyCipher(KEK), required=False)
    assert optional.setup_for("D8") is None  # not provisioned, and not required: left alone
    assert keys.stored("D8") is None


def _vehicle_key(r: object) -> bytes | None:
    link = r.sim.drone(0).links[0]  # type: ignore[attr-defined]
    return None if link.signing is None else link.signing.key


@pytest.mark.integration
@pytest.mark.sim
@pytest.mark.timeout(240)
async def test_the_first_link_provisions_the_key_rotation_replaces_it_and_forgers_are_counted(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        admin = r.http[Role.ADMIN]
        async with asyncio.timeout(30):
            while True:
                status = (await admin.get("/drones/D1/signing-key")).json()
                if status["provisioned_at"] is not None:
                    break
                await asyncio.sleep(0.05)
        assert status["key_version"] == 1 and status["required"] is True
        with Session(r.engine) as session:
            row = session.get(DroneSigningKey, "D1")
            assert row is not None
            sealed = row.key_ciphertext
        vehicle_key = _vehicle_key(r)
        assert vehicle_key is not None and vehicle_key.hex() not in sealed
        assert vehicle_key not in base64.b64decode(sealed.removeprefix("v1."))

        rotated = await admin.post("/drones/D1/signing-key")
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["key_version"] == 2 and not rotated.json()["rotation_pending"]
        assert "key" not in {k for k in rotated.json() if k.endswith("key")}
        assert _vehicle_key(r) not in (None, vehicle_key)
        missing = await admin.get("/drones/NOPE/signing-key")
        assert missing.status_code == 404
        assert (await r.http[Role.PILOT].post("/drones/D1/signing-key")).status_code == 403

        # A forger sends as D1 from its own socket: dropped, counted, never answered.
        forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        forger.bind(("127.0.0.1", 0))
        forger.setblocking(False)
        mav = mavlink.MAVLink(None, 1, 1)
        port = int(r.sim.drone(0).cfg.client_port)
        for _ in range(25):
            forger.sendto(
                mav.heartbeat_encode(2, 12, 1 | 4 | 8 | 16 | 128, 4 << 16, 4, 3).pack(mav),
                ("127.0.0.1", port),
            )
        await asyncio.sleep(0.3)
        live = r.flights.live_state("D1")
        assert live is not None and live.link == LinkState.CONNECTED and not live.armed
        status = (await admin.get("/drones/D1/signing-key")).json()
        assert status["frames_rejected"] == {"address": 25}
        received = 0
        with contextlib.suppress(BlockingIOError):
            while forger.recv(65535):
                received += 1
        forger.close()
        assert received == 0
        metrics = await admin.get("http://dfr/metrics")
        assert metrics.status_code == 200, metrics.text
        assert 'dfr_mavlink_frames_rejected_total{drone_id="D1",reason="address"}' in metrics.text
