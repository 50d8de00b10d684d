"""Which addresses a drone's `mavlink_url` and `video_url` may name, and which local ports they bind.

The rules, checked for the admin API and the fleet file alike:
- `mavlink_url` uses a scheme the link opens (`udpin`, `udpout`, `tcp`/`tcpout`) with host:port;
  `video_url` is `udp://host:port`, `rtp://host:port` or a bare port (where the service listens).
- The host is an IP address or `localhost`: a host name could resolve anywhere later, so it cannot
  be held to the networks below.
- Never a link-local address (169.254.0.0/16, fe80::/10), a cloud metadata address, multicast or
  broadcast, whatever the networks allow; otherwise loopback, the unspecified address where the
  URL names a listening socket (`udpin`, video), or an address inside the agency's allowed networks.
- No two drones bind the same local UDP port (a `udpin` link or a video stream; the video ingest
  listens on loopback) or dial the same vehicle address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Literal

from dfr.settings import DEFAULT_ALLOWED_NETWORKS

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: Instance metadata services outside the link-local ranges (AWS IPv6, Alibaba, Azure, Oracle).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        IPv6Address("fd00:ec2::254"),
        IPv4Address("100.100.100.200"),
        IPv4Address("168.63.129.16"),
        IPv4Address("192.0.0.192"),
    }
)
#: Where the video ingest binds, whatever host the URL names (telemetry.video.parse_stream_uri).
VIDEO_LISTEN_HOST = IPv4Address("127.0.0.1")
_LOCALHOST = IPv4Address("127.0.0.1")
_VIDEO_SCHEMES = frozenset({"udp", "rtp"})


class UrlRefusedError(ValueError):
    """A URL the policy refuses; the message says why (a ValueError, so validators report it)."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True, slots=True)
class Binding:
    """A socket a drone's URL opens: a local UDP port it listens on, or a vehicle address it dials."""

    kind: Literal["listen", "dial"]
    transport: Literal["udp", "tcp"]
    host: IPAddress
    port: int
    #: The drone field the binding comes from, for the message that names a clash.
    field: Literal["mavlink_url", "video_url"]
    url: str
    #: The address the URL names (None: a video URL with a port only).
    named_host: IPAddress | None

    def clashes_with(self, other: Binding) -> bool:
        """Whether both cannot be open at once (same port on an overlapping address)."""
        if (self.kind, self.transport, self.port) != (other.kind, other.transport, other.port):
            return False
        if self.kind == "dial":
            return self.host == other.host
        return self.host == other.host or self.host.is_unspecified or other.host.is_unspecified

    def describe(self) -> str:
        """e.g. `UDP port 24540 on 127.0.0.1` or `TCP 10.0.0.5:5760`."""
        if self.kind == "listen":
            return f"{self.transport.upper()} port {self.port} on {self.host}"
        return f"{self.transport.upper()} {_host_text(self.host)}:{self.port}"


def _host_text(host: IPAddress) -> str:
    return f"[{host}]" if host.version == 6 else str(host)


def _address(host: str | None, url: str) -> IPAddress | None:
    """The host of `url` as an address (None when it names none); refuses host names."""
    if not host:
        return None
    if host == "localhost":
        return _LOCALHOST
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UrlRefusedError(
            f"{url!r} names the host {host!r}: use an IP address (a host name cannot be checked"
            " against the allowed networks)"
        ) from None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _refuse_never_allowed(address: IPAddress, url: str) -> None:
    if address in METADATA_ADDRESSES or address.is_link_local:
        raise UrlRefusedError(f"{url!r} names {address}, a link-local or cloud metadata address")
    if address.is_multicast or address == IPv4Address("255.255.255.255"):
        raise UrlRefusedError(f"{url!r} names {address}, a multicast or broadcast address")


def check_mavlink_url(url: str) -> str:
    """`url` if it is a link URL this service can open to a permitted kind of host."""
    # Imported here: dfr.models validates with this module, and the flight package (pymavlink,
    # numpy, shapely, pyproj) would otherwise load in every command that only touches the database.
    from flight import UnsupportedConnectionError, parse_connection_url

    try:
        endpoint = parse_connection_url(url)
    except UnsupportedConnectionError as exc:
        raise UrlRefusedError(str(exc).removeprefix(f"{exc.vehicle_id}: ")) from None
    except ValueError:  # urlsplit on a malformed [host]
        raise UrlRefusedError(f"{url!r} is not a connection URL (scheme://host:port)") from None
    address = _address(endpoint.host, url)
    assert address is not None  # parse_connection_url requires a host
    _refuse_never_allowed(address, url)
    if address.is_unspecified and endpoint.scheme != "udpin":
        raise UrlRefusedError(f"{url!r}: only udpin may listen on {address}; name the vehicle")
    return url


