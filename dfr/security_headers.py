"""Security headers on every HTTP response: a strict Content-Security-Policy and its companions.

The console and the API docs load scripts and styles only from this origin, never inline, so the
policy allows nothing else; a remote base map adds its origin to `img-src` only. HSTS is sent
only on requests that arrived over TLS (directly, or through a proxy uvicorn believes: see
`http.forwarded_allow_ips`), since a browser ignores it over plain HTTP anyway.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfr.basemap.config import is_vector_url

__all__ = ["SecurityHeadersMiddleware", "content_security_policy", "tile_origin"]

TLS_SCHEMES = frozenset({"https", "wss"})


def tile_origin(tile_url: str | None) -> str | None:
    """The CSP source of a remote tile URL template (None for none or one on this origin)."""
    if not tile_url or not tile_url.startswith(("http://", "https://")):
        return None
    parts = urlsplit(tile_url.replace("{s}", "*"))
    host = parts.netloc.rpartition("@")[2]
    if "{" in host or not host:
        # A template in the host other than the subdomain letter: only the scheme can be named.
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str | None = None, basemap_url: str | None = None) -> str:
    """The policy: this origin only, plus a remote base map's origin (images, or fetched vectors)."""
    images = ["'self'", "data:", "blob:"]
    connect = ["'self'", "ws:", "wss:"]
    origin = tile_origin(tile_url)
    if origin is not None:
        images.append(origin)
    basemap_origin = tile_origin(basemap_url)
    if basemap_url is not None and basemap_origin is not None:
        # Vector tiles are fetched by script (connect-src); raster tiles load as images.
        (connect if is_vector_url(basemap_url) else images).append(basemap_origin)
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {' '.join(images)}",
        f"connect-src {' '.join(connect)}",
        "media-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response that does not set them itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tile_url: str | None = None,
        basemap_url: str | None = None,
        hsts_max_age_s: int = 31_536_000,
    ) -> None:
        self.app = app
        self.headers: tuple[tuple[str, str], ...] = (
            ("Content-Security-Policy", content_security_policy(tile_url, basemap_url)),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        )
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_tls = scope.get("scheme") in TLS_SCHEMES

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if over_tls:
                    headers.setdefault("Strict-Transport-Security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
