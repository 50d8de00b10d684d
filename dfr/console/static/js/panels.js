// The side panels' parts: the recommendation (a call's details), flight panel, alerts; `el` builds nodes.
import { privacyButton, privacyText } from "./privacy.js";
export function el(tag, attrs = {}, ...children) {
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

export function recommendation(decision) {
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
