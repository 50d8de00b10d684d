// Video panel. openVideo(droneId) shows the panel and hands the slot element to the registered
// player; a player is
//   async (droneId, slotElement, {token}) => ({close()})
// registered with setVideoPlayer(player). The default player is WHEP (RFC 9725) against
// POST /api/v1/drones/{id}/video/whep with the session's bearer token, played in a <video> element;
// {url} names another WHEP endpoint (an integrated camera's live view).
// The slot carries data-state (connecting|live|failed|closed) and data-frames (frames shown so far).
const WHEP_CLIENT_URL = "/console/vendor/whep_client.js";
let player = null;
let current = null;
let whepClient = null;

export function setVideoPlayer(fn) {
  player = fn;
}

function loadWhepClient() {
  if (window.dfrWhepPlay) return Promise.resolve();
  if (!whepClient) {
    whepClient = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = WHEP_CLIENT_URL;
      script.onload = resolve;
      script.onerror = () => { whepClient = null; reject(new Error("the WHEP client did not load")); };
      document.head.append(script);
    });
  }
  return whepClient;
}

// WHEP player: one RTCPeerConnection per open panel; frames counted as the <video> presents them.
export async function whepPlayer(droneId, slot, { token, url: endpoint = null }) {
  await loadWhepClient();
  const path = endpoint || `/api/v1/drones/${encodeURIComponent(droneId)}/video/whep`;
  const url = new URL(path, location.origin).toString();
  const session = await window.dfrWhepPlay({ url, token });
  const video = document.createElement("video");
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([session.track]);
  const status = document.createElement("div");
  status.className = "video-status";
  status.textContent = "waiting for the first picture…";
  slot.replaceChildren(video, status);
  slot.dataset.frames = "0";
  let closed = false;
  const onFrame = (_now, meta) => {
    if (closed) return;
    slot.dataset.state = "live";
    slot.dataset.frames = String(meta.presentedFrames);
    status.textContent = `live · ${meta.width}×${meta.height} · ${meta.presentedFrames} frames`;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  session.pc.addEventListener("connectionstatechange", () => {
    const state = session.pc.connectionState;
    if (state === "failed" || state === "disconnected" || state === "closed") {
      slot.dataset.state = "failed";
      status.textContent = `video ${state}`;
    }
  });
  video.play().catch(() => {}); // autoplay of a muted stream; a refusal only delays the picture
  return {
    droneId,
    track: session.track,
    sessionUrl: session.sessionUrl,
    close() {
      closed = true;
      slot.dataset.state = "closed";
      video.srcObject = null;
      // DELETE before closing the peer connection: the server ends a session whose peer is gone
      // on its own, and a DELETE arriving after that would only find no session.
      const ended = session.sessionUrl
        ? fetch(session.sessionUrl, { method: "DELETE", headers: { Authorization: `Bearer ${token}` }, keepalive: true })
        : Promise.resolve();
      ended.catch(() => {}).finally(() => session.pc.close());
    },
  };
}

export async function openVideo(droneId) {
  const panel = document.getElementById("video-panel");
  const slot = document.getElementById("video-slot");
  closeVideo();
  panel.hidden = false;
  document.getElementById("video-title").textContent = droneId;
  slot.dataset.droneId = droneId;
  slot.dataset.state = "connecting";
  slot.dataset.frames = "0";
  if (!player) {
    slot.textContent = `no video player for ${droneId}`;
    return;
  }
  slot.textContent = "connecting…";
  try {
    const opened = await player(droneId, slot, { token: sessionStorage.getItem("dfr.token") });
    if (slot.dataset.droneId !== droneId) { opened.close(); return; } // another drone was opened meanwhile
    current = opened;
  } catch (error) {
    slot.dataset.state = "failed";
    slot.textContent = `video unavailable: ${error.message}`;
  }
}

export function closeVideo() {
  if (current && current.close) current.close();
  current = null;
}

function hideVideo() {
  closeVideo();
  const slot = document.getElementById("video-slot");
  delete slot.dataset.droneId;
  slot.replaceChildren();
  document.getElementById("video-panel").hidden = true;
}

setVideoPlayer(whepPlayer);
document.getElementById("video-close")?.addEventListener("click", hideVideo);
window.addEventListener("pagehide", closeVideo); // ends the WHEP session (DELETE) with the page

window.openVideo = openVideo;
window.setVideoPlayer = setVideoPlayer;
window.dfrVideo = { current: () => current, close: hideVideo };
