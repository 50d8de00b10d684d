"""The simulated vehicle's MAVLink signing, as PX4 does it: the gate, SETUP_SIGNING, the stored key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

from simulator.vehicle import VehicleSigning

KEY = bytes(range(32))
NEW_KEY = bytes(range(50, 82))
_EPOCH_2015_S = 1_420_070_400


def _ticks() -> int:
    return int((time.time() - _EPOCH_2015_S) * 100_000)


def _decoded(msg: Any, key: bytes | None, timestamp: int | None = None) -> Any:
    """`msg` as the vehicle's parser hands it over: packed by the GCS (245/190), then parsed."""
    tx = mavlink.MAVLink(None, 245, 190)
    if key is not None:
        tx.signing.secret_key = key
        tx.signing.sign_outgoing = True
        tx.signing.timestamp = _ticks() if timestamp is None else timestamp
    rx = mavlink.MAVLink(None, 1, 1)
    (parsed,) = rx.parse_buffer(msg.pack(tx))
    return parsed


def _setup(key: bytes, signed_with: bytes | None) -> Any:
    return _decoded(mavlink.MAVLink_setup_signing_message(1, 1, key, _ticks()), signed_with)


def _heartbeat(key: bytes | None, timestamp: int | None = None) -> Any:
    return _decoded(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 4, 3), key, timestamp)


def test_without_a_key_everything_passes_and_an_unsigned_setup_signing_sets_it() -> None:
    signing = VehicleSigning(1)
    assert signing.accepts(_heartbeat(None))
    setup = _setup(KEY, None)
    assert signing.accepts(setup) and signing.handle_setup(setup)
    assert signing.key == KEY
    assert not signing.accepts(_heartbeat(None))
    assert signing.accepts(_heartbeat(KEY))


def test_a_keyed_vehicle_refuses_unsigned_or_foreign_setup_signing_and_takes_a_signed_one() -> None:
    signing = VehicleSigning(1, preload_key=KEY)
    assert not signing.accepts(_setup(NEW_KEY, None))
    assert not signing.accepts(_setup(NEW_KEY, NEW_KEY))
    rotate = _setup(NEW_KEY, KEY)
    assert signing.accepts(rotate) and signing.handle_setup(rotate)
    assert signing.key == NEW_KEY
    assert signing.rejected == 2


def test_replays_stale_streams_and_unlisted_unsigned_messages_are_refused() -> None:
    signing = VehicleSigning(1, preload_key=KEY)
    frame = _heartbeat(KEY)
    assert signing.accepts(frame)
    assert not signing.accepts(frame)  # the same timestamp again
    old = _decoded(mavlink.MAVLink_ping_message(0, 0, 0, 0), KEY, _ticks() - 61 * 100_000)
    assert not signing.accepts(old)  # the GCS stream is known: older than its last
    radio = _decoded(mavlink.MAVLink_radio_status_message(1, 2, 3, 4, 5, 0, 0), None)
    assert signing.accepts(radio)  # PX4 lets RADIO_STATUS through unsigned


def test_a_blank_key_disables_signing_only_when_signed() -> None:
    signing = VehicleSigning(1, preload_key=KEY)
    blank = _decoded(mavlink.MAVLink_setup_signing_message(1, 1, bytes(32), 0), KEY)
    assert signing.accepts(blank) and signing.handle_setup(blank)
    assert not signing.enabled


def test_the_key_and_its_timestamp_survive_a_restart(tmp_path: Path) -> None:
    key_file = tmp_path / "sysid1.key"
    first = VehicleSigning(1, key_file=key_file)
    setup = _setup(KEY, None)
    first.handle_setup(setup)
    stamp = first.next_timestamp()
    again = VehicleSigning(1, key_file=key_file)
    assert again.key == KEY
    assert again.next_timestamp() > stamp - 1
    assert key_file.stat().st_mode & 0o777 == 0o600
