// The side panels: call queue with recommendations and actions, flight panel, alerts.
import { privacyButton, privacyText } from "./privacy.js";
const FINAL = new Set(["cleared", "cancelled"]);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function eta(seconds) {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function recommendation(decision) {
  if (!decision) return el("p", { class: "rec" }, "evaluating…");
  const rules = (decision.rules || []).map((rule) =>
    el("li", { "data-verdict": rule.verdict || (rule.passed ? "pass" : "fail") },
      `${rule.drone_id ? rule.drone_id + ": " : ""}${rule.reason || rule.rule || ""}`));
  const failing = rules.filter((li) => li.dataset.verdict !== "pass");
  const head = decision.eligible
    ? el("p", { class: "rec ok" },
        `Recommend ${decision.recommended_drone_id}` +
        (decision.eta_s != null ? ` — ETA ${eta(decision.eta_s)}` : "") +
        (decision.runner_up_drone_id ? ` (runner-up ${decision.runner_up_drone_id})` : ""))
    : el("p", { class: "rec no" }, `No drone: ${decision.summary || "not eligible"}`);
  const details = el("details", {}, el("summary", {}, `why (${failing.length} of ${rules.length} rules not passed)`),
    el("ul", { class: "reasons" }, rules));
  return el("div", {}, head, decision.summary && decision.eligible ? el("p", { class: "meta" }, decision.summary) : null, details);
}

export function renderCalls(container, counter, calls, may, actions) {
  const active = [...calls.values()]
    .filter((c) => !FINAL.has(c.lifecycle))
    .sort((a, b) => a.priority - b.priority || String(a.received_at).localeCompare(String(b.received_at)));
  counter.textContent = `(${active.length})`;
  container.replaceChildren(...active.map((call) => {
    const decision = call.decision;
    const buttons = el("div", { class: "buttons" });
    if (may.launch && (call.lifecycle === "new" || call.lifecycle === "recommended") && decision && decision.eligible) {
      buttons.append(el("button", { class: "primary", "data-action": "launch", onclick: () => actions.launch(call) }, `Launch ${decision.recommended_drone_id || ""}`));
    }
    if (call.flight_id != null) {
      buttons.append(el("button", { "data-action": "flight", onclick: () => actions.selectFlight(call.flight_id) }, "Flight"));
    }
    let noteForm = null;
    if (may.note) {
      const input = el("input", { placeholder: "note to CAD", "aria-label": "note", maxlength: "2000" });
      noteForm = el("form", { class: "note-form", onsubmit: (event) => { event.preventDefault(); if (input.value.trim()) actions.note(call, input.value.trim()).then(() => { input.value = ""; }); } },
        input, el("button", { type: "submit", "data-action": "note" }, "Note"));
    }
    if (may.cancel) {
      buttons.append(el("button", { class: "danger", "data-action": "cancel", onclick: () => actions.cancel(call) }, "Cancel call"));
    }
    return el("li", { class: "call", "data-call-id": call.id, "data-priority": call.priority, "data-lifecycle": call.lifecycle },
      el("h3", {}, `P${call.priority} ${call.call_type_text || call.call_type}`),
      el("div", { class: "meta" }, `${call.address || `${call.lat.toFixed(5)}, ${call.lon.toFixed(5)}`} · ${call.cad_incident_id} · ${call.lifecycle}`),
      recommendation(decision), buttons, noteForm);
  }));
}

const COMMANDS = [["hold", "Hold"], ["resume", "Resume"], ["rtl", "Return"], ["land", "Land"], ["goto", "Go to…"], ["orbit", "Orbit…"]];

export function renderFlight(panel, flight, frame, may, actions) {
  if (!flight && !frame) { panel.hidden = true; return; }
  panel.hidden = false;
  const droneId = (flight && flight.drone_id) || (frame && frame.drone_id);
  document.getElementById("flight-title").textContent = flight ? `#${flight.id} · ${droneId}` : droneId;
  const f = frame || {};
  const fmt = (v, unit, digits = 0) => (v == null ? "—" : `${Number(v).toFixed(digits)}${unit}`);
  const rows = [
    ["state", flight ? `${flight.state}${flight.state_reason ? " — " + flight.state_reason : ""}` : "no flight"],
    ["link", f.link || "—"], ["mode", f.mode || "—"], ["battery", fmt(f.battery_pct, " %")],
    ["altitude", fmt(f.alt_agl_m, " m AGL")], ["speed", fmt(f.ground_speed_mps, " m/s", 1)],
    ["heading", fmt(f.heading_deg, "°")], ["GPS", f.gps_fix == null ? "—" : `fix ${f.gps_fix}, ${f.satellites ?? "?"} sats`],
  ];
  if (flight) rows.push(["privacy", privacyText(flight)]);
  document.getElementById("flight-state").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  const buttons = [];
  if (may.command && flight) {
    for (const [command, label] of COMMANDS) {
      buttons.push(el("button", { "data-command": command, onclick: () => actions.command(flight, command) }, label));
    }
  }
  const lift = privacyButton(flight, may, actions.failure || console.error);
  if (lift) buttons.push(lift);
  if (may.video && droneId) buttons.push(el("button", { "data-action": "video", onclick: () => window.openVideo(droneId) }, "Video"));
  document.getElementById("flight-commands").replaceChildren(...buttons);
}

export function renderAlerts(container, alerts) {
  container.replaceChildren(...alerts.slice(0, 50).map((alert) =>
    el("li", { "data-severity": alert.severity || "info", "data-kind": alert.kind || "" },
      `${new Date(alert.at || Date.now()).toLocaleTimeString()} ${alert.drone_id ? alert.drone_id + ": " : ""}${alert.text || alert.kind}`)));
}
