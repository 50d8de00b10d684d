// WS /api/v1/stream: the token rides in Sec-WebSocket-Protocol ("bearer", token), not in the URL.
// Each frame is a JSON array of envelopes {v, type, at, key, data}; the first holds a snapshot.
export function connectStream({ token, onMessage, onStatus, onUnauthorized }) {
  let socket = null;
  let delayMs = 500;
  let stopped = false;

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream`, ["bearer", token]);
    socket.onopen = () => { delayMs = 500; onStatus("live"); };
    socket.onmessage = (event) => {
      for (const message of JSON.parse(event.data)) {
        if (message.v !== 1) continue; // a newer schema: ignore rather than misread
        if (message.type === "snapshot") message.data.messages.forEach(onMessage);
        else onMessage(message);
      }
    };
    socket.onclose = (event) => {
      if (stopped) return;
      if (event.code === 4401 || event.code === 4403) { onStatus("down"); onUnauthorized(event.code); return; }
      onStatus("down");
      setTimeout(open, delayMs);
      delayMs = Math.min(delayMs * 2, 10000);
    };
  }

  open();
  return { close() { stopped = true; if (socket) socket.close(1000); } };
}
