// The call queue for a dispatch floor: compact cards sorted by priority then age, the one line that
// matters ("D2 in 1:40", "no drone: out of range"), details on demand, the keyboard (arrows move,
// Enter opens, L launches, N notes, C cancels, M mutes; L and C ask first in the confirm bar: Enter yes,
// Esc no), and a short beep for each new P1/P2 call (muted with the header's button; remembered).
import { api } from "./api.js";
import { el, recommendation } from "./panels.js";

const FINAL = new Set(["cleared", "cancelled"]);
const MUTE_KEY = "dfr.queue.muted";
// A failing rule's short reason on a card; the full sentence stays in the details.
const SHORT = {
  call_type: "call type not flown", weather: "weather", availability: "no drone available",
  launch_battery: "battery low", distance: "out of range", energy: "not enough battery",
  daylight: "daylight rules", airspace: "airspace", altitude: "altitude limit", tfr: "TFR",
  policy_guard: "policy", supervisor_approval: "awaiting approval",
};

export function mmss(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function age(receivedAt, nowMs) {
  const s = Math.max(0, Math.round((nowMs - Date.parse(receivedAt)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

// Seconds to the scene from where the vehicle is now (its ground speed, or 15 m/s while it climbs).
export function liveEtaS(flight, frame, call) {
  if (!frame || frame.lat == null || frame.lon == null) return null;
  const target = flight && flight.target && flight.target.lat != null ? flight.target : call;
  if (!target || target.lat == null) return null;
  const speed = frame.ground_speed_mps != null && frame.ground_speed_mps > 2 ? frame.ground_speed_mps : 15;
  return metres(frame, target) / speed;
}

// The one line that matters for a call.
export function oneLine(call, flight, frame) {
  if (flight && flight.state) {
    const drone = flight.drone_id;
    if (["planned", "uploading", "armed"].includes(flight.state)) return { ok: true, text: `${drone} launching` };
    if (flight.state === "en_route") {
      const eta = liveEtaS(flight, frame, call);
      return { ok: true, text: eta == null ? `${drone} en route` : `${drone} in ${mmss(eta)}` };
    }
    return { ok: flight.state !== "failsafe" && flight.state !== "link_lost", text: `${drone} ${flight.state.replace("_", " ")}` };
  }
  const d = call.decision;
  // Flown already, its flight not on this page's stream yet: where the call stands says enough.
  if (call.lifecycle === "dispatched" || call.lifecycle === "on_scene") return { ok: true, text: call.lifecycle.replace("_", " ") };
  if (!d) return { ok: true, text: "evaluating…" };
  if (d.eligible) {
    return { ok: true, text: d.eta_s != null ? `${d.recommended_drone_id} in ${mmss(d.eta_s)}` : `${d.recommended_drone_id} ready` };
  }
  const rules = d.rules || [];
  const failing = rules.filter((r) => (r.verdict || (r.passed ? "pass" : "fail")) === "fail");
  const callLevel = failing.find((r) => !r.drone_id);
  let rule = callLevel ? callLevel.rule : null;
  if (!rule) {
    // Each drone's first failing rule; the one most drones share is the reason.
    const first = new Map();
    for (const r of failing) if (r.drone_id && !first.has(r.drone_id)) first.set(r.drone_id, r.rule);
    const tally = new Map();
    for (const r of first.values()) tally.set(r, (tally.get(r) || 0) + 1);
    rule = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] || null;
  }
  return { ok: false, text: `no drone: ${SHORT[rule] || rule || "not eligible"}` };
}

function verdict(rule) {
  if (rule.checked === false) return "warn";
  return rule.passed ? "pass" : "fail";
}

// GET /calls/{id}/decision's form (rules per drone) as the stream's (one flat list of rules).
export function streamDecision(d) {
  const rules = (d.call_rules || []).map((r) => ({ rule: r.rule, verdict: verdict(r), reason: r.reason }));
  for (const drone of d.drones || []) {
    for (const r of drone.rules || []) rules.push({ rule: r.rule, verdict: verdict(r), reason: r.reason, drone_id: drone.drone_id });
  }
  return {
    eligible: d.eligible,
    recommended_drone_id: d.recommended ? d.recommended.drone_id : null,
    runner_up_drone_id: d.runner_up ? d.runner_up.drone_id : null,
    eta_s: d.recommended ? d.recommended.eta_s : null,
    summary: d.summary,
    auto_launch: d.auto_launch,
    rules,
  };
}

export class CallQueue {
  constructor({ container, counter, confirmBar, muteButton, state, actions }) {
    Object.assign(this, { container, counter, confirmBar, muteButton, state, actions });
    this.selectedId = null;
    this.open = new Set();
    this.known = null; // call ids seen at the first render: only calls after it are announced
    this.announced = [];
    this.beeps = 0;
    this.asked = new Set(); // calls whose stored decision was fetched (once each)
    this.pending = null;
    this.muted = localStorage.getItem(MUTE_KEY) === "1";
    this.audio = null;
    this.showMute();
    muteButton.addEventListener("click", () => this.setMuted(!this.muted));
    document.addEventListener("keydown", (event) => this.onKey(event));
    setInterval(() => this.tick(), 1000);
  }

  setMuted(muted) {
    this.muted = muted;
    localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
    this.showMute();
  }

  showMute() {
    this.muteButton.textContent = this.muted ? "Sound off" : "Sound on";
    this.muteButton.setAttribute("aria-pressed", this.muted ? "true" : "false");
  }

  active() {
    return [...this.state.calls.values()]
      .filter((c) => !FINAL.has(c.lifecycle))
      .sort((a, b) => a.priority - b.priority || String(a.received_at).localeCompare(String(b.received_at)));
  }

  // The call's flight: named by the call, else the latest flight naming the call.
  flightOf(call) {
    if (call.flight_id != null && this.state.flights.has(call.flight_id)) return this.state.flights.get(call.flight_id);
    let found = null;
    for (const [id, flight] of this.state.flights) {
      if (flight.call_id === call.id && (!found || id > found[0])) found = [id, flight];
    }
    return found ? { id: found[0], ...found[1] } : null;
  }

  render() {
    const calls = this.active();
    const ids = calls.map((c) => c.id);
    if (this.known === null) this.known = new Set(this.state.calls.keys());
    for (const call of calls) {
      if (!this.known.has(call.id)) {
        this.known.add(call.id);
        if (call.priority <= 2) this.announce(call);
      }
    }
    if (this.selectedId != null && !ids.includes(this.selectedId)) this.selectedId = ids[0] ?? null;
    // A re-render keeps what the dispatcher was typing and where.
    const focusedNote = document.activeElement && document.activeElement.dataset.noteFor;
    const drafts = new Map([...this.container.querySelectorAll("input[data-note-for]")].map((i) => [i.dataset.noteFor, i.value]));
    this.counter.textContent = `(${calls.length})`;
    for (const call of calls) if (call.decision === undefined) this.fetchDecision(call.id);
    this.container.replaceChildren(...calls.map((call) => this.card(call, drafts.get(String(call.id)) || "")));
    if (focusedNote) this.container.querySelector(`input[data-note-for="${focusedNote}"]`)?.focus();
  }

  card(call, draft) {
    const may = this.state.me.may;
    const decision = call.decision;
    const flight = this.flightOf(call);
    const frame = flight ? this.state.frames.get(flight.drone_id) : null;
    const line = oneLine(call, flight, frame);
    const buttons = el("div", { class: "buttons" });
    if (may.launch && this.launchable(call)) {
      buttons.append(el("button", { class: "primary", "data-action": "launch", onclick: () => this.actions.launch(call) }, `Launch ${decision.recommended_drone_id || ""}`));
    }
    if (call.flight_id != null) {
      buttons.append(el("button", { "data-action": "flight", onclick: () => this.actions.selectFlight(call.flight_id) }, "Flight"));
    }
    buttons.append(el("button", { "data-action": "story", onclick: () => this.openCall(call.id) }, "Story"));
    if (may.cancel) {
      buttons.append(el("button", { class: "danger", "data-action": "cancel", onclick: () => this.actions.cancel(call) }, "Cancel call"));
    }
    let noteForm = null;
    if (may.note) {
      const input = el("input", { placeholder: "note to CAD", "aria-label": "note", maxlength: "2000", "data-note-for": call.id });
      input.value = draft;
      noteForm = el("form", { class: "note-form", onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (text) this.actions.note(call, text).then(() => { input.value = ""; input.blur(); });
      } }, input, el("button", { type: "submit", "data-action": "note" }, "Note"));
    }
    const details = el("details", { class: "more", open: this.open.has(call.id) },
      el("summary", {}, "details"), recommendation(decision), noteForm);
    details.addEventListener("toggle", () => { if (details.open) this.open.add(call.id); else this.open.delete(call.id); });
    const selected = call.id === this.selectedId;
    return el("li", {
      class: selected ? "call selected" : "call", tabindex: "-1", "aria-selected": selected ? "true" : "false",
      "data-call-id": call.id, "data-priority": call.priority, "data-lifecycle": call.lifecycle,
      onclick: (event) => { if (!event.target.closest("button, input, summary, details")) this.select(call.id); },
    },
    el("div", { class: "card-head" },
      el("span", { class: "cat" }, call.category && call.category !== "unmapped" ? call.category : call.call_type),
      el("span", { class: "age", "data-received": call.received_at }, age(call.received_at, Date.now()))),
    el("h3", {}, `P${call.priority} ${call.call_type_text || call.call_type}`),
    el("div", { class: "meta" }, call.address || `${call.lat.toFixed(5)}, ${call.lon.toFixed(5)}`),
    el("p", { class: line.ok ? "rec ok line" : "rec no line", "data-call-line": call.id }, line.text),
    buttons, details);
  }

  // A call listed before this page opened has its decision stored, not on the stream.
  async fetchDecision(id) {
    if (this.asked.has(id)) return;
    this.asked.add(id);
    try {
      const stored = await api("GET", `/calls/${id}/decision`);
      const call = this.state.calls.get(id);
      if (call && call.decision === undefined) { call.decision = streamDecision(stored); this.render(); }
    } catch (_error) {
      // No decision yet (404): the stream brings it when there is one.
    }
  }

  launchable(call) {
    return (call.lifecycle === "new" || call.lifecycle === "recommended") && call.decision && call.decision.eligible;
  }

  // Every second: ages and live ETAs move without a re-render.
  tick() {
    const now = Date.now();
    for (const span of this.container.querySelectorAll(".age[data-received]")) span.textContent = age(span.dataset.received, now);
    for (const call of this.active()) {
      const flight = this.flightOf(call);
      if (!flight) continue;
      const node = this.container.querySelector(`[data-call-line="${call.id}"]`);
      if (node) node.textContent = oneLine(call, flight, this.state.frames.get(flight.drone_id)).text;
    }
  }

  announce(call) {
    this.announced.push(call.id);
    if (this.muted) return;
    this.beeps += 1;
    try {
      this.audio = this.audio || new AudioContext();
      const ctx = this.audio;
      // Two short tones: P1 higher than P2, so the floor hears which without looking.
      const pitch = call.priority === 1 ? 1046 : 784;
      for (const offset of [0, 0.22]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = pitch;
        gain.gain.setValueAtTime(0.15, ctx.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + offset + 0.18);
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + offset);
        osc.stop(ctx.currentTime + offset + 0.2);
      }
    } catch (_error) {
      // No audio device: the card itself still shows the call.
    }
  }

  select(id) {
    this.selectedId = id;
    for (const li of this.container.querySelectorAll("li.call")) {
      const on = Number(li.dataset.callId) === id;
      li.classList.toggle("selected", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
      if (on) { li.focus({ preventScroll: true }); li.scrollIntoView({ block: "nearest" }); }
    }
  }

  move(step) {
    const ids = this.active().map((c) => c.id);
    if (!ids.length) return;
    const at = ids.indexOf(this.selectedId);
    const next = at < 0 ? 0 : Math.min(ids.length - 1, Math.max(0, at + step));
    this.select(ids[next]);
  }

  openCall(id) {
    this.select(id);
    this.open.add(id);
    const card = this.container.querySelector(`li.call[data-call-id="${id}"] details`);
    if (card) card.open = true;
    this.actions.openStory(id);
  }

  ask(text, run) {
    this.pending = run;
    this.confirmBar.hidden = false;
    this.confirmBar.querySelector("[data-confirm-text]").textContent = `${text} Enter: yes · Esc: no`;
  }

  settle(yes) {
    const run = this.pending;
    this.pending = null;
    this.confirmBar.hidden = true;
    if (yes && run) run();
  }

  onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    // The queue's keys act from the page itself or the queue, not from the map or another panel.
    const page = !target || target === document.body || target === document.documentElement;
    if (!page && !(target.closest && target.closest("#call-queue, #story-panel"))) return;
    // Enter on a focused button or link is that control's own click.
    if (event.key === "Enter" && target && target.closest && target.closest("button, a, summary, select")) return;
    if (this.pending) {
      if (event.key === "Enter" || event.key === "y") { event.preventDefault(); this.settle(true); }
      else if (event.key === "Escape" || event.key === "n") { event.preventDefault(); this.settle(false); }
      return;
    }
    const call = this.selectedId != null ? this.state.calls.get(this.selectedId) : null;
    const may = this.state.me.may;
    switch (event.key) {
      case "ArrowDown": event.preventDefault(); this.move(1); break;
      case "ArrowUp": event.preventDefault(); this.move(-1); break;
      case "Enter": if (call) { event.preventDefault(); this.openCall(call.id); } break;
      case "l": case "L":
        if (call && may.launch && this.launchable(call)) {
          event.preventDefault();
          this.ask(`Launch ${call.decision.recommended_drone_id} to P${call.priority} ${call.call_type_text || call.call_type}?`, () => this.actions.launch(call));
        }
        break;
      case "n": case "N":
        if (call && may.note) {
          event.preventDefault();
          this.openCall(call.id);
          this.container.querySelector(`input[data-note-for="${call.id}"]`)?.focus();
        }
        break;
      case "c": case "C":
        if (call && may.cancel) {
          event.preventDefault();
          this.ask(`Cancel P${call.priority} ${call.call_type_text || call.call_type}?`, () => this.actions.cancel(call));
        }
        break;
      case "m": case "M": event.preventDefault(); this.setMuted(!this.muted); break;
      default: break;
    }
  }
}
