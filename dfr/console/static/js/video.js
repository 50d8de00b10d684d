// Video hook for the video panel. openVideo(droneId) shows the panel and hands the slot element to
// the registered player; without one it shows a placeholder. A player is
//   async (droneId, slotElement, {token}) => ({close()})
// registered with setVideoPlayer(player) (the WHEP player at POST /api/v1/drones/{id}/video/whep).
let player = null;
let current = null;

export function setVideoPlayer(fn) {
  player = fn;
}

export async function openVideo(droneId) {
  const panel = document.getElementById("video-panel");
  const slot = document.getElementById("video-slot");
  closeVideo();
  panel.hidden = false;
  document.getElementById("video-title").textContent = droneId;
  slot.dataset.droneId = droneId;
  if (!player) {
    slot.textContent = `no video player for ${droneId}`;
    return;
  }
  slot.textContent = "connecting…";
  try {
    current = await player(droneId, slot, { token: sessionStorage.getItem("dfr.token") });
  } catch (error) {
    slot.textContent = `video unavailable: ${error.message}`;
  }
}

export function closeVideo() {
  if (current && current.close) current.close();
  current = null;
}

window.openVideo = openVideo;
window.setVideoPlayer = setVideoPlayer;
