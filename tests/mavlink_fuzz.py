"""Mutated MAVLink frames for fuzz tests of the service's link and the simulator's link.

Frames are built byte by byte (header, payload, CRC with the message's CRC_EXTRA), so a payload of
random bytes can be given a correct CRC and reach the decoder: random float32 bit patterns include
NaN and infinities, random integers their extremes. The mutations are the ways a frame arrives
broken or hostile: bit flips anywhere, a cut-short frame, a wrong length byte, a random message id,
another system's id, garbage between frames, MAVLink 1 framing. A fixed seed makes a run repeatable.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from fastcrc import crc16
from pymavlink.dialects.v20 import common as mavlink

_MAP = mavlink.mavlink_map
_KNOWN_IDS = tuple(sorted(_MAP))


def crc_of(body: bytes, crc_extra: int) -> bytes:
    """The MAVLink CRC (MCRF4XX over everything after the start byte, then CRC_EXTRA)."""
    crc = crc16.mcrf4xx(body + bytes((crc_extra,)))
    return bytes((crc & 0xFF, crc >> 8))


def frame_v2(msgid: int, payload: bytes, sysid: int, compid: int, seq: int) -> bytes:
    """A MAVLink 2 frame with a correct CRC for `msgid` (CRC_EXTRA 0 for an unknown id)."""
    body = bytes((len(payload), 0, 0, seq, sysid, compid)) + msgid.to_bytes(3, "little") + payload
    extra = _MAP[msgid].crc_extra if msgid in _MAP else 0
    return b"\xfd" + body + crc_of(body, extra)


def frame_v1(msgid: int, payload: bytes, sysid: int, compid: int, seq: int) -> bytes:
    """A MAVLink 1 frame with a correct CRC (ids below 256 only)."""
    body = bytes((len(payload), seq, sysid, compid, msgid)) + payload
    extra = _MAP[msgid].crc_extra if msgid in _MAP else 0
    return b"\xfe" + body + crc_of(body, extra)


class Mutation(StrEnum):
    """How one frame of the stream was made."""

    VALID = "valid"  # an untouched frame of the base set
    RANDOM_PAYLOAD = "random_payload"  # random payload bytes of a target type, CRC fixed up
    RANDOM_KNOWN_ID = "random_known_id"  # any message of the dialect, random payload, CRC fixed
    BIT_FLIP = "bit_flip"  # 1 to 3 bits flipped (not length, flags, id): the CRC fails
    TRUNCATED = "truncated"  # cut short; last in its datagram, or the next frame's bytes follow
    LENGTH = "length"  # the payload length byte replaced: the next frame's bytes are read into it
    LONGER = "longer"  # a length beyond the datagram's end (only last in a datagram)
    RANDOM_ID = "random_id"  # a random 24-bit message id (almost never in the dialect)
    OTHER_SYSTEM = "other_system"  # a valid frame from another system id
    GARBAGE = "garbage"  # 1-40 random bytes between frames
    MAVLINK1 = "mavlink1"  # MAVLink 1 framing, sometimes with a bit flipped


#: Mutations whose frame never passes the receiver's CRC and system checks, as long as TRUNCATED
#: and LONGER come last in a datagram (a frame read across into the next one passes its CRC by a
#: 1 in 65536 chance, as on any MAVLink link: that is what signing is for).
INVALID = frozenset(
    {
        Mutation.BIT_FLIP,
        Mutation.RANDOM_ID,
        Mutation.OTHER_SYSTEM,
        Mutation.GARBAGE,
    }
)
INVALID_LAST = frozenset({Mutation.TRUNCATED, Mutation.LONGER})


@dataclass
class FrameFuzzer:
    """Streams of mutated frames addressed as system `sysid` (a fixed seed repeats them)."""

    seed: int
    sysid: int
    compid: int
    targets: Sequence[int]  # message ids the receiver decodes: most random payloads go to them
    base: Sequence[bytes]  # realistic valid frames of those messages
    #: Message ids RANDOM_KNOWN_ID never makes (one that would end the run, e.g. SETUP_SIGNING).
    avoid: frozenset[int] = frozenset()
    counts: dict[Mutation, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._seq = 0
        self._sizes = {mid: _MAP[mid].unpacker.size for mid in _KNOWN_IDS}
        self._v1_targets = [m for m in self.targets if m < 256] or [0]
        self._known_ids = [m for m in _KNOWN_IDS if m not in self.avoid]
        self._pools: dict[Mutation, list[bytes]] = {}
        self._seq_streams = 0
        self._make = {
            Mutation.VALID: self._valid,
            Mutation.RANDOM_PAYLOAD: self._random_payload_frame,
            Mutation.RANDOM_KNOWN_ID: self._random_known_id,
            Mutation.TRUNCATED: self._truncated,
            Mutation.LENGTH: self._length,
            Mutation.LONGER: self._longer,
            Mutation.RANDOM_ID: self._random_id,
            Mutation.OTHER_SYSTEM: self._other_system,
            Mutation.GARBAGE: self._garbage,
            Mutation.MAVLINK1: self._mavlink1,
        }

    def _below(self, n: int) -> int:
        """A random integer 0 <= k < n (cheaper than randrange in a hot loop)."""
        return int(self._rng.random() * n)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _payload(self, msgid: int) -> bytes:
        # MAVLink 2 trims trailing zero bytes and a receiver pads them back: any length up to the
        # full payload is legal.
        return self._rng.randbytes(1 + self._below(self._sizes[msgid]))

    def _base(self) -> bytes:
        return self.base[self._below(len(self.base))]

    def _valid(self) -> bytes:
        return self._base()

    def _random_payload_frame(self) -> bytes:
        msgid = self.targets[self._below(len(self.targets))]
        return frame_v2(msgid, self._payload(msgid), self.sysid, self.compid, self._next_seq())

    def _random_known_id(self) -> bytes:
        msgid = self._known_ids[self._below(len(self._known_ids))]
        return frame_v2(msgid, self._payload(msgid), self.sysid, self.compid, self._next_seq())

    def _truncated(self) -> bytes:
        base = self._base()
        return base[: 1 + self._below(len(base) - 2)]

    def _length(self) -> bytes:
        out = bytearray(self._base())
        out[1] = (out[1] + 1 + self._below(255)) & 0xFF
        return bytes(out)

    def _longer(self) -> bytes:
        out = bytearray(self._base())
        out[1] = min(255, out[1] + 1 + self._below(256 - out[1]))
        return bytes(out)

    def _random_id(self) -> bytes:
        msgid = self._rng.getrandbits(24)
        while msgid in _MAP:
            msgid = self._rng.getrandbits(24)
        return frame_v2(msgid, self._rng.randbytes(self._below(61)), self.sysid, 1, 0)

    def _other_system(self) -> bytes:
        msgid = self.targets[self._below(len(self.targets))]
        other = (self.sysid + 1 + self._below(254)) & 0xFF
        return frame_v2(msgid, self._payload(msgid), other, 1, self._next_seq())

    def _garbage(self) -> bytes:
        return self._rng.randbytes(1 + self._below(40))

    def _mavlink1(self) -> bytes:
        msgid = self._v1_targets[self._below(len(self._v1_targets))]
        v1 = frame_v1(msgid, self._payload(msgid), self.sysid, self.compid, self._next_seq())
        if self._below(2):
            flipped = bytearray(v1)
            flipped[1 + self._below(len(v1) - 1)] ^= 1 << self._below(8)
            return bytes(flipped)
        return v1

    def datagrams(
        self,
        frames: int,
        weights: dict[Mutation, float],
        *,
        last: dict[Mutation, float] | None = None,
        frames_per_datagram: int = 40,
    ) -> list[bytes]:
        """`frames` mutated frames drawn by `weights`, packed `frames_per_datagram` a datagram.

        `last`, when given, draws the last frame of each datagram instead. Frames of a kind that
        needs no fresh CRC come from pools made once (every truncation and every length byte of
        every base frame; random ids, other systems, garbage, MAVLink 1), and bit flips are applied
        to the whole stream at once, so a million frames cost about a second to make.
        """
        gen = np.random.default_rng(self.seed + self._seq_streams)
        self._seq_streams += 1
        kinds = list(dict.fromkeys([*weights, *(last or {})]))
        picks = gen.choice(len(kinds), size=frames, p=_probabilities(kinds, weights))
        if last:
            tail = slice(frames_per_datagram - 1, None, frames_per_datagram)
            picks[tail] = gen.choice(
                len(kinds), size=len(picks[tail]), p=_probabilities(kinds, last)
            )
        pieces: list[bytes] = [b""] * frames
        for kind_no, kind in enumerate(kinds):
            where = np.flatnonzero(picks == kind_no)
            self.counts[kind] = self.counts.get(kind, 0) + len(where)
            if kind in _FRESH:
                make = self._make[kind]
                for i in where.tolist():
                    pieces[i] = make()
                continue
            pool = self._pool(kind)
            for i, j in zip(
                where.tolist(), gen.integers(len(pool), size=len(where)).tolist(), strict=True
            ):
                pieces[i] = pool[j]
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=frames)
        ends = np.cumsum(lengths)
        stream = np.frombuffer(bytearray(b"".join(pieces)), dtype=np.uint8)
        if Mutation.BIT_FLIP in kinds:
            self._flip_bits(gen, stream, picks == kinds.index(Mutation.BIT_FLIP), ends, lengths)
        cuts = [0, *ends[frames_per_datagram - 1 :: frames_per_datagram].tolist()]
        if cuts[-1] != int(ends[-1]):
            cuts.append(int(ends[-1]))
        data = stream.tobytes()
        return [data[a:b] for a, b in itertools.pairwise(cuts)]

    @staticmethod
    def _flip_bits(
        gen: np.random.Generator,
        stream: npt.NDArray[np.uint8],
        flipped: npt.NDArray[np.bool_],
        ends: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
    ) -> None:
        """1-3 distinct bits of each flipped frame; its start byte too in 5 % of them.

        Never the length, flags or message id bytes: the frame keeps its span and its CRC_EXTRA,
        so the CRC catches every flip for sure (a flipped id with another CRC_EXTRA can pass it:
        HEARTBEAT with bit 1 of its id flipped is a valid SYSTEM_TIME).
        """
        starts = (ends - lengths)[flipped]
        spans = 8 * (lengths[flipped] - 6)  # bytes 3-6 (seq, system, component), 10 on
        n = len(starts)
        # Distinct by construction: the 2nd and 3rd bit are offsets from the 1st, never equal.
        b1 = (gen.random(n) * spans).astype(np.int64)
        o2 = 1 + (gen.random(n) * (spans - 1)).astype(np.int64)
        o3 = 1 + (gen.random(n) * (spans - 2)).astype(np.int64)
        o3 += o3 >= o2
        count = gen.integers(1, 4, size=n)
        two, three = count >= 2, count == 3
        frame_of = np.concatenate([np.arange(n), np.flatnonzero(two), np.flatnonzero(three)])
        bit = np.concatenate([b1, ((b1 + o2) % spans)[two], ((b1 + o3) % spans)[three]])
        byte = bit >> 3
        positions = starts[frame_of] + np.where(byte < 4, byte + 3, byte + 6)
        np.bitwise_xor.at(stream, positions, (1 << (bit & 7)).astype(np.uint8))
        start_flips = gen.random(n) < 0.05
        np.bitwise_xor.at(
            stream,
            starts[start_flips],
            (1 << gen.integers(0, 8, size=int(start_flips.sum()))).astype(np.uint8),
        )

    def _pool(self, kind: Mutation) -> list[bytes]:
        pool = self._pools.get(kind)
        if pool is not None:
            return pool
        if kind in (Mutation.VALID, Mutation.BIT_FLIP):
            pool = list(self.base)
        elif kind == Mutation.TRUNCATED:
            pool = [b[:n] for b in self.base for n in range(1, len(b) - 1)]
        elif kind in (Mutation.LENGTH, Mutation.LONGER):
            pool = [
                b[:1] + bytes((length,)) + b[2:]
                for b in self.base
                for length in range(256)
                if length > b[1] or (kind == Mutation.LENGTH and length != b[1])
            ]
        else:
            make = self._make[kind]
            pool = [make() for _ in range(_POOL_SIZE)]
        self._pools[kind] = pool
        return pool


#: Kinds made fresh for every frame: their random payloads are what the decoders are fuzzed with.
_FRESH = frozenset({Mutation.RANDOM_PAYLOAD, Mutation.RANDOM_KNOWN_ID})
_POOL_SIZE = 4096


def _probabilities(kinds: list[Mutation], weights: dict[Mutation, float]) -> list[float]:
    total = sum(weights.values())
    return [weights.get(k, 0.0) / total for k in kinds]


def encoder(sysid: int, compid: int) -> mavlink.MAVLink:
    """A pymavlink encoder for realistic base frames."""
    return mavlink.MAVLink(None, sysid, compid)
