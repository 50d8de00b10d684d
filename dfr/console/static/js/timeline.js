// One call's story: received -> decided -> launched -> en route (live ETA) -> on scene -> cleared /
// cancelled, with notes and CAD deliveries, from GET /calls/{id}/timeline; and its view-only links
// for responding officers (create with expiry, PIN and viewer limit; list; revoke).
import { api } from "./api.js";
import { el } from "./panels.js";
import { liveEtaS, mmss } from "./queue.js";

const $ = (id) => document.getElementById(id);

function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour12: false });
}

export class CallStory {
  constructor({ state, onError }) {
    this.state = state;
    this.onError = onError;
    this.callId = null;
    this.timeline = null;
    this.timer = null;
    $("story-close").addEventListener("click", () => this.close());
    $("share-form").addEventListener("submit", (event) => { event.preventDefault(); this.createShare(); });
    setInterval(() => this.tickEta(), 1000);
  }

  async show(callId) {
    this.callId = callId;
    const call = this.state.calls.get(callId);
    $("story-panel").hidden = false;
    $("story-title").textContent = call ? `#${callId} · P${call.priority} ${call.call_type_text || call.call_type}` : `#${callId}`;
    $("share-box").hidden = !this.state.me.may.share;
    $("share-created").replaceChildren();
    await this.load();
    if (this.state.me.may.share) await this.loadShares();
  }

  close() {
    this.callId = null;
    $("story-panel").hidden = true;
  }

  // Something about this call changed (a call, flight or decision message): fetch its story again.
  changed(callId) {
    if (callId !== this.callId) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 300);
  }

  async load() {
    const callId = this.callId;
    if (callId == null) return;
    try {
      const timeline = await api("GET", `/calls/${callId}/timeline`);
      if (callId !== this.callId) return;
      this.timeline = timeline;
      $("story").dataset.lifecycle = timeline.lifecycle;
      $("story").replaceChildren(...timeline.data.map((entry) => el("li", { "data-step": entry.step },
        el("time", { datetime: entry.at }, clock(entry.at)), " ",
        el("strong", {}, entry.title),
        entry.detail ? el("span", { class: "detail" }, ` — ${entry.detail}`) : null,
        entry.delivery ? el("span", { class: "delivery", "data-delivery": entry.delivery },
          ` (${entry.delivered_at ? `delivered ${clock(entry.delivered_at)}` : entry.delivery})`) : null)));
      this.tickEta();
    } catch (error) {
      this.onError(error);
    }
  }

  // While the call's drone is en route: the countdown from where the vehicle is now.
  tickEta() {
    const line = $("story-eta");
    const timeline = this.timeline;
    const call = this.callId != null ? this.state.calls.get(this.callId) : null;
    const flightRow = timeline && timeline.flights.length ? timeline.flights[timeline.flights.length - 1] : null;
    const flight = flightRow ? this.state.flights.get(flightRow.id) || flightRow : null;
    if (!flight || flight.state !== "en_route" || !call) { line.hidden = true; return; }
    const eta = liveEtaS(flight, this.state.frames.get(flight.drone_id), call);
    line.hidden = eta == null;
    if (eta != null) line.textContent = `${flight.drone_id} on scene in ${mmss(eta)} (from its position now)`;
  }

  async createShare() {
    const callId = this.callId;
    const pin = $("share-pin").value.trim();
    const body = {
      expires_in_s: Number($("share-expiry").value),
      max_viewers: Number($("share-max").value) || 5,
    };
    if (pin) body.pin = pin;
    try {
      const created = await api("POST", `/calls/${callId}/share`, body);
      const url = new URL(created.path, location.origin).toString();
      const link = el("input", { class: "share-url", readonly: true, "aria-label": "link to send", value: url });
      $("share-created").replaceChildren("Send this link (shown once): ", link);
      link.select();
      $("share-pin").value = "";
      await this.loadShares();
    } catch (error) {
      this.onError(error);
    }
  }

  async loadShares() {
    const callId = this.callId;
    try {
      const links = await api("GET", `/calls/${callId}/shares`);
      if (callId !== this.callId) return;
      $("share-list").replaceChildren(...links.data.map((link) => el("li", { "data-share-id": link.id, "data-state": link.state },
        `#${link.id} ${link.state} · ${link.pin_required ? "PIN" : "no PIN"} · ${link.viewers_now}/${link.max_viewers} watching · ${link.opens} opens · until ${clock(link.expires_at)}`,
        link.state === "active"
          ? el("button", { class: "danger", "data-action": "revoke", onclick: () => this.revoke(link.id) }, "Revoke")
          : null)));
    } catch (error) {
      this.onError(error);
    }
  }

  async revoke(linkId) {
    try {
      await api("DELETE", `/calls/${this.callId}/shares/${linkId}`);
      await this.loadShares();
    } catch (error) {
      this.onError(error);
    }
  }
}
