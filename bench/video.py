"""Glass-to-glass video latency and viewer cost: camera stamp -> decoded frame in headless Chromium.

    python bench/video.py [--width 1280 --height 720 --viewers 1,2,4 --seconds 10]

For each viewer count: p50/p95 latency over every decoded frame of every viewer (epoch ms stamped
into the picture at render time, read back from the decoded picture in the browser), and this
process's CPU (camera render+encode, ingest, relay) so the cost of each added viewer shows.
Bounded: at most --max-viewers browser pages, --seconds per step.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

import telemetry.video
from simulator.vehicle.camera import CameraConfig, SimCamera
from simulator.vehicle.camera_render import CameraPose
from telemetry.video import RtpEndpoint, RtpIngest, StreamState, WhepSessions

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
JS = (Path(telemetry.video.__file__).parent / "static" / "whep_client.js").read_text()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(width: int, height: int, counts: list[int], seconds: float) -> None:
    proc = psutil.Process()
    async with RtpIngest("bench", RtpEndpoint("127.0.0.1", 0)) as ingest:
        t0 = time.monotonic()
        camera = SimCamera(
            CameraConfig(port=ingest.port, width_px=width, height_px=height, fps=30),
            lambda: CameraPose(52.5, 13.4 + (time.monotonic() - t0) * 2e-5, 60.0, 15.0),
        )
        cam_task = asyncio.create_task(camera.run())
        await ingest.wait_state(StreamState.LIVE, 30)
        sessions = WhepSessions()

        async def offer(sdp: str) -> str:
            return (await sessions.answer(ingest, sdp)).sdp

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            pages = []
            print(f"video bench {width}x{height}@30, {seconds:.0f} s per step")
            print("viewers  frames  p50_ms  p95_ms  unread  server_cpu_%  browser_cpu_%")
            for count in counts:
                while len(pages) < count:
                    page = await browser.new_page()
                    await page.expose_function("whepOffer", offer)
                    await page.add_script_tag(content=JS)
                    await page.evaluate(
                        "async () => { window.samples = []; const s = await dfrWhepPlay("
                        "{signal: (sdp) => window.whepOffer(sdp)});"
                        " dfrStampProbe(s.track, (x) => window.samples.push(x)); }"
                    )
                    pages.append(page)
                await asyncio.sleep(2.0)  # let every viewer reach a keyframe
                for page in pages:
                    await page.evaluate("window.samples = []")
                children = [psutil.Process(p.pid) for p in proc.children(recursive=True)]
                proc.cpu_percent()
                for child in children:
                    child.cpu_percent()
                await asyncio.sleep(seconds)
                cpu = proc.cpu_percent()
                browser_cpu = sum(c.cpu_percent() for c in children if c.is_running())
                latencies: list[float] = []
                unread = 0
                for page in pages:
                    samples = await page.evaluate("window.samples")
                    latencies += [s["latencyMs"] for s in samples if s["latencyMs"] is not None]
                    unread += sum(1 for s in samples if s["latencyMs"] is None)
                print(
                    f"{count:7d}  {len(latencies):6d}  {pct(latencies, 0.5):6.1f}  "
                    f"{pct(latencies, 0.95):6.1f}  {unread:6d}  {cpu:12.0f}  {browser_cpu:13.0f}"
                )
            await browser.close()
        await sessions.aclose()
        cam_task.cancel()
        await asyncio.gather(cam_task, return_exceptions=True)
        print(f"camera frames late: {camera.stats.frames_late} of {camera.stats.frames_sent}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--viewers", default="1,2,4")
    parser.add_argument("--max-viewers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    a = parser.parse_args()
    steps = [min(int(v), a.max_viewers) for v in a.viewers.split(",")]
    asyncio.run(main(a.width, a.height, steps, a.seconds))
