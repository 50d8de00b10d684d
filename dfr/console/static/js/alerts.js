// The alerts list: an alert published again (resolved, acknowledged) updates its entry; failsafe,
// low-battery and fence alerts stay on top, marked, until someone acknowledges them.
// Every string from the service is set as text, never as markup.
import { api } from "./api.js";
import { el } from "./panels.js";

const MAX_ALERTS = 100;

// Put `alert` into `alerts` (newest first): a known id is updated in place, a new one goes on top.
export function mergeAlert(alerts, alert) {
  const known = alerts.find((a) => a.id === alert.id);
  if (known) {
    Object.assign(known, alert);
    return;
  }
  alerts.unshift(alert);
  alerts.length = Math.min(alerts.length, MAX_ALERTS);
}

function awaitingAck(alert) {
  return Boolean(alert.needs_ack) && !alert.acknowledged_by;
}

function describe(alert) {
  const at = new Date(alert.raised_at || alert.at || Date.now()).toLocaleTimeString();
  const who = alert.drone_id && !String(alert.text || "").startsWith(alert.drone_id) ? `${alert.drone_id}: ` : "";
  return `${at} ${who}${alert.text || alert.kind}`;
}

function status(alert) {
  const parts = [];
  if (alert.state === "resolved") {
    const at = alert.resolved_at ? new Date(alert.resolved_at).toLocaleTimeString() : "";
    parts.push(`resolved ${at}`.trim() + (alert.resolution ? `: ${alert.resolution}` : ""));
  }
  if (alert.acknowledged_by) parts.push(`acknowledged by ${alert.acknowledged_by}`);
  return parts.length ? el("span", { class: "alert-status" }, ` — ${parts.join("; ")}`) : null;
}

function ackButton(container, alerts, alert) {
  // Console-made notes (ui-…), acknowledged alerts and ended ones nobody must confirm: nothing to do.
  if (alert.acknowledged_by || String(alert.id || "").startsWith("ui-") || alert.state === undefined) return null;
  if (alert.state === "resolved" && !alert.needs_ack) return null;
  // Roles that may not acknowledge (analysts) are not offered the button (/me's "may").
  const me = window.dfrConsole && window.dfrConsole.state ? window.dfrConsole.state.me : null;
  if (me && me.may && me.may.ack_alert === false) return null;
  const button = el("button", { type: "button", class: "alert-ack", "data-alert-ack": alert.id }, "Acknowledge");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const updated = await api("POST", `/alerts/${encodeURIComponent(alert.id)}/ack`);
      mergeAlert(alerts, updated);
      renderAlerts(container, alerts);
    } catch (error) {
      button.disabled = false;
      button.title = error.message;
      button.textContent = "Acknowledge (failed, retry)";
    }
  });
  return button;
}

// Draw the list: alerts awaiting acknowledgement first, then the rest, newest first within each.
export function renderAlerts(container, alerts) {
  const ordered = [...alerts.filter(awaitingAck), ...alerts.filter((a) => !awaitingAck(a))];
  container.replaceChildren(...ordered.slice(0, 50).map((alert) =>
    el("li", {
      "data-alert-id": alert.id,
      "data-severity": alert.severity || "info",
      "data-kind": alert.kind || "",
      "data-state": alert.state || "active",
      "data-needs-ack": awaitingAck(alert),
    }, describe(alert), status(alert), ackButton(container, alerts, alert))));
}