def _video_host_port(url: str) -> tuple[str | None, int]:
    """Host and port of a video URL, in the forms telemetry.video.parse_stream_uri reads."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "udp", text
    if scheme not in _VIDEO_SCHEMES:
        raise UrlRefusedError(
            f"unsupported video URL {url!r}: expected udp://host:port, rtp://host:port or a port"
        )
    host, _, port_text = rest.rpartition(":")
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise UrlRefusedError(f"video URL {url!r} needs a port 1..65535")
    host = host.removeprefix("[").removesuffix("]")
    return host or None, int(port_text)


def check_video_url(url: str) -> str:
    """`url` if it is a video stream URL the service can listen on, naming a permitted host."""
    host, _ = _video_host_port(url)
    address = _address(host, url)
    if address is not None:
        _refuse_never_allowed(address, url)
    return url


def drone_bindings(mavlink_url: str, video_url: str | None) -> list[Binding]:
    """The sockets a drone with these URLs opens; UrlRefusedError names the field refused."""
    from flight import parse_connection_url

    try:
        check_mavlink_url(mavlink_url)
        endpoint = parse_connection_url(mavlink_url)
        address = _address(endpoint.host, mavlink_url)
    except UrlRefusedError as exc:
        raise UrlRefusedError(str(exc), field="mavlink_url") from None
    assert address is not None  # parse_connection_url requires a host
    kind: Literal["listen", "dial"] = "listen" if endpoint.scheme == "udpin" else "dial"
    transport: Literal["udp", "tcp"] = "tcp" if endpoint.scheme == "tcp" else "udp"
    found = [Binding(kind, transport, address, endpoint.port, "mavlink_url", mavlink_url, address)]
    if video_url:
        try:
            check_video_url(video_url)
            host, port = _video_host_port(video_url)
            named = _address(host, video_url)
        except UrlRefusedError as exc:
            raise UrlRefusedError(str(exc), field="video_url") from None
        found.append(
            Binding("listen", "udp", VIDEO_LISTEN_HOST, port, "video_url", video_url, named)
        )
    return found


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """The agency's networks: every address a drone URL names is loopback or inside them."""

    allowed_networks: Sequence[IPNetwork] = DEFAULT_ALLOWED_NETWORKS

    def check_address(self, address: IPAddress, url: str) -> None:
        """Refuse `address` unless it is loopback, unspecified or inside an allowed network."""
        _refuse_never_allowed(address, url)
        if address.is_loopback or address.is_unspecified:
            return
        if not any(address in network for network in self.allowed_networks):
            allowed = ", ".join(str(n) for n in self.allowed_networks) or "loopback only"
            raise UrlRefusedError(
                f"{url!r} names {address}, outside the agency's allowed networks ({allowed})"
            )

    def bindings(self, mavlink_url: str, video_url: str | None) -> list[Binding]:
        """drone_bindings, each named address held to the allowed networks."""
        found = drone_bindings(mavlink_url, video_url)
        for binding in found:
            if binding.named_host is not None:
                try:
                    self.check_address(binding.named_host, binding.url)
                except UrlRefusedError as exc:
                    raise UrlRefusedError(str(exc), field=binding.field) from None
        return found


#: The policy with the default networks (loopback and RFC 1918).
DEFAULT_URL_POLICY = UrlPolicy()


def first_clash(
    mine: Iterable[Binding], others: Iterable[tuple[str, Binding]]
) -> tuple[Binding, str, Binding] | None:
    """The first of `mine` that clashes with another drone's binding: (mine, that drone, its binding)."""
    theirs = list(others)
    for binding in mine:
        for drone_id, other in theirs:
            if binding.clashes_with(other):
                return binding, drone_id, other
    return None


__all__ = [
    "DEFAULT_URL_POLICY",
    "METADATA_ADDRESSES",
    "Binding",
    "UrlPolicy",
    "UrlRefusedError",
    "check_mavlink_url",
    "check_video_url",
    "drone_bindings",
    "first_clash",
]
