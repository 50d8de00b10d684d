"""The headless Chromium every browser test (and bench/video.py) launches, and the WHEP viewer page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import telemetry.video

CHROMIUM = Path("/usr/bin/chromium")
#: Quiet, deterministic Chromium: nothing it does on its own (updates, sync, QUIC) meets the test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: For pages that play video: a WebRTC player starts without a click.
VIDEO_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
WHEP_CLIENT_JS = Path(telemetry.video.__file__).parent / "static" / "whep_client.js"


def chromium_launch(*, video: bool = False, executable: str | Path = CHROMIUM) -> dict[str, Any]:
    """Keyword arguments for playwright's `chromium.launch` (sync or async API)."""
    return {
        "executable_path": str(executable),
        "args": VIDEO_CHROMIUM_ARGS if video else CHROMIUM_ARGS,
    }


async def open_whep_viewer(browser: Any, offer: Callable[[str], Awaitable[str]]) -> Any:
    """A page playing a WHEP stream via `offer` (SDP in, SDP out); its stamp probe fills `samples`."""
    page = await browser.new_page()
    await page.expose_function("whepOffer", offer)
    await page.add_script_tag(content=WHEP_CLIENT_JS.read_text())
    await page.evaluate(
        """async () => {
            window.samples = [];
            const s = await dfrWhepPlay({signal: (sdp) => window.whepOffer(sdp)});
            dfrStampProbe(s.track, (x) => window.samples.push(x));
        }"""
    )
    return page
