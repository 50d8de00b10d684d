// Minimal WHEP (RFC 9725) viewer plus a frame-stamp probe. Plain script: defines globals.
//   dfrWhepPlay({url, token}) or dfrWhepPlay({signal: async offerSdp => answerSdp})
//     -> {pc, track, sessionUrl, close()}; the answer is fetched after ICE gathering (no trickle).
//   dfrStampProbe(track, onSample) reads each decoded frame's stamp row (see camera_render.py) and
//     calls onSample({stampMs, latencyMs}) (stampMs null when unreadable).
(function () {
  "use strict";

  async function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  async function dfrWhepPlay(opts) {
    const pc = new RTCPeerConnection();
    const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    const h264 = RTCRtpReceiver.getCapabilities("video").codecs.filter(
      (c) => c.mimeType === "video/H264");
    if (h264.length) transceiver.setCodecPreferences(h264);
    const trackReady = new Promise((resolve) => pc.addEventListener("track", (e) => resolve(e.track)));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    let answer, sessionUrl = null;
    if (opts.signal) {
      answer = await opts.signal(pc.localDescription.sdp);
    } else {
      const resp = await fetch(opts.url, {
        method: "POST",
        headers: { "Content-Type": "application/sdp", "Authorization": "Bearer " + opts.token },
        body: pc.localDescription.sdp,
      });
      if (resp.status !== 201) {
        pc.close();
        throw new Error("WHEP offer refused: " + resp.status + " " + (await resp.text()));
      }
      sessionUrl = new URL(resp.headers.get("Location"), opts.url).toString();
      answer = await resp.text();
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    const track = await trackReady;
    return {
      pc, track, sessionUrl,
      async close() {
        pc.close();
        if (sessionUrl) {
          await fetch(sessionUrl, { method: "DELETE", headers: { "Authorization": "Bearer " + opts.token } });
        }
      },
    };
  }

  const STAMP_VALUE_BITS = 44, STAMP_CHECK_BITS = 4, STAMP_BITS = 2 + STAMP_VALUE_BITS + STAMP_CHECK_BITS;

  function readStamp(row, width) {
    const block = Math.max(4, Math.floor(width / (STAMP_BITS + 2)));
    const bits = [];
    for (let i = 0; i < STAMP_BITS; i++) {
      let sum = 0, n = 0;
      for (let x = block * (i + 1) + (block >> 2); x < block * (i + 2) - (block >> 2); x++) {
        sum += row[4 * x] + row[4 * x + 1] + row[4 * x + 2]; n += 3;
      }
      bits.push(sum / n > 128 ? 1 : 0);
    }
    if (bits[0] !== 1 || bits[1] !== 0) return null;
    let value = 0, check = 0;
    for (let i = 2; i < 2 + STAMP_VALUE_BITS; i++) value = value * 2 + bits[i];
    for (let i = 2 + STAMP_VALUE_BITS; i < STAMP_BITS; i++) check = check * 2 + bits[i];
    let nibbles = 0, v = value;
    for (let i = 0; i < STAMP_VALUE_BITS / 4; i++) { nibbles += v % 16; v = Math.floor(v / 16); }
    return (nibbles % 16) === check ? value : null;
  }

  async function dfrStampProbe(track, onSample) {
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    let canvas = null, ctx = null;
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done) return;
      const decodedAt = performance.timeOrigin + performance.now();
      const width = frame.displayWidth, height = frame.displayHeight;
      if (!canvas || canvas.width !== width || canvas.height !== height) {
        canvas = new OffscreenCanvas(width, height);
        ctx = canvas.getContext("2d", { willReadFrequently: true });
      }
      const block = Math.max(4, Math.floor(width / (STAMP_BITS + 2)));
      ctx.drawImage(frame, 0, 0);
      frame.close();
      const row = ctx.getImageData(0, block >> 1, width, 1).data;
      const stampMs = readStamp(row, width);
      onSample({ stampMs, latencyMs: stampMs === null ? null : decodedAt - stampMs, width, height });
    }
  }

  window.dfrWhepPlay = dfrWhepPlay;
  window.dfrStampProbe = dfrStampProbe;
})();
