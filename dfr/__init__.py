"""DFR service: composition root (settings, persistence, dispatch, HTTP/WebSocket API, console, CLI)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dfr")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
